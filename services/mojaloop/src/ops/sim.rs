//! The simulated DFSPs next to a running switch (`mojaloop sim`).

use super::*;

#[derive(Debug, Args)]
pub struct SimArgs {
    #[command(flatten)]
    layout: Layout,
    /// Address to listen on.
    #[arg(long, env = "MOJALOOP_SIM_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; DFSP perffsp-N is served under `/perffsp-N`.
    #[arg(long, env = "MOJALOOP_SIM_PORT", default_value_t = 4100)]
    port: u16,
    /// Also provision the DFSPs on the switch, with callbacks to `--callback-url`.
    #[arg(long)]
    provision: bool,
    /// The simulator's URL as the switch reaches it (default: from --host and --port).
    #[arg(long, env = "MOJALOOP_SIM_CALLBACK_URL")]
    callback_url: Option<String>,
    /// JWS: sign every request with the DFSP's key and refuse (3105) received requests whose
    /// signature does not verify. Keys as `mojaloop jws keygen --out DIR` writes them.
    #[arg(long, env = "MOJALOOP_JWS_DIR")]
    jws_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    switch: Switch,
}

/// `mojaloop sim`: the simulated DFSPs on their own, until Ctrl-C.
pub fn sim(args: SimArgs) -> Result<Verdict> {
    layout::check_count(args.layout.dfsps).map_err(anyhow::Error::msg)?;
    service_kit::telemetry::init("info");
    let args = SimArgs {
        switch: args.switch.secured(),
        ..args
    };
    runtime()?.block_on(async move {
        let address = format!("{}:{}", args.host, args.port);
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .with_context(|| format!("binding {address}"))?;
        // The FX layout (an FXP and an EUR payee) runs beside them when its keys and
        // certificates are there (or none are needed).
        let fx_names = layout::fx_names();
        let fx = fx_names.iter().all(|name| {
            let key = args
                .jws_dir
                .as_ref()
                .is_none_or(|dir| dir.join("private").join(format!("{name}.pem")).exists());
            let cert = args
                .switch
                .tls()
                .is_none_or(|files| files.pair(name, service_kit::pki::Usage::Client).0.exists());
            key && cert
        });
        let mut dfsps = layout::specs(args.layout.dfsps);
        if fx {
            dfsps.extend(layout::fx_specs());
        }
        let config = dfsp_sim::SimConfig {
            dfsps,
            switch: dfsp_sim::SwitchUrls {
                als: args.switch.als_url.clone(),
                quotes: args.switch.quoting_service_url.clone(),
                transfers: args.switch.ml_api_adapter_url.clone(),
                transaction_requests: args.switch.transaction_requests_url.clone(),
            },
            request_timeout_ms: args.switch.request_timeout_ms,
            callback_timeout_ms: args.switch.request_timeout_ms,
            jws: args
                .jws_dir
                .clone()
                .map(|keys_directory| dfsp_sim::SimJws { keys_directory }),
            tls: args.switch.tls().map(|files| {
                let names: Vec<String> = (1..=args.layout.dfsps)
                    .map(layout::name)
                    .chain(if fx { fx_names.clone() } else { Vec::new() })
                    .collect();
                dfsp_sim::SimTls::from_layout(&files, &names, crate::certs::HUB)
            }),
        };
        let simulator = dfsp_sim::Simulator::start(config, listener)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let local = if args.host == "0.0.0.0" {
            "127.0.0.1"
        } else {
            &args.host
        };
        let callbacks = args
            .callback_url
            .clone()
            .unwrap_or_else(|| format!("http://{local}:{}", args.port));
        let callbacks = args.switch.url(&callbacks);
        tracing::info!(
            dfsps = args.layout.dfsps,
            url = simulator.base_url(),
            "simulated DFSPs perffsp-1 … perffsp-{} are answering",
            args.layout.dfsps
        );
        if args.provision {
            let oracle = &args.switch.oracle_url;
            let client = args.switch.client(args.switch.request_timeout_ms)?;
            match register_oracle(&client, &args.switch.als_admin_url, oracle, 300).await? {
                OracleRegistration::Registered => {
                    tracing::info!(%oracle, "MSISDN oracle registered with the ALS")
                }
                OracleRegistration::Present(endpoint) => {
                    tracing::info!(%endpoint, "the ALS has an MSISDN oracle")
                }
                OracleRegistration::Moved { from } => {
                    tracing::info!(%from, to = %oracle, "MSISDN oracle moved to the deployment's scheme")
                }
            }
            let urls = dfsp_sim::provision::AdminUrls {
                ledger: args.switch.central_ledger_url.clone(),
                oracle: args.switch.oracle_url.clone(),
            };
            let mut plans = layout::plans(args.layout.dfsps);
            if fx {
                plans.extend(layout::fx_plans());
            }
            dfsp_sim::provision::provision_with(client, &urls, &callbacks, &plans)
                .await
                .context("provisioning")?;
            tracing::info!(callbacks = %callbacks, "DFSPs provisioned");
        }
        service_kit::shutdown::shutdown_signal().await;
        drop(simulator);
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(Verdict::Positive)
}
