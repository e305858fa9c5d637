//! `mojaloop certs`: a local CA and the certificates of the hub and the simulated DFSPs, as
//! PEM files, for mutual TLS in tests and local runs (`mojaloop up --tls-dir DIR`). Not for
//! production: a scheme issues its participants' certificates itself.
//!
//! What is written (the layout of `service_kit::pki::Layout`): `ca.pem`, and for the hub and
//! each DFSP a server certificate (`<name>-server.pem`, `<name>-server-key.pem`; DNS names
//! `<name>` and `localhost`, IP address `127.0.0.1`) and a client certificate
//! (`<name>-client.pem`, `<name>-client-key.pem`; DNS name `<name>`). A certificate's identity,
//! which the switch ties to `FSPIOP-Source`, is its first DNS name: the participant's name.
//! The CA's private key is not kept: run the command again for new certificates (it replaces
//! every file).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use service_kit::pki::{Authority, Layout, Leaf, Usage};

use crate::tools::Verdict;

#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Directory for the PEM files (created when missing; files of an earlier run are
    /// replaced).
    #[arg(long)]
    out: PathBuf,
    /// Simulated DFSPs to make certificates for: perffsp-1 … perffsp-N.
    #[arg(long, default_value_t = dfsp_sim::layout::DFSPS_DEFAULT)]
    dfsps: usize,
    /// The hub's participant name: its certificates' identity.
    #[arg(long, default_value = HUB)]
    hub_name: String,
}

/// Names the local server certificates carry besides the participant's own.
const LOCAL_NAMES: &[&str] = &["localhost", "127.0.0.1"];
/// Subject CN of the local CA.
const CA_NAME: &str = "Mojaloop local CA (mojaloop certs; not for production)";
/// Timeout of the hub's admin client (`mojaloop up --tls-dir`).
const ADMIN_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// The hub's participant name, whose certificates the operator commands present.
pub const HUB: &str = "Hub";

pub fn certs(args: CertsArgs) -> Result<Verdict> {
    dfsp_sim::layout::check_count(args.dfsps).map_err(anyhow::Error::msg)?;
    let names = dfsp_names(args.dfsps);
    let written = write_scheme(&args.out, &args.hub_name, &names)?;
    println!("Local CA and certificates in {}", args.out.display());
    for (path, what) in &written {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default();
        println!("  {file:<28} {what}");
    }
    println!(
        "{} files. Run the switch with them: mojaloop up --dfsps {} --tls-dir {}",
        written.len(),
        args.dfsps,
        args.out.display()
    );
    Ok(Verdict::Positive)
}

/// `perffsp-1` … `perffsp-{count}` and the FX layout's DFSPs.
fn dfsp_names(count: usize) -> Vec<String> {
    (1..=count)
        .map(dfsp_sim::layout::name)
        .chain(dfsp_sim::layout::fx_names())
        .collect()
}

/// Writes a new CA and the hub's and `dfsps`' certificates to `dir`: each file and what it
/// is. Private keys are readable by their owner only.
pub fn write_scheme(dir: &Path, hub: &str, dfsps: &[String]) -> Result<Vec<(PathBuf, String)>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let layout = Layout::new(dir);
    let ca = Authority::new(CA_NAME)?;
    let mut written = Vec::new();
    write(&layout.ca(), ca.cert_pem(), false)?;
    written.push((layout.ca(), "CA certificate (ca_path)".to_string()));
    for name in std::iter::once(hub).chain(dfsps.iter().map(String::as_str)) {
        for usage in [Usage::Server, Usage::Client] {
            let alt_names = match usage {
                Usage::Server => LOCAL_NAMES,
                Usage::Client => &[],
            };
            let issued = ca.issue(&Leaf {
                name,
                alt_names,
                usage,
            })?;
            let (cert, key) = layout.pair(name, usage);
            write(&cert, &issued.cert_pem, false)?;
            write(&key, &issued.key_pem, true)?;
            let (kind, names) = match usage {
                Usage::Server => ("server", format!("{name}, localhost, 127.0.0.1")),
                Usage::Client => ("client", format!("identity {name}")),
            };
            written.push((cert, format!("{name} {kind} certificate ({names})")));
            written.push((key, format!("{name} {kind} key")));
        }
    }
    Ok(written)
}

