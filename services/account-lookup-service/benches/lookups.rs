//! Lookups per second through the ALS and the MSISDN oracle, end to end, on this machine:
//!
//! payer `GET /parties/MSISDN/{id}` → ALS → oracle `GET /participants/MSISDN/{id}` → payee
//! `GET /parties/…` → payee `PUT /parties/…` → ALS → payer `PUT /parties/…`.
//!
//! Everything runs in this one process against the MySQL at `DATABASE_URL`: the ALS (release
//! build), the oracle, a payer and a payee simulator, and a closed-loop client keeping
//! `CONCURRENCY` lookups in flight. Also measured: the oracle alone (`GET /participants`).
//!
//! Run: `cargo bench -p account-lookup-service --bench lookups` (options by environment:
//! `LOOKUPS` total, default 5000; `CONCURRENCY`, default 64).

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark driver: a failure aborts the run"
)]

#[path = "../tests/it/helpers.rs"]
#[allow(dead_code, reason = "the benchmark uses part of the test helpers")]
mod helpers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use helpers::{endpoint_templates, fspiop_headers, party_body, spawn_switch_with};

type Waiters = Arc<Mutex<HashMap<String, tokio::sync::oneshot::Sender<()>>>>;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The payee: answers 202 to `GET /parties/MSISDN/{id}` and then sends its `PUT` to the ALS.
async fn spawn_payee(als: String, client: reqwest::Client) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (als, client) = (als.clone(), client.clone());
        async move {
            let path = request.uri().path().to_string();
            if request.method() == axum::http::Method::GET {
                tokio::spawn(async move {
                    let id = path.rsplit('/').next().unwrap_or_default().to_string();
                    let mut put = client
                        .put(format!("{als}{path}"))
                        .body(party_body("MSISDN", &id, "payeefsp").to_string());
                    for (name, value) in
                        fspiop_headers("PUT", "parties", "payeefsp", Some("payerfsp"))
                    {
                        put = put.header(name, value);
                    }
                    let answer = put.send().await.expect("payee PUT");
                    assert_eq!(answer.status(), 200);
                });
                axum::http::StatusCode::ACCEPTED
            } else {
                axum::http::StatusCode::OK
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// The payer: answers 200 to the `PUT /parties/MSISDN/{id}` and wakes whoever waits for `id`.
async fn spawn_payer(waiters: Waiters) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let waiters = waiters.clone();
        async move {
            let path = request.uri().path().to_string();
            if path.ends_with("/error") {
                panic!("the payer got an error callback: {path}");
            }
            let id = path.rsplit('/').next().unwrap_or_default().to_string();
            if let Some(waiter) = waiters.lock().unwrap().remove(&id) {
                let _ = waiter.send(());
            }
            axum::http::StatusCode::OK
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(what: &str, count: usize, elapsed: Duration, mut latencies: Vec<Duration>) {
    latencies.sort();
    println!(
        "{what}: {count} in {:.2} s = {:.0}/s; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.9).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
    );
}

/// Runs `total` operations with `concurrency` workers; worker `w` does operations
/// `w, w + concurrency, …` and gets their index.
async fn closed_loop<F, Fut>(
    total: usize,
    concurrency: usize,
    operation: F,
) -> (Duration, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let operation = operation.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut index = worker;
            while index < total {
                let begun = Instant::now();
                operation(index).await;
                latencies.push(begun.elapsed());
                index += concurrency;
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    (started.elapsed(), latencies)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let total = env_number("LOOKUPS", 5000);
    let concurrency = env_number("CONCURRENCY", 64);
    let parties = 1000.max(concurrency);
    let switch = spawn_switch_with(|config| {
        config.database.pool_size_max = 10;
        config.directory.pool_size_max = 10;
    })
    .await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let waiters: Waiters = Arc::new(Mutex::new(HashMap::new()));
    let payee = spawn_payee(switch.api.clone(), client.clone()).await;
    let payer = spawn_payer(waiters.clone()).await;
    switch
        .onboard_with("payeefsp", &endpoint_templates(&payee))
        .await;
    switch
        .onboard_with("payerfsp", &endpoint_templates(&payer))
        .await;

    // The payee's parties, registered in one batch (straight into the oracle).
    let ids: Vec<String> = (0..parties).map(|n| format!("2557{n:08}")).collect();
    let party_list: Vec<_> = ids
        .iter()
        .map(|id| json!({"partyIdType": "MSISDN", "partyIdentifier": id, "fspId": "payeefsp"}))
        .collect();
    let registered = client
        .post(format!("{}/participants", switch.oracle))
        .header("fspiop-source", "payeefsp")
        .json(&json!({"requestId": uuid::Uuid::new_v4().to_string(), "partyList": party_list}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);

    // Each worker looks up its own identifiers, so no identifier is looked up twice at once.
    let ids_used = concurrency * (parties / concurrency);
    let ids = Arc::new(ids);
    let lookup = {
        let (client, api, ids, waiters) = (
            client.clone(),
            switch.api.clone(),
            ids.clone(),
            waiters.clone(),
        );
        move |index: usize| {
            let (client, api, ids, waiters) =
                (client.clone(), api.clone(), ids.clone(), waiters.clone());
            async move {
                let id = ids[index % ids_used].clone();
                let (tx, rx) = tokio::sync::oneshot::channel();
                waiters.lock().unwrap().insert(id.clone(), tx);
                let mut get = client.get(format!("{api}/parties/MSISDN/{id}"));
                for (name, value) in fspiop_headers("GET", "parties", "payerfsp", None) {
                    get = get.header(name, value);
                }
                let answer = get.send().await.unwrap();
                assert_eq!(answer.status(), 202);
                tokio::time::timeout(Duration::from_secs(30), rx)
                    .await
                    .expect("lookup answered in time")
                    .unwrap();
            }
        }
    };
    // Warm up: connections, caches, JIT-free but pools fill.
    closed_loop(concurrency * 4, concurrency, lookup.clone()).await;
    let (elapsed, latencies) = closed_loop(total, concurrency, lookup).await;
    report(
        &format!("end-to-end lookups (concurrency {concurrency})"),
        total,
        elapsed,
        latencies,
    );

    let oracle_get = {
        let (client, oracle, ids) = (client.clone(), switch.oracle.clone(), ids.clone());
        move |index: usize| {
            let (client, oracle, ids) = (client.clone(), oracle.clone(), ids.clone());
            async move {
                let id = &ids[index % ids.len()];
                let answer = client
                    .get(format!("{oracle}/participants/MSISDN/{id}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 200);
                let _ = answer.bytes().await;
            }
        }
    };
    closed_loop(concurrency * 4, concurrency, oracle_get.clone()).await;
    let (elapsed, latencies) = closed_loop(total, concurrency, oracle_get).await;
    report(
        &format!("oracle GET /participants alone (concurrency {concurrency})"),
        total,
        elapsed,
        latencies,
    );
    switch.stop().await;
}
