//! Every service's `/health` (`mojaloop health`).

use super::*;

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The health URL to ask, e.g. http://127.0.0.1:3001/health.
    url: String,
    /// Longest wait for the answer, in milliseconds.
    #[arg(long, default_value_t = 3_000)]
    timeout_ms: u64,
}

/// `mojaloop health URL`: exit 0 when the URL answers 2xx (for container health checks, so
/// images need no curl).
pub fn health(args: HealthArgs) -> Result<Verdict> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let http = Http::new(args.timeout_ms)?;
        match http.get(&args.url).await {
            Ok((status, body)) if (200..300).contains(&status) => {
                println!("{status} {body}");
                Ok(Verdict::Positive)
            }
            Ok((status, body)) => {
                println!("{status} {body}");
                Ok(Verdict::Negative)
            }
            Err(error) => {
                println!("{error:#}");
                Ok(Verdict::Negative)
            }
        }
    })
}