fn write(path: &Path, text: &str, private: bool) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

/// Mutual TLS for `mojaloop up --tls-dir`: the services' `[tls]`, the hub's admin client and
/// the simulator's certificates.
pub struct SwitchTls {
    /// Every service's `[tls]`: the hub's server and client certificates.
    pub services: service_kit::tls::TlsConfig,
    /// Presents the hub's client certificate (health checks, onboarding).
    pub client: reqwest::Client,
    /// The simulated DFSPs' certificates.
    pub sim: dfsp_sim::SimTls,
    /// Whether the FX layout's DFSPs have certificates (and so run).
    pub fx: bool,
}

/// The switch's TLS from `dir`, writing a new scheme there first when it has no `ca.pem`
/// (for the hub and at least the guide's 8 DFSPs).
pub fn switch_tls(dir: &Path, dfsps: usize, hub: &str) -> Result<SwitchTls> {
    let layout = Layout::new(dir);
    if !layout.ca().exists() {
        let count = dfsps.max(dfsp_sim::layout::DFSPS_DEFAULT);
        write_scheme(dir, hub, &dfsp_names(count))?;
        tracing::info!(dir = %dir.display(), dfsps = count, "certificates written");
    }
    let services = layout.hub_tls(hub);
    let client = https_client(&services, ADMIN_REQUEST_TIMEOUT_MS)?;
    // A scheme written before the FX layout has no certificates for its DFSPs: the switch then
    // runs without them.
    let fx = dfsp_sim::layout::fx_names()
        .iter()
        .all(|name| layout.pair(name, Usage::Client).0.exists());
    let names: Vec<String> = (1..=dfsps)
        .map(dfsp_sim::layout::name)
        .chain(if fx {
            dfsp_sim::layout::fx_names()
        } else {
            Vec::new()
        })
        .collect();
    Ok(SwitchTls {
        services,
        client,
        sim: dfsp_sim::SimTls::from_layout(&layout, &names, hub),
        fx,
    })
}

/// An HTTP client with `timeout_ms` on every call, presenting the client certificate of `tls`
/// and trusting only its CA (plain HTTP when TLS is off).
pub fn https_client(tls: &service_kit::tls::TlsConfig, timeout_ms: u64) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_millis(timeout_ms));
    if let Some(config) = tls.client()? {
        builder = builder.use_preconfigured_tls((*config).clone());
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    #[test]
    fn writes_the_layout_and_keys_stay_private() {
        let dir = std::env::temp_dir().join(format!("certs-{}", uuid_like()));
        let written = write_scheme(&dir, "Hub", &dfsp_names(2)).unwrap();
        // ca.pem, then 4 files for each of Hub, perffsp-1, perffsp-2 and the FX layout's
        // perffsp-fxp and perffsp-eur.
        assert_eq!(written.len(), 21);
        let layout = Layout::new(&dir);
        for name in [
            "Hub",
            "perffsp-1",
            "perffsp-2",
            "perffsp-fxp",
            "perffsp-eur",
        ] {
            for usage in [Usage::Server, Usage::Client] {
                let (cert, key) = layout.pair(name, usage);
                let der = service_kit::tls::read_certificates(&cert).unwrap();
                assert_eq!(
                    service_kit::tls::peer_identity(&der[0]).as_deref(),
                    Some(name)
                );
                assert!(service_kit::tls::read_private_key(&key).is_ok());
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt as _;
                    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
                    assert_eq!(mode & 0o077, 0, "{}", key.display());
                }
            }
        }
        let tls = switch_tls(&dir, 2, "Hub").unwrap();
        assert!(tls.services.enabled);
        assert!(tls.services.server().unwrap().is_some());
        // perffsp-1, perffsp-2 and the FX layout's two DFSPs.
        assert!(tls.fx);
        assert_eq!(tls.sim.clients.len(), 4);
        // A scheme written before the FX layout: the switch runs without it.
        for name in dfsp_sim::layout::fx_names() {
            let (cert, _) = layout.pair(&name, Usage::Client);
            std::fs::remove_file(cert).unwrap();
        }
        let tls = switch_tls(&dir, 2, "Hub").unwrap();
        assert!(!tls.fx);
        assert_eq!(tls.sim.clients.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn uuid_like() -> String {
        format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        )
    }
}
