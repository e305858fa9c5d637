//! The simulator against the real switch in one process: central ledger (all handlers), ML API
//! Adapter, Quoting Service, Account Lookup Service and the MSISDN oracle, over the MySQL at
//! `DATABASE_URL` and the Kafka at `KAFKA_BROKERS`. Two simulated DFSPs are provisioned through
//! the admin APIs; one payment goes through lookup → quote → transfer and commits, one to an
//! MSISDN no oracle knows and one to an MSISDN the payee does not own both stop with 3204.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::time::{Duration, Instant};

use dfsp_sim::{DfspSpec, Phase, SimConfig, Simulator, SwitchUrls};
use serde_json::{json, Value};
use test_support::{database_server_url, kafka_brokers};

async fn listen() -> (tokio::net::TcpListener, String) {
    let (listener, base) = test_support::listener().await;
    (listener, base)
}

fn stopper(
    stops: &mut Vec<tokio::sync::oneshot::Sender<()>>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    stops.push(tx);
    async move {
        let _ = rx.await;
    }
}

struct Switch {
    ledger: String,
    transfers: String,
    quotes: String,
    als: String,
    als_admin: String,
    oracle: String,
    pool: sqlx::MySqlPool,
    databases: Vec<String>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    client: reqwest::Client,
}

async fn start_switch() -> Switch {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let server = database_server_url();
    let (ledger_db, quotes_db, als_db, oracle_db) = (
        format!("t_sim_cl_{id}"),
        format!("t_sim_q_{id}"),
        format!("t_sim_als_{id}"),
        format!("t_sim_orc_{id}"),
    );
    let prefix = format!("s{}-", &id[..12]);
    let mut stops = Vec::new();

    let mut ledger_config = central_ledger::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    ledger_config.database.url = server.clone();
    ledger_config.database.name = ledger_db.clone();
    ledger_config.kafka.brokers = kafka_brokers();
    ledger_config.kafka.topic_prefix = prefix.clone();
    ledger_config.kafka.topic_partitions = 2;
    let ledger_url = ledger_config
        .database_url()
        .unwrap_or_else(|e| panic!("{e}"));
    let store = central_ledger::connect_store(&ledger_config, true, true)
        .await
        .unwrap_or_else(|e| panic!("MySQL (DATABASE_URL): {e}"));
    let pool = store.pool.clone();
    let (listener, ledger) = listen().await;
    let stop = stopper(&mut stops);
    tokio::spawn(async move {
        if let Err(e) = central_ledger::run(
            ledger_config,
            store,
            central_ledger::Handlers::all(),
            listener,
            stop,
        )
        .await
        {
            panic!("central-ledger (Kafka at KAFKA_BROKERS?): {e}");
        }
    });

    let mut api_config = ml_api_adapter::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    api_config.server.host = "127.0.0.1".into();
    api_config.kafka.brokers = kafka_brokers();
    api_config.kafka.topic_prefix = prefix;
    api_config.kafka.topic_partitions = 2;
    api_config.central_ledger_database.url = server.clone();
    api_config.central_ledger_database.name = ledger_db.clone();
    let (listener, transfers) = listen().await;
    let stop = stopper(&mut stops);
    tokio::spawn(async move {
        if let Err(e) = ml_api_adapter::run(api_config, listener, stop).await {
            panic!("ml-api-adapter: {e}");
        }
    });

    let mut quoting_config = quoting_service::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    quoting_config.central_ledger_database.url = server.clone();
    quoting_config.central_ledger_database.name = ledger_db.clone();
    quoting_config.quotes_database.url = server.clone();
    quoting_config.quotes_database.name = quotes_db.clone();
    let quoting_stores = quoting_service::connect(&quoting_config, true, true)
        .await
        .unwrap_or_else(|e| panic!("quotes database: {e}"));
    let (listener, quotes) = listen().await;
    let stop = stopper(&mut stops);
    tokio::spawn(async move {
        if let Err(e) = quoting_service::run(quoting_config, quoting_stores, listener, stop).await {
            panic!("quoting-service: {e}");
        }
    });

    let mut oracle_config = msisdn_oracle::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    oracle_config.database.url = server.clone();
    oracle_config.database.name = oracle_db.clone();
    let oracle_store = msisdn_oracle::connect_store(&oracle_config, true, true)
        .await
        .unwrap_or_else(|e| panic!("oracle database: {e}"));
    let (listener, oracle) = listen().await;
    let stop = stopper(&mut stops);
    tokio::spawn(async move {
        if let Err(e) = msisdn_oracle::run(oracle_config, oracle_store, listener, stop).await {
            panic!("oracle: {e}");
        }
    });

    let mut als_config =
        account_lookup_service::Config::defaults().unwrap_or_else(|e| panic!("{e}"));
    als_config.database.url = server.clone();
    als_config.database.name = als_db.clone();
    als_config.directory.central_ledger_database_url = ledger_url;
    let als_stores = account_lookup_service::connect(&als_config, true, true)
        .await
        .unwrap_or_else(|e| panic!("ALS database: {e}"));
    let (api_listener, als) = listen().await;
    let (admin_listener, als_admin) = listen().await;
    let stop = stopper(&mut stops);
    tokio::spawn(async move {
        if let Err(e) =
            account_lookup_service::run(als_config, als_stores, api_listener, admin_listener, stop)
                .await
        {
            panic!("account-lookup-service: {e}");
        }
    });

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    for base in [&ledger, &transfers, &quotes, &als, &als_admin, &oracle] {
        while !client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "{base} not healthy within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Switch {
        ledger,
        transfers,
        quotes,
        als,
        als_admin,
        oracle,
        pool,
        databases: vec![ledger_db, quotes_db, als_db, oracle_db],
        stops,
        client,
    }
}

