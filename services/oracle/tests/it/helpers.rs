//! Spawning the oracle on port 0 with a fresh database, and a client that asserts statuses.

use std::time::Duration;

use msisdn_oracle::Config;
use serde_json::Value;
pub use test_support::database_server_url;

pub struct TestOracle {
    pub base: String,
    pub client: reqwest::Client,
    pub database: String,
    pub pool: sqlx::MySqlPool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the oracle on a fresh database.
pub async fn spawn_oracle() -> TestOracle {
    let database = format!("t_oracle_{}", uuid::Uuid::new_v4().simple());
    let mut config = Config::defaults().unwrap_or_else(|e| panic!("defaults: {e}"));
    config.database.url = database_server_url();
    config.database.name = database.clone();
    config.database.pool_size_max = 5;
    let store = msisdn_oracle::connect_store(&config, true, true)
        .await
        .unwrap_or_else(|e| panic!("MySQL at {} (set DATABASE_URL): {e}", config.database.url));
    let pool = store.pool.clone();
    let (listener, base) = test_support::listener().await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(error) = msisdn_oracle::run(config, store, listener, shutdown).await {
            panic!("oracle stopped with an error: {error}");
        }
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    TestOracle {
        base,
        client,
        database,
        pool,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl TestOracle {
    /// Sends a request and asserts the status; returns the JSON body (Null when empty).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header("fspiop-source", "dfsp1");
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let got = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(got, status, "{method} {path} {body:?}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
        }
    }

    /// A request that must fail with `status` and `code`; returns the description.
    pub async fn fails(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
        code: &str,
    ) -> String {
        let answer = self.call(method, path, body, status).await;
        assert_eq!(
            answer["errorInformation"]["errorCode"], code,
            "{method} {path}: {answer}"
        );
        answer["errorInformation"]["errorDescription"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Stops the oracle and drops its database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        self.pool.close().await;
        let _ = store::drop_database_if_exists(&database_server_url(), &self.database).await;
    }
}
