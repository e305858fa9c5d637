//! The protocol tools: JSON on stdin, JSON (or one word) on stdout, errors on stderr; exit 0
//! on success, 1 on a negative verdict, 2 when the tool cannot run.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use fspiop::ilp::{self, Ilp, IlpVersion, Packet};
use fspiop::jws::{self, Algorithm, SigningKey, VerifyOptions, VerifyingKey};
use fspiop::{canonical, datetime, ErrorCode, FspiopError};
use serde_json::{json, Map, Value};

/// Largest stdin document the tools read.
const STDIN_LEN_MAX: u64 = 16 * 1024 * 1024;

pub enum Verdict {
    Positive,
    Negative,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlgArg {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum IlpVersionArg {
    V4,
    V1,
}

impl From<IlpVersionArg> for IlpVersion {
    fn from(value: IlpVersionArg) -> Self {
        match value {
            IlpVersionArg::V4 => IlpVersion::V4,
            IlpVersionArg::V1 => IlpVersion::V1,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum JwsCommand {
    /// Sign a request. Reads {"method","url","headers":{...},"body":<JSON>}; writes it back
    /// with fspiop-signature, fspiop-uri and fspiop-http-method added to headers and body
    /// replaced by the exact text that was signed and must be sent.
    Sign {
        /// PEM private key: RSA (PKCS#1 or PKCS#8) or EC P-256 (SEC1 or PKCS#8).
        #[arg(long)]
        key: PathBuf,
        /// Algorithm; by default RS256 for an RSA key and ES256 for an EC key.
        #[arg(long, value_enum)]
        alg: Option<AlgArg>,
    },
    /// Verify a received request. Reads {"method","path","headers":{...},"body":"<exact body
    /// text>"}; prints `valid` (exit 0) or the FSPIOP errorInformation (exit 1).
    Verify {
        /// Directory holding one SPKI PEM public key per participant, named `<fspId>.pem`.
        #[arg(long)]
        keys: PathBuf,
        /// Do not compare the signed FSPIOP-URI and FSPIOP-HTTP-Method with the request's
        /// own path and method (the reference SDK compares them with headers only).
        #[arg(long)]
        no_request_line_check: bool,
    },
    /// Make key pairs for the hub and the simulated DFSPs perffsp-1 … perffsp-N: the public
    /// keys as OUT/<name>.pem (the services' jws.keys_directory) and the private keys as
    /// OUT/private/<name>.pem (the hub's is jws.signing_key_path). Existing keys are kept.
    Keygen {
        /// The directory to write to (created when missing).
        #[arg(long)]
        out: PathBuf,
        /// Simulated DFSPs to make keys for.
        #[arg(long, default_value_t = 8)]
        dfsps: usize,
        /// The hub's participant name.
        #[arg(long, default_value = "Hub")]
        hub_name: String,
        /// More participants, comma separated (the FX layout's DFSPs, perffsp-fxp and
        /// perffsp-eur, always get keys, as `mojaloop certs` gives them certificates).
        #[arg(long, value_delimiter = ',')]
        names: Vec<String>,
        /// ES256 (P-256, fast to sign) or RS256 (2048-bit RSA).
        #[arg(long, value_enum, default_value = "ES256")]
        alg: AlgArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum IlpCommand {
    /// Make the payee's ILP packet, condition and fulfilment. Reads {"quoteRequest","quoteResponse"}
    /// (the POST /quotes body and the payee's PUT /quotes body without ILP fields) or
    /// {"transactionObject"}.
    Prepare {
        /// The payee's local secret.
        #[arg(long, allow_hyphen_values = true)]
        secret: String,
        #[arg(long, value_enum, default_value = "v4")]
        ilp_version: IlpVersionArg,
    },
    /// Decode an ilpPacket (base64url) read from stdin, in the version its first byte names
    /// (or only the one given).
    Decode {
        #[arg(long, value_enum)]
        ilp_version: Option<IlpVersionArg>,
    },
    /// Print the fulfilment the payee with SECRET derives for PACKET (the packet's own
    /// version, or the one given).
    Fulfil {
        #[arg(long, allow_hyphen_values = true)]
        secret: String,
        #[arg(long, allow_hyphen_values = true)]
        packet: String,
        #[arg(long, value_enum)]
        ilp_version: Option<IlpVersionArg>,
    },
    /// Check that SHA-256(fulfilment) is the condition: prints `valid` (exit 0) or the
    /// errorInformation the ledger would send (exit 1).
    Check {
        /// Base64url: one value in 64 starts with `-`, which is taken as the value.
        #[arg(long, allow_hyphen_values = true)]
        fulfilment: String,
        #[arg(long, allow_hyphen_values = true)]
        condition: String,
    },
}

/// The versions a packet may be in: the one asked for, else both.
fn versions(asked: Option<IlpVersionArg>) -> ilp::IlpVersions {
    asked.map_or(ilp::IlpVersions::BOTH, |v| ilp::IlpVersions::only(v.into()))
}

fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .take(STDIN_LEN_MAX)
        .read_to_string(&mut text)
        .context("reading stdin")?;
    Ok(text)
}

fn read_json_stdin() -> Result<Map<String, Value>> {
    let text = read_stdin()?;
    match serde_json::from_str(&text).context("stdin is not JSON")? {
        Value::Object(map) => Ok(map),
        _ => bail!("stdin must be a JSON object"),
    }
}

fn print(value: &Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn print_line(text: &str) -> Result<()> {
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

fn string_field<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    map.get(name)
        .and_then(Value::as_str)
        .with_context(|| format!("input needs a string \"{name}\""))
}

fn headers_field(map: &Map<String, Value>) -> Result<BTreeMap<String, String>> {
    let Some(Value::Object(headers)) = map.get("headers") else {
        bail!("input needs an object \"headers\"");
    };
    headers
        .iter()
        .map(|(name, value)| match value {
            Value::String(text) => Ok((name.to_ascii_lowercase(), text.clone())),
            _ => bail!("header {name} must be a string"),
        })
        .collect()
}

pub fn run_jws(command: JwsCommand) -> Result<Verdict> {
    match command {
        JwsCommand::Sign { key, alg } => {
            let pem = std::fs::read(&key).with_context(|| format!("reading {}", key.display()))?;
            let alg = alg.map(|a| match a {
                AlgArg::Rs256 => Algorithm::RS256,
                AlgArg::Es256 => Algorithm::ES256,
            });
            let key = SigningKey::from_pem(&pem, alg)
                .with_context(|| format!("loading {}", key.display()))?;
            let mut request = read_json_stdin()?;
            let method = string_field(&request, "method")?.to_string();
            let url = string_field(&request, "url")?.to_string();
            let headers = headers_field(&request)?;
            let body = match request.get("body") {
                Some(Value::String(text)) => text.clone(),
                Some(value) => canonical::to_string(value),
                None => {
                    bail!("cannot sign without a body (GET and DELETE requests are not signed)")
                }
            };
            let signed = jws::sign(&key, &method, &url, &headers, body.as_bytes())?;
            if let Some(Value::Object(out_headers)) = request.get_mut("headers") {
                out_headers.insert(
                    "fspiop-signature".into(),
                    Value::String(signed.signature_header),
                );
                out_headers.insert("fspiop-uri".into(), Value::String(signed.fspiop_uri));
                out_headers.insert(
                    "fspiop-http-method".into(),
                    Value::String(signed.fspiop_http_method),
                );
            }
            request.insert("body".into(), Value::String(body));
            print(&Value::Object(request))?;
            Ok(Verdict::Positive)
        }
        JwsCommand::Keygen {
            out,
            dfsps,
            hub_name,
            names,
            alg,
        } => {
            let alg = match alg {
                AlgArg::Rs256 => Algorithm::RS256,
                AlgArg::Es256 => Algorithm::ES256,
            };
            let mut names = names;
            for fx in dfsp_sim::layout::fx_names() {
                if !names.contains(&fx) {
                    names.push(fx);
                }
            }
            keygen(&out, dfsps, &hub_name, &names, alg, true)?;
            Ok(Verdict::Positive)
        }
        JwsCommand::Verify {
            keys,
            no_request_line_check,
        } => {
            let keys = load_public_keys(&keys)?;
            let request = read_json_stdin()?;
            let method = string_field(&request, "method")?;
            let path = string_field(&request, "path")?;
            let headers = headers_field(&request)?;
            let body = match request.get("body") {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Null) | None => String::new(),
                Some(_) => bail!("\"body\" must be the exact body text received, as a string"),
            };
            let options = VerifyOptions {
                accept_canonical_body: true,
                check_request_line: !no_request_line_check,
            };
            match jws::verify(&keys, method, path, &headers, body.as_bytes(), options) {
                Ok(()) => {
                    print_line("valid")?;
                    Ok(Verdict::Positive)
                }
                Err(error) => {
                    print(&serde_json::to_value(error.to_body())?)?;
                    Ok(Verdict::Negative)
                }
            }
        }
    }
}

/// Makes key pairs for the hub, perffsp-1 … perffsp-`dfsps` and `names` in `out` (public
/// `<name>.pem`, private `private/<name>.pem`), keeping those that exist.
pub fn keygen(
    out: &Path,
    dfsps: usize,
    hub_name: &str,
    names: &[String],
    alg: Algorithm,
    verbose: bool,
) -> Result<()> {
    let private_dir = out.join("private");
    std::fs::create_dir_all(&private_dir)
        .with_context(|| format!("creating {}", private_dir.display()))?;
    let mut all = vec![hub_name.to_string()];
    all.extend((1..=dfsps).map(|i| format!("perffsp-{i}")));
    all.extend(names.iter().cloned());
    for name in all {
        anyhow::ensure!(
            !name.is_empty() && !name.contains(['/', '\\']) && name != "private",
            "{name:?} cannot be a file name"
        );
        let public_path = out.join(format!("{name}.pem"));
        let private_path = private_dir.join(format!("{name}.pem"));
        match (public_path.exists(), private_path.exists()) {
            (true, true) => {
                if verbose {
                    println!("kept {} (exists)", public_path.display());
                }
                continue;
            }
            // A DFSP gives the hub its public key only; it is never replaced.
            (true, false) if name != hub_name => {
                if verbose {
                    println!(
                        "kept {} (a public key without a private key here: the DFSP signs its own requests)",
                        public_path.display()
                    );
                }
                continue;
            }
            (true, false) => anyhow::bail!(
                "{} exists without {}: the hub cannot sign with it; restore the private key, or remove both to make a new pair (DFSPs must then be given the new public key)",
                public_path.display(),
                private_path.display()
            ),
            (false, true) => anyhow::bail!(
                "{} exists without {}: restore the public key, or remove both to make a new pair",
                private_path.display(),
                public_path.display()
            ),
            (false, false) => {}
        }
        let (private, public) = jws::generate_key_pair(alg)?;
        write_private(&private_path, &private)?;
        std::fs::write(&public_path, &public)
            .with_context(|| format!("writing {}", public_path.display()))?;
        if verbose {
            println!(
                "{} key pair for {name}: {} (public), {} (private)",
                alg.name(),
                public_path.display(),
                private_path.display()
            );
        }
    }
    Ok(())
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, pem: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(pem)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Loads `<fspId>.pem` public keys from `dir`.
fn load_public_keys(dir: &Path) -> Result<BTreeMap<String, VerifyingKey>> {
    let mut keys = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pem") {
            continue;
        }
        let Some(fsp_id) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let pem = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let key =
            VerifyingKey::from_pem(&pem).with_context(|| format!("loading {}", path.display()))?;
        keys.insert(fsp_id.to_string(), key);
    }
    Ok(keys)
}

pub fn run_ilp(command: IlpCommand) -> Result<Verdict> {
    match command {
        IlpCommand::Prepare {
            secret,
            ilp_version,
        } => {
            let input = read_json_stdin()?;
            let engine = Ilp::new(ilp_version.into(), &secret);
            let terms = match (
                input.get("transactionObject"),
                input.get("quoteRequest"),
                input.get("quoteResponse"),
            ) {
                (Some(tx), _, _) => engine.terms_for_transaction(tx.clone())?,
                (None, Some(request), Some(response)) => {
                    engine.quote_response_terms(request, response)?
                }
                _ => bail!(
                    "input needs \"quoteRequest\" and \"quoteResponse\", or \"transactionObject\""
                ),
            };
            print(&json!({
                "ilpPacket": terms.ilp_packet,
                "condition": terms.condition,
                "fulfilment": terms.fulfilment,
                "transactionObject": terms.transaction_object,
            }))?;
            Ok(Verdict::Positive)
        }
        IlpCommand::Decode { ilp_version } => {
            let text = read_stdin()?;
            let text = text.trim();
            // Accept the packet bare or as a JSON string.
            let packet_text = match serde_json::from_str::<Value>(text) {
                Ok(Value::String(inner)) => inner,
                _ => text.to_string(),
            };
            let packet = ilp::decode_packet_of(&packet_text, versions(ilp_version))?;
            print(&decoded(&packet))?;
            Ok(Verdict::Positive)
        }
        IlpCommand::Fulfil {
            secret,
            packet,
            ilp_version,
        } => {
            let version = match ilp_version {
                Some(version) => version.into(),
                None => ilp::decode_packet_of(&packet, versions(None))?.version(),
            };
            let fulfilment = Ilp::new(version, &secret).fulfilment_for_packet(&packet)?;
            print_line(&fulfilment)?;
            Ok(Verdict::Positive)
        }
        IlpCommand::Check {
            fulfilment,
            condition,
        } => {
            if ilp::fulfilment_matches(&fulfilment, &condition) {
                print_line("valid")?;
                Ok(Verdict::Positive)
            } else {
                let error = FspiopError::with_detail(
                    ErrorCode::GenericValidationError,
                    "invalid fulfilment",
                );
                print(&serde_json::to_value(error.to_body())?)?;
                Ok(Verdict::Negative)
            }
        }
    }
}

fn decoded(packet: &Packet) -> Value {
    use base64::Engine as _;
    let transaction_object = packet.transaction_object().unwrap_or(Value::Null);
    let data = String::from_utf8_lossy(packet.data()).into_owned();
    match packet {
        Packet::V4(p) => json!({
            "amount": p.amount.to_string(),
            "expiresAt": datetime::format_date_time(p.expires_at_ms),
            "executionCondition": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(p.execution_condition),
            "destination": p.destination,
            "data": data,
            "transactionObject": transaction_object,
        }),
        Packet::V1(p) => json!({
            "amount": p.amount.to_string(),
            "account": p.account,
            "data": data,
            "transactionObject": transaction_object,
        }),
    }
}
