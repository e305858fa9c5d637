//! A local certificate authority for tests and local runs (`mojaloop certs`): a self-signed
//! CA and the certificates it issues, as PEM text, with rcgen (ECDSA P-256, ring).
//!
//! A certificate's identity ([`crate::tls::peer_identity`]) is its first DNS name, which
//! [`Authority::issue`] makes the [`Leaf::name`]; the subject CN is the same name. Server
//! certificates carry the serverAuth extended key usage, client certificates clientAuth (what
//! rustls's verifiers require). Not for production: a scheme's CA is its own business.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// How long an issued certificate is valid from now.
pub const LEAF_VALIDITY_DAYS: u64 = 825;
/// How long the CA is valid from now.
pub const CA_VALIDITY_DAYS: u64 = 3650;
/// Validity starts this long before now, for clocks a little behind.
const BACKDATE_S: u64 = 24 * 3600;

/// A certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[error("certificate for {name}: {message}")]
pub struct PkiError {
    pub name: String,
    pub message: String,
}

fn error(name: &str, error: impl std::fmt::Display) -> PkiError {
    PkiError {
        name: name.to_string(),
        message: error.to_string(),
    }
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A listener's certificate (serverAuth).
    Server,
    /// A certificate presented by a client (clientAuth).
    Client,
}

/// A certificate to issue.
#[derive(Debug, Clone)]
pub struct Leaf<'a> {
    /// The identity: subject CN and first DNS name (a participant name, e.g. `perffsp-1`).
    pub name: &'a str,
    /// Further subject alternative names: DNS names or IP addresses (`localhost`, `127.0.0.1`).
    pub alt_names: &'a [&'a str],
    pub usage: Usage,
}

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A self-signed CA that issues certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").finish_non_exhaustive()
    }
}

fn validity(params: &mut CertificateParams, days: u64) {
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + Duration::from_secs(now_s.saturating_sub(BACKDATE_S));
    params.not_after = epoch + Duration::from_secs(now_s.saturating_add(days * 24 * 3600));
}

impl Authority {
    /// A new CA with a fresh key, subject CN `common_name`.
    pub fn new(common_name: &str) -> Result<Authority, PkiError> {
        let key = KeyPair::generate().map_err(|e| error(common_name, e))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params, CA_VALIDITY_DAYS);
        let cert = params
            .self_signed(&key)
            .map_err(|e| error(common_name, e))?;
        Ok(Authority {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate (what `ca_path` points at).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a certificate for `leaf` with a fresh key.
    pub fn issue(&self, leaf: &Leaf<'_>) -> Result<Issued, PkiError> {
        let names: Vec<String> = std::iter::once(leaf.name)
            .chain(leaf.alt_names.iter().copied())
            .map(str::to_string)
            .collect();
        let mut params = CertificateParams::new(names).map_err(|e| error(leaf.name, e))?;
        if !matches!(params.subject_alt_names.first(), Some(SanType::DnsName(_))) {
            return Err(error(leaf.name, "the identity must be a DNS name"));
        }
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, leaf.name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![match leaf.usage {
            Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, LEAF_VALIDITY_DAYS);
        let key = KeyPair::generate().map_err(|e| error(leaf.name, e))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| error(leaf.name, e))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Where a scheme's files sit in a directory, as `mojaloop certs --out DIR` writes them and
/// `mojaloop up --tls-dir DIR` reads them: `ca.pem`, and for each participant (the hub and
/// every DFSP) `<name>-server.pem`, `<name>-server-key.pem`, `<name>-client.pem` and
/// `<name>-client-key.pem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub fn new(dir: impl Into<PathBuf>) -> Layout {
        Layout { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `name`'s certificate and key for `usage`.
    pub fn pair(&self, name: &str, usage: Usage) -> (PathBuf, PathBuf) {
        let kind = match usage {
            Usage::Server => "server",
            Usage::Client => "client",
        };
        (
            self.dir.join(format!("{name}-{kind}.pem")),
            self.dir.join(format!("{name}-{kind}-key.pem")),
        )
    }

    /// The `[tls]` settings of a service run by the hub `hub`: TLS on, the hub's server
    /// certificate on the listener, its client certificate on outbound calls, the hub trusted
    /// to relay for any participant; the default handshake and drain bounds.
    pub fn hub_tls(&self, hub: &str) -> crate::tls::TlsConfig {
        let path = |p: PathBuf| p.display().to_string();
        let (cert, key) = self.pair(hub, Usage::Server);
        let (client_cert, client_key) = self.pair(hub, Usage::Client);
        crate::tls::TlsConfig {
            enabled: true,
            cert_path: path(cert),
            key_path: path(key),
            ca_path: path(self.ca()),
            client_cert_path: path(client_cert),
            client_key_path: path(client_key),
            handshake_timeout_ms: crate::tls::HANDSHAKE_TIMEOUT_MS_DEFAULT,
            drain_timeout_ms: crate::tls::DRAIN_TIMEOUT_MS_DEFAULT,
            trusted_identities: vec![hub.to_string()],
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    #[test]
    fn issued_certificates_carry_the_identity() {
        let ca = Authority::new("Test CA").unwrap();
        let issued = ca
            .issue(&Leaf {
                name: "perffsp-1",
                alt_names: &["localhost", "127.0.0.1"],
                usage: Usage::Server,
            })
            .unwrap();
        let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        assert_eq!(
            crate::tls::peer_identity(&der).as_deref(),
            Some("perffsp-1")
        );
        assert!(issued.key_pem.contains("PRIVATE KEY"));
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(ca
            .issue(&Leaf {
                name: "127.0.0.1",
                alt_names: &[],
                usage: Usage::Client,
            })
            .is_err());
    }
}
