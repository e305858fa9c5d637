//! The simulator against the real switch in one process: central ledger (all handlers), ML API
//! Adapter, Quoting Service, Account Lookup Service and the MSISDN oracle, over the MySQL at
//! `DATABASE_URL` and the Kafka at `KAFKA_BROKERS`. Two simulated DFSPs are provisioned through
//! the admin APIs; one payment goes through lookup → quote → transfer and commits, one to an
//! MSISDN no oracle knows and one to an MSISDN the payee does not own both stop with 3204.
//!
//! Currency conversion (FSPIOP 2.0, payer conversion): a USD payer, a USD payee, a simulated
//! FXP (USD → EUR at 0.9) and an EUR payee, provisioned by `dfsp_sim::provision` (the FXP in
//! both currencies). Payments to the EUR payee go lookup → fxQuote → quote → fxTransfer →
//! transfer and commit both legs (exact positions in both currencies, the FXP told COMMITTED);
//! a USD payment still takes the plain path; the fx scenario refuses a USD payee; an FXP asked
//! for a pair it does not convert answers an error the payer gets as an FSPIOP error.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use std::time::{Duration, Instant};

use dfsp_sim::provision::{AdminUrls, CurrencyPlan, DfspPlan};
use dfsp_sim::{
    DfspSpec, FxpSpec, PayOptions, PaymentError, Phase, Scenario, SimConfig, Simulator, SwitchUrls,
};
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

    /// `name`'s position in `currency`.
    async fn position_in(&self, name: &str, currency: &str) -> String {
        let (value,): (String,) = sqlx::query_as(
            "SELECT CAST(pp.value AS CHAR) FROM participantPosition pp
             JOIN participantCurrency pc ON pc.participantCurrencyId = pp.participantCurrencyId
             JOIN participant p ON p.participantId = pc.participantId
             WHERE p.name = ? AND pc.currencyId = ? AND pc.ledgerAccountTypeId = 1",
        )
        .bind(name)
        .bind(currency)
        .fetch_one(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("{name} {currency}: {e}"));
        value
    }

    /// The latest state of fxTransfer `commit_request_id`.
    async fn fx_state(&self, commit_request_id: &str) -> Option<String> {
        sqlx::query_as::<_, (String,)>("SELECT transferStateId FROM fxTransferStateChange WHERE commitRequestId = ? ORDER BY fxTransferStateChangeId DESC LIMIT 1")
            .bind(commit_request_id)
            .fetch_optional(&self.pool)
            .await
            .ok()
            .flatten()
            .map(|(s,)| s)
    }

    /// The ALS's default MSISDN oracle: the switch's.
    async fn register_oracle(&self) {
        let oracle = json!({"oracleIdType": "MSISDN", "endpoint": {"value": self.oracle, "endpointType": "URL"}, "isDefault": true});
        let response = self
            .client
            .post(format!("{}/oracles", self.als_admin))
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
    }

    /// The endpoints registered for `name`, as `(type, value)`, sorted.
    async fn endpoints_of(&self, name: &str) -> Vec<(String, String)> {
        let list: Value = self
            .client
            .get(format!("{}/participants/{name}/endpoints", self.ledger))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut pairs: Vec<(String, String)> = list
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["type"].as_str().unwrap_or_default().to_string(),
                    e["value"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        pairs.sort();
        pairs
    }

    fn urls(&self) -> SwitchUrls {
        SwitchUrls {
            als: self.als.clone(),
            quotes: self.quotes.clone(),
            transfers: self.transfers.clone(),
            // No transaction requests service in this switch (see tests/request_to_pay.rs).
            transaction_requests: "http://127.0.0.1:9".into(),
        }
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
        switch: switch.urls(),
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
    switch.register_oracle().await;
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

    // Time-ordered ids (UUID v7): the switch takes them as any other, and a later payment's
    // transfer id sorts after an earlier one's.
    let options = PayOptions {
        ids: dfsp_sim::PaymentIds::TimeOrdered,
        ..PayOptions::default()
    };
    let mut transfer_ids = Vec::new();
    for _ in 0..2 {
        let report = sim
            .pay_with("simfsp-1", "19012345403", "1", &options)
            .await
            .unwrap_or_else(|e| panic!("payment with time-ordered ids failed: {e}"));
        assert_eq!(report.transfer_state, "COMMITTED");
        assert_eq!(
            report.transfer_id.as_bytes().get(14),
            Some(&b'7'),
            "{report:?}"
        );
        transfer_ids.push(report.transfer_id);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(transfer_ids[0] < transfer_ids[1], "{transfer_ids:?}");
    assert_eq!(switch.position("simfsp-1").await, "102.0000");

    drop(sim);
    switch.stop().await;
}

/// The simulator of the FX tests: a USD payer, a USD payee, an FXP converting USD → EUR at 0.9
/// and an EUR payee; all provisioned by `dfsp_sim::provision` (the payer funded 1000 USD, the
/// EUR payee 1000 EUR so it can pay too, the FXP 1000 EUR), the ALS's oracle registered.
async fn fx_setup(switch: &Switch) -> Simulator {
    let payer = DfspSpec::with_range("simfsp-1", "1901234500", 10, "payer-secret", "USD");
    let payee = DfspSpec::with_range("simfsp-5", "1901234540", 10, "payee-secret", "USD");
    let fxp = DfspSpec::fxp(
        "simfsp-fxp",
        "fxp-secret",
        FxpSpec::new("USD", "EUR", "0.9"),
    );
    let eur = DfspSpec::with_range("simfsp-eur", "1901234600", 10, "eur-secret", "EUR");
    let config = SimConfig {
        dfsps: vec![payer.clone(), payee.clone(), fxp.clone(), eur.clone()],
        switch: switch.urls(),
        request_timeout_ms: 10_000,
        callback_timeout_ms: 30_000,
        jws: None,
        tls: None,
    };
    let (listener, _) = listen().await;
    let sim = Simulator::start(config, listener)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    switch.register_oracle().await;
    let plans = [
        DfspPlan::new("simfsp-1", "USD", "10000", Some("1000"), payer.msisdns),
        DfspPlan::new("simfsp-5", "USD", "10000", None, payee.msisdns),
        DfspPlan::new("simfsp-fxp", "USD", "10000", None, Vec::new())
            .with_currency(CurrencyPlan::new("EUR", "10000", Some("1000"))),
        DfspPlan::new("simfsp-eur", "EUR", "10000", Some("1000"), eur.msisdns),
    ];
    let urls = AdminUrls {
        ledger: switch.ledger.clone(),
        oracle: switch.oracle.clone(),
    };
    let done = dfsp_sim::provision::provision(&urls, sim.base_url(), &plans)
        .await
        .unwrap_or_else(|e| panic!("provisioning: {e}"));
    let deposits: Vec<(&str, Vec<(String, String)>)> = done
        .iter()
        .map(|d| (d.name.as_str(), d.deposits.clone()))
        .collect();
    let money = |currency: &str, amount: &str| vec![(currency.to_string(), amount.to_string())];
    assert_eq!(
        deposits,
        [
            ("simfsp-1", money("USD", "1000")),
            ("simfsp-5", vec![]),
            ("simfsp-fxp", money("EUR", "1000")),
            ("simfsp-eur", money("EUR", "1000")),
        ]
    );
    assert_eq!(done[2].deposited, None, "the FXP's first currency is USD");
    // What provisioning registered is what the simulator serves: fx endpoints included.
    for name in ["simfsp-1", "simfsp-fxp"] {
        let mut expected = sim.endpoints(name);
        expected.sort();
        assert_eq!(switch.endpoints_of(name).await, expected, "{name}");
        for kind in [
            "FSPIOP_CALLBACK_URL_FX_QUOTES",
            "FSPIOP_CALLBACK_URL_FX_TRANSFER_POST",
            "FSPIOP_CALLBACK_URL_FX_TRANSFER_PUT",
            "FSPIOP_CALLBACK_URL_FX_TRANSFER_ERROR",
        ] {
            assert!(expected.iter().any(|(k, _)| k == kind), "{name}: {kind}");
        }
    }
    sim
}

/// Waits until the FXP and payee answers are all recorded (a DFSP records its answer once its
/// callback request returns, which can be after the payer saw the callback).
async fn wait_for_answers(sim: &Simulator, wanted: &[(Phase, u64)]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let timings = sim.timings();
        let done = wanted
            .iter()
            .all(|(phase, count)| timings.get(phase).map_or(0, |s| s.count + s.failures) >= *count);
        if done || Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fx_payments_convert_through_the_fxp_and_commit_both_legs() {
    service_kit::telemetry::init_for_tests("info,sqlx=warn,rdkafka=warn");
    let switch = start_switch().await;
    let sim = fx_setup(&switch).await;
    let read_positions = || async {
        [
            switch.position_in("simfsp-1", "USD").await,
            switch.position_in("simfsp-fxp", "USD").await,
            switch.position_in("simfsp-fxp", "EUR").await,
            switch.position_in("simfsp-eur", "EUR").await,
            switch.position_in("simfsp-5", "USD").await,
        ]
    };

    // 100 USD to the EUR payee, scenario fx: the FXP delivers 90 EUR.
    let options = PayOptions {
        scenario: Scenario::Fx,
        ..PayOptions::default()
    };
    let report = sim
        .pay_with("simfsp-1", "19012346003", "100", &options)
        .await
        .unwrap_or_else(|e| panic!("fx payment failed: {e}"));
    assert_eq!(report.transfer_state, "COMMITTED");
    assert_eq!(report.payee_fsp, "simfsp-eur");
    assert_eq!(report.fxp, "simfsp-fxp");
    assert!(report.converted(), "{report:?}");
    assert_eq!(
        (
            report.source_amount.as_str(),
            report.source_currency.as_str(),
            report.target_amount.as_str(),
            report.target_currency.as_str(),
        ),
        ("100", "USD", "90", "EUR")
    );
    assert_eq!(
        (report.transfer_amount.as_str(), report.currency.as_str()),
        ("90", "EUR")
    );
    assert!(
        !report.conversion_request_id.is_empty() && !report.commit_request_id.is_empty(),
        "{report:?}"
    );
    assert!(
        [
            report.lookup,
            report.fx_quote,
            report.quote,
            report.fx_transfer,
            report.transfer
        ]
        .iter()
        .all(|d| *d > Duration::ZERO),
        "{report:?}"
    );
    assert_eq!(
        report.total(),
        report.lookup + report.fx_quote + report.quote + report.fx_transfer + report.transfer
    );
    assert_eq!(
        switch.state(&report.transfer_id).await.as_deref(),
        Some("COMMITTED")
    );
    assert_eq!(
        switch.fx_state(&report.commit_request_id).await.as_deref(),
        Some("COMMITTED")
    );
    let (determining,): (String,) =
        sqlx::query_as("SELECT determiningTransferId FROM fxTransfer WHERE commitRequestId = ?")
            .bind(&report.commit_request_id)
            .fetch_one(&switch.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(determining, report.transfer_id);
    // Net debit positive: the payer owes 100 USD, the FXP is owed them and owes 90 EUR, the
    // payee is owed 90 EUR.
    assert_eq!(
        read_positions().await,
        ["100.0000", "-100.0000", "90.0000", "-90.0000", "0.0000"]
    );
    // The switch tells the FXP the conversion committed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.fx_patches().committed < 1 {
        assert!(
            Instant::now() < deadline,
            "no PATCH /fxTransfers COMMITTED: {:?}",
            sim.fx_patches()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 10.01 USD, scenario end-to-end: the conversion is found needed by the lookup's answer;
    // 10.01 × 0.9 = 9.009 EUR, rounded half up to the cent.
    let report = sim
        .pay("simfsp-1", "19012346004", "10.01")
        .await
        .unwrap_or_else(|e| panic!("second fx payment failed: {e}"));
    assert_eq!(
        (
            report.source_amount.as_str(),
            report.target_amount.as_str(),
            report.transfer_amount.as_str(),
            report.currency.as_str(),
        ),
        ("10.01", "9.01", "9.01", "EUR")
    );
    assert_eq!(
        read_positions().await,
        ["110.0100", "-110.0100", "99.0100", "-99.0100", "0.0000"]
    );

    // Scenario transfers (payee given, terms made locally with the simulated FXP's and
    // payee's secrets): the fxTransfer and the transfer still go over the wire.
    let options = PayOptions {
        scenario: Scenario::Transfers,
        payee_fsp: Some("simfsp-eur".into()),
        ..PayOptions::default()
    };
    let report = sim
        .pay_with("simfsp-1", "19012346005", "20", &options)
        .await
        .unwrap_or_else(|e| panic!("transfers-only fx payment failed: {e}"));
    assert_eq!(
        (
            report.target_amount.as_str(),
            report.transfer_state.as_str()
        ),
        ("18", "COMMITTED")
    );
    assert_eq!(
        (report.lookup, report.fx_quote, report.quote),
        (Duration::ZERO, Duration::ZERO, Duration::ZERO)
    );
    assert!(report.fx_transfer > Duration::ZERO && report.transfer > Duration::ZERO);
    assert_eq!(
        read_positions().await,
        ["130.0100", "-130.0100", "117.0100", "-117.0100", "0.0000"]
    );

    // A USD payment to the USD payee takes the plain path, though its payer looks up in 2.0.
    let report = sim
        .pay("simfsp-1", "19012345403", "5")
        .await
        .unwrap_or_else(|e| panic!("plain payment failed: {e}"));
    assert_eq!(report.transfer_state, "COMMITTED");
    assert!(!report.converted(), "{report:?}");
    assert_eq!(
        (report.fx_quote, report.fx_transfer),
        (Duration::ZERO, Duration::ZERO)
    );
    assert_eq!(
        (
            report.transfer_amount.as_str(),
            report.currency.as_str(),
            report.fxp.as_str(),
            report.target_amount.as_str()
        ),
        ("5", "USD", "", "")
    );
    assert_eq!(
        read_positions().await,
        ["135.0100", "-130.0100", "117.0100", "-117.0100", "-5.0000"]
    );

    // Scenario fx to a payee holding the payer's currency: refused before anything is sent.
    let options = PayOptions {
        scenario: Scenario::Fx,
        ..PayOptions::default()
    };
    let error = sim
        .pay_with("simfsp-1", "19012345404", "5", &options)
        .await
        .err()
        .unwrap_or_else(|| panic!("scenario fx paid a USD payee"));
    match &error {
        PaymentError::InvalidCallback {
            phase: Phase::Lookup,
            detail,
        } => assert!(
            // Known from the payee's 2.0 lookup answer, relayed by the ALS.
            detail.contains("simfsp-5 holds USD (its lookup answer's supportedCurrencies)"),
            "{detail}"
        ),
        other => panic!("unexpected error {other}"),
    }

    // Every FX phase was timed: the payer's and the FXP's answers.
    wait_for_answers(
        &sim,
        &[(Phase::AnswerFxQuote, 2), (Phase::AnswerFxTransfer, 3)],
    )
    .await;
    let timings = sim.timings();
    for (phase, count) in [
        (Phase::FxQuote, 2),
        (Phase::FxTransfer, 3),
        (Phase::AnswerFxQuote, 2),
        (Phase::AnswerFxTransfer, 3),
        (Phase::Quote, 3),
        (Phase::Transfer, 4),
    ] {
        let stats = timings.get(&phase).copied().unwrap_or_default();
        assert_eq!(
            (stats.count, stats.failures),
            (count, 0),
            "{phase:?}: {stats:?}"
        );
    }
    // Each conversion committed, none aborted.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.fx_patches().committed < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let patches = sim.fx_patches();
    assert_eq!(
        (patches.committed, patches.aborted, patches.other),
        (3, 0, 0)
    );

    drop(sim);
    switch.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_fxp_asked_for_a_pair_it_does_not_convert_answers_an_error() {
    service_kit::telemetry::init_for_tests("info,sqlx=warn,rdkafka=warn");
    let switch = start_switch().await;
    let sim = fx_setup(&switch).await;

    // The EUR DFSP pays a USD payee: it needs EUR → USD, and the only FXP converts USD → EUR.
    let error = sim
        .pay("simfsp-eur", "19012345403", "50")
        .await
        .err()
        .unwrap_or_else(|| panic!("a conversion no FXP offers was paid"));
    match &error {
        PaymentError::Fspiop {
            phase: Phase::FxQuote,
            code,
            description,
        } => {
            assert_eq!(code, "3100", "{error}");
            assert!(
                description.contains("simfsp-fxp does not convert EUR to USD"),
                "{description}"
            );
        }
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(error.fspiop_code(), Some("3100"));
    wait_for_answers(&sim, &[(Phase::AnswerFxQuote, 1)]).await;
    let timings = sim.timings();
    let fx_quote = timings.get(&Phase::FxQuote).copied().unwrap_or_default();
    assert_eq!((fx_quote.count, fx_quote.failures), (0, 1));
    // The FXP's error callback was accepted by the switch.
    let answered = timings
        .get(&Phase::AnswerFxQuote)
        .copied()
        .unwrap_or_default();
    assert_eq!((answered.count, answered.failures), (1, 0));
    assert!(!timings.contains_key(&Phase::Quote) && !timings.contains_key(&Phase::FxTransfer));
    // Nothing moved.
    for (name, currency) in [
        ("simfsp-eur", "EUR"),
        ("simfsp-fxp", "USD"),
        ("simfsp-fxp", "EUR"),
        ("simfsp-5", "USD"),
    ] {
        assert_eq!(
            switch.position_in(name, currency).await,
            "0.0000",
            "{name} {currency}"
        );
    }

    drop(sim);
    switch.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_fx_payment_the_payee_refuses_aborts_both_legs() {
    service_kit::telemetry::init_for_tests("info,sqlx=warn,rdkafka=warn");
    let switch = start_switch().await;
    let sim = fx_setup(&switch).await;

    // The payee answers the dependent transfer with a fulfilment that is not the condition's:
    // the switch refuses it and aborts the transfer and its conversion.
    let options = PayOptions {
        scenario: Scenario::Fx,
        wrong_fulfilment: true,
        ..PayOptions::default()
    };
    let error = sim
        .pay_with("simfsp-1", "19012346007", "40", &options)
        .await
        .err()
        .unwrap_or_else(|| panic!("a wrong fulfilment was accepted"));
    assert!(
        matches!(
            &error,
            PaymentError::Fspiop {
                phase: Phase::Transfer,
                code,
                ..
            } if code == "3100"
        ),
        "{error}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.fx_patches().aborted < 1 {
        assert!(
            Instant::now() < deadline,
            "no PATCH /fxTransfers ABORTED: {:?}",
            sim.fx_patches()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let patches = sim.fx_patches();
    assert_eq!(
        (patches.committed, patches.aborted, patches.other),
        (0, 1, 0)
    );
    let (commit_request_id, transfer_id): (String, String) =
        sqlx::query_as("SELECT commitRequestId, determiningTransferId FROM fxTransfer")
            .fetch_one(&switch.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        switch.fx_state(&commit_request_id).await.as_deref(),
        Some("ABORTED_ERROR")
    );
    let transfer_state = switch.state(&transfer_id).await.unwrap_or_default();
    assert!(transfer_state.starts_with("ABORTED"), "{transfer_state}");
    // Both legs unwound: every position back at 0.
    for (name, currency) in [
        ("simfsp-1", "USD"),
        ("simfsp-fxp", "USD"),
        ("simfsp-fxp", "EUR"),
        ("simfsp-eur", "EUR"),
    ] {
        assert_eq!(
            switch.position_in(name, currency).await,
            "0.0000",
            "{name} {currency}"
        );
    }

    drop(sim);
    switch.stop().await;
}