impl Switch {
    async fn admin(&self, path: &str, body: Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.ledger))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.text().await.unwrap_or_default()
        );
    }

    async fn state(&self, transfer_id: &str) -> Option<String> {
        sqlx::query_as::<_, (String,)>("SELECT transferStateId FROM transferStateChange WHERE transferId = ? ORDER BY transferStateChangeId DESC LIMIT 1")
            .bind(transfer_id)
            .fetch_optional(&self.pool)
            .await
            .ok()
            .flatten()
            .map(|(s,)| s)
    }

    async fn position(&self, name: &str) -> String {
        let (value,): (String,) = sqlx::query_as(
            "SELECT CAST(pp.value AS CHAR) FROM participantPosition pp
             JOIN participantCurrency pc ON pc.participantCurrencyId = pp.participantCurrencyId
             JOIN participant p ON p.participantId = pc.participantId
             WHERE p.name = ? AND pc.ledgerAccountTypeId = 1",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        value
    }

    /// A DFSP with its limits, endpoints and, when `funds` is given, that much deposited.
    async fn provision(&self, sim: &Simulator, spec: &DfspSpec, funds: Option<&str>) {
        let name = &spec.name;
        self.admin(
            "/participants",
            json!({"name": name, "currency": spec.currency}),
        )
        .await;
        self.admin(
            &format!("/participants/{name}/initialPositionAndLimits"),
            json!({"currency": spec.currency, "limit": {"type": "NET_DEBIT_CAP", "value": 1_000_000}, "initialPosition": 0}),
        )
        .await;
        for (kind, value) in sim.endpoints(name) {
            self.admin(
                &format!("/participants/{name}/endpoints"),
                json!({"type": kind, "value": value}),
            )
            .await;
        }
        if let Some(amount) = funds {
            let (settlement,): (u32,) = sqlx::query_as(
                "SELECT pc.participantCurrencyId FROM participantCurrency pc JOIN participant p ON p.participantId = pc.participantId WHERE p.name = ? AND pc.ledgerAccountTypeId = 2",
            )
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            let deposit = uuid::Uuid::new_v4().to_string();
            self.admin(
                &format!("/participants/{name}/accounts/{settlement}"),
                json!({"transferId": deposit, "externalReference": "sim", "action": "recordFundsIn", "reason": "deposit", "amount": {"amount": amount, "currency": spec.currency}}),
            )
            .await;
            let deadline = Instant::now() + Duration::from_secs(60);
            while self.state(&deposit).await.as_deref() != Some("COMMITTED") {
                assert!(
                    Instant::now() < deadline,
                    "deposit for {name} not committed"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        for msisdn in &spec.msisdns {
            let response = self
                .client
                .post(format!("{}/participants/MSISDN/{msisdn}", self.oracle))
                .header("fspiop-source", name.as_str())
                .json(&json!({"fspId": name, "currency": spec.currency}))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                response.status().as_u16(),
                201,
                "registering {msisdn}: {}",
                response.text().await.unwrap_or_default()
            );
        }
    }

    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        self.pool.close().await;
        for database in &self.databases {
            let _ = store::drop_database_if_exists(&database_server_url(), database).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_between_simulated_dfsps_commits_and_an_unknown_party_is_3204() {
    service_kit::telemetry::init_for_tests("info,sqlx=warn,rdkafka=warn");
    let switch = start_switch().await;

    let payer = DfspSpec::with_range("simfsp-1", "1901234500", 10, "payer-secret", "USD");
    let payee = DfspSpec::with_range("simfsp-5", "1901234540", 10, "payee-secret", "USD");
    let config = SimConfig {
        dfsps: vec![payer.clone(), payee.clone()],
        switch: SwitchUrls {
            als: switch.als.clone(),
            quotes: switch.quotes.clone(),
            transfers: switch.transfers.clone(),
        },
        request_timeout_ms: 10_000,
        callback_timeout_ms: 30_000,
        jws: None,
        tls: None,
    };
    let (listener, _) = listen().await;
    let sim = Simulator::start(config, listener)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Hub accounts, the settlement model, both DFSPs, the MSISDN oracle and its numbers.
    for account_type in ["HUB_MULTILATERAL_SETTLEMENT", "HUB_RECONCILIATION"] {
        switch
            .admin(
                "/participants/Hub/accounts",
                json!({"currency": "USD", "type": account_type}),
            )
            .await;
    }
    switch
        .admin(
            "/settlementModels",
            json!({"name": "DEFERREDNET", "settlementGranularity": "NET", "settlementInterchange": "MULTILATERAL", "settlementDelay": "DEFERRED",
                   "requireLiquidityCheck": true, "ledgerAccountType": "POSITION", "autoPositionReset": true, "settlementAccountType": "SETTLEMENT"}),
        )
        .await;
    let oracle = json!({"oracleIdType": "MSISDN", "endpoint": {"value": switch.oracle, "endpointType": "URL"}, "isDefault": true});
    let response = switch
        .client
        .post(format!("{}/oracles", switch.als_admin))
        .header(
            "accept",
            "application/vnd.interoperability.participants+json;version=1",
        )
        .header(
            "content-type",
            "application/vnd.interoperability.participants+json;version=1.0",
        )
        .header(
            "date",
            fspiop::datetime::format_http_date(central_ledger::now_ms()),
        )
        .body(oracle.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        response.status().as_u16(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
    switch.provision(&sim, &payer, Some("1000")).await;
    switch.provision(&sim, &payee, None).await;

    // A payment of 100 goes through every phase and commits.
    let report = sim
        .pay("simfsp-1", "19012345403", "100")
        .await
        .unwrap_or_else(|e| panic!("payment failed: {e}"));
    assert_eq!(report.transfer_state, "COMMITTED");
    assert_eq!(report.payee_fsp, "simfsp-5");
    assert_eq!(
        (report.transfer_amount.as_str(), report.currency.as_str()),
        ("100", "USD")
    );
    assert!(
        report.lookup > Duration::ZERO
            && report.quote > Duration::ZERO
            && report.transfer > Duration::ZERO,
        "{report:?}"
    );
    assert_eq!(
        switch.state(&report.transfer_id).await.as_deref(),
        Some("COMMITTED")
    );
    assert_eq!(switch.position("simfsp-1").await, "100.0000");
    assert_eq!(switch.position("simfsp-5").await, "-100.0000");
    eprintln!(
        "payment {}: lookup {:?}, quote {:?}, transfer {:?}, total {:?}",
        report.transfer_id,
        report.lookup,
        report.quote,
        report.transfer,
        report.total()
    );

    // An MSISDN nobody owns: the switch answers 3204 and nothing else happens.
    let error = sim
        .pay("simfsp-1", "19099999999", "5")
        .await
        .err()
        .unwrap_or_else(|| panic!("an unknown MSISDN was paid"));
    assert_eq!(error.fspiop_code(), Some("3204"), "{error}");
    assert!(
        matches!(
            error,
            dfsp_sim::PaymentError::Fspiop {
                phase: Phase::Lookup,
                ..
            }
        ),
        "{error}"
    );

    // An MSISDN the oracle maps to the payee DFSP but that it does not own: the payee itself
    // answers `PUT /parties/…/error` 3204 and the switch relays it to the payer.
    let response = switch
        .client
        .post(format!("{}/participants/MSISDN/19012345499", switch.oracle))
        .header("fspiop-source", "simfsp-5")
        .json(&json!({"fspId": "simfsp-5", "currency": "USD"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 201);
    let error = sim
        .pay("simfsp-1", "19012345499", "5")
        .await
        .err()
        .unwrap_or_else(|| panic!("an MSISDN nobody owns was paid"));
    assert_eq!(error.fspiop_code(), Some("3204"), "{error}");

    // The timings: one of each payer phase succeeded, the lookup failed twice; the payee
    // answered two lookups (one with its error), one quote and one transfer. A payee records
    // its answer once its callback request returns, which can be after the payer has seen the
    // callback: wait for every answer to be recorded.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let answered =
        |timings: &std::collections::BTreeMap<Phase, dfsp_sim::PhaseStats>, phase, count| {
            timings.get(&phase).map_or(0, |s| s.count) >= count
        };
    while !{
        let timings = sim.timings();
        answered(&timings, Phase::AnswerParty, 2)
            && answered(&timings, Phase::AnswerQuote, 1)
            && answered(&timings, Phase::AnswerTransfer, 1)
    } && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let timings = sim.timings();
    for (phase, count) in [
        (Phase::Lookup, 1),
        (Phase::Quote, 1),
        (Phase::Transfer, 1),
        (Phase::AnswerParty, 2),
        (Phase::AnswerQuote, 1),
        (Phase::AnswerTransfer, 1),
    ] {
        let stats = timings.get(&phase).copied().unwrap_or_default();
        assert_eq!(stats.count, count, "{phase:?}: {stats:?}");
        assert!(
            stats.max > Duration::ZERO && stats.mean() <= stats.max,
            "{phase:?}: {stats:?}"
        );
    }
    assert_eq!(timings.get(&Phase::Lookup).map(|s| s.failures), Some(2));
    assert_eq!(switch.position("simfsp-1").await, "100.0000");

    drop(sim);
    switch.stop().await;
}
