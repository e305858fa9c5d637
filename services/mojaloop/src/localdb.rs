//! A first run with nothing set up: when nothing answers at `mojaloop up`'s database URL on
//! this machine, the switch starts a MariaDB server of its own, if MariaDB is installed (its
//! data kept under the user's data directory between runs, stopped with the switch), and
//! otherwise says exactly what to install or pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Longest wait for `mariadb-install-db` to make a data directory.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest wait for the server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for the server to stop after SIGTERM (InnoDB flushes); then it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for an answer at the database URL before deciding nothing is there.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1_000);

/// Where the server's address comes from in a `mysql://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// `root` with no password: what a private server of ours can let in.
    pub root_without_password: bool,
}

/// Reads host, port and user of `mysql://[user[:password]@]host[:port][/…]`.
pub fn target(url: &str) -> Result<Target> {
    let rest = url
        .strip_prefix("mysql://")
        .with_context(|| format!("the database URL {url:?} does not start with mysql://"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let (credentials, address) = match authority.rsplit_once('@') {
        Some((credentials, address)) => (Some(credentials), address),
        None => (None, authority),
    };
    let parse_port = |port: &str| {
        port.parse::<u16>()
            .with_context(|| format!("the database URL {url:?} has port {port:?}"))
    };
    let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .with_context(|| format!("the database URL {url:?} has an unclosed [ in its host"))?;
        match after.strip_prefix(':') {
            Some(port) => (host, parse_port(port)?),
            None => (host, 3306),
        }
    } else {
        match address.rsplit_once(':') {
            Some((host, port)) => (host, parse_port(port)?),
            None => (address, 3306),
        }
    };
    anyhow::ensure!(!host.is_empty(), "the database URL {url:?} names no host");
    let root_without_password = matches!(credentials, Some("root") | Some("root:"));
    Ok(Target {
        host: host.to_string(),
        port,
        root_without_password,
    })
}

/// `host` is this machine.
fn local(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

/// Something accepts TCP connections at `host:port`.
fn answers(host: &str, port: u16) -> bool {
    use std::net::ToSocketAddrs;
    let Ok(addresses) = (host, port).to_socket_addrs() else {
        return false;
    };
    addresses
        .into_iter()
        .any(|address| std::net::TcpStream::connect_timeout(&address, PROBE_TIMEOUT).is_ok())
}

/// The user's data directory for the switch: `MOJALOOP_DATA_DIR`, else
/// `$XDG_DATA_HOME/mojaloop`, else `~/.local/share/mojaloop`.
pub fn data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("MOJALOOP_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("mojaloop"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither MOJALOOP_DATA_DIR nor HOME is set: where should the database live?")?;
    Ok(PathBuf::from(home).join(".local/share/mojaloop"))
}

/// Where MariaDB's programs are looked for: `MOJALOOP_MARIADB_BIN_DIR` alone when set, else
/// `PATH` and the usual install places (Debian puts `mariadbd` in /usr/sbin, outside a user's
/// PATH).
fn search_dirs() -> Vec<PathBuf> {
    if let Some(dir) = std::env::var_os("MOJALOOP_MARIADB_BIN_DIR") {
        return vec![PathBuf::from(dir)];
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    for extra in [
        "/usr/sbin",
        "/usr/local/sbin",
        "/usr/bin",
        "/usr/local/bin",
        "/opt/homebrew/bin",
        "/opt/homebrew/sbin",
    ] {
        let extra = PathBuf::from(extra);
        if !dirs.contains(&extra) {
            dirs.push(extra);
        }
    }
    dirs
}

fn find(program: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// The current user's name (mariadbd needs `--user` when run as root).
fn user_name() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| std::env::var("USER").unwrap_or_else(|_| "root".to_string()))
}

/// What to do when nothing answers at the URL and MariaDB is not here.
fn nothing_to_start(url: &str, why: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "nothing answers at the database URL {url}, and {why}.\n\
         Either install MariaDB (Debian/Ubuntu: `sudo apt-get install mariadb-server`; Fedora: \
         `sudo dnf install mariadb-server`; macOS: `brew install mariadb`) and run `mojaloop up` \
         again: the switch then starts a MariaDB of its own, its data kept under {data}; \
         or start MySQL 8 or MariaDB 10.11 yourself and pass --database-url \
         mysql://USER[:PASSWORD]@HOST:PORT (a user that may create databases).",
        data = data_dir()
            .map(|d| d.join("mariadb").display().to_string())
            .unwrap_or_else(|_| "the user's data directory".to_string()),
    )
}

/// A MariaDB server this process started; stopped by [`LocalDb::stop`] (or on drop).
#[derive(Debug)]
pub struct LocalDb {
    child: Option<Child>,
    /// Its data directory.
    pub datadir: PathBuf,
    /// Its log.
    pub log: PathBuf,
}

impl LocalDb {
    /// SIGTERM (InnoDB flushes and closes), a bounded wait, then SIGKILL.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                tracing::info!(datadir = %self.datadir.display(), "the private MariaDB stopped");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!(log = %self.log.display(), "the private MariaDB did not stop within {STOP_TIMEOUT:?}; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for LocalDb {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The database for `mojaloop up`: `None` when something answers at `url` (it is used as it
/// is); a private MariaDB started on the URL's port when nothing does and the URL is this
/// machine's root without a password; otherwise an error that says what to install or pass.
pub fn ensure(url: &str) -> Result<Option<LocalDb>> {
    let target = target(url)?;
    if answers(&target.host, target.port) {
        return Ok(None);
    }
    if !local(&target.host) {
        anyhow::bail!(
            "nothing answers at the database URL {url}: start the database server there, or pass \
             --database-url with one that runs"
        );
    }
    if !target.root_without_password {
        anyhow::bail!(
            "nothing answers at the database URL {url}: start the database server there (a \
             private MariaDB is started only for root without a password, the default URL)"
        );
    }
    let dirs = search_dirs();
    let (Some(server), Some(install)) =
        (find("mariadbd", &dirs), find("mariadb-install-db", &dirs))
    else {
        return Err(nothing_to_start(
            url,
            "MariaDB is not installed here (no mariadbd and mariadb-install-db)",
        ));
    };
    let data = data_dir()?;
    start(&server, &install, &data, target.port)
}

fn start(server: &Path, install: &Path, data: &Path, port: u16) -> Result<Option<LocalDb>> {
    let datadir = data.join("mariadb");
    let log = data.join("mariadb.log");
    std::fs::create_dir_all(&datadir).with_context(|| format!("creating {}", datadir.display()))?;
    let user = user_name();
    let log_file = || -> Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))
    };
    // Temporary tables in a directory of its own, not a /tmp shared with other servers.
    let tmpdir = data.join("tmp");
    std::fs::create_dir_all(&tmpdir).with_context(|| format!("creating {}", tmpdir.display()))?;
    if !datadir.join("mysql").is_dir() {
        tracing::info!(datadir = %datadir.display(), "initialising a private MariaDB");
        let mut child = Command::new(install)
            .args([
                "--no-defaults".to_string(),
                format!("--user={user}"),
                format!("--datadir={}", datadir.display()),
                format!("--tmpdir={}", tmpdir.display()),
                "--auth-root-authentication-method=normal".to_string(),
                "--skip-test-db".to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log_file()?)
            .stderr(log_file()?)
            .spawn()
            .with_context(|| format!("running {}", install.display()))?;
        let deadline = Instant::now() + INSTALL_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                anyhow::bail!(
                    "{} did not finish within {INSTALL_TIMEOUT:?} (log: {})",
                    install.display(),
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        anyhow::ensure!(
            status.success(),
            "{} failed ({status}); see {}",
            install.display(),
            log.display()
        );
    }
    let mut command = Command::new(server);
    command
        .args([
            "--no-defaults".to_string(),
            format!("--user={user}"),
            format!("--datadir={}", datadir.display()),
            format!("--socket={}", data.join("mariadb.sock").display()),
            format!("--pid-file={}", data.join("mariadb.pid").display()),
            format!("--tmpdir={}", tmpdir.display()),
            format!("--port={port}"),
            "--bind-address=127.0.0.1".to_string(),
            "--character-set-server=utf8mb4".to_string(),
            "--collation-server=utf8mb4_general_ci".to_string(),
            "--default-time-zone=+00:00".to_string(),
            "--max-connections=500".to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(log_file()?)
        .stderr(log_file()?);
    // Its own process group: a Ctrl-C in the terminal reaches the switch, which stops the
    // server after its services, not the server first.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", server.display()))?;
    let mut db = LocalDb {
        child: Some(child),
        datadir: datadir.clone(),
        log: log.clone(),
    };
    let deadline = Instant::now() + READY_TIMEOUT;
    while !answers("127.0.0.1", port) {
        if let Some(child) = db.child.as_mut() {
            if let Some(status) = child.try_wait()? {
                db.child = None;
                anyhow::bail!(
                    "the private MariaDB exited during start-up ({status}); see {}",
                    log.display()
                );
            }
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the private MariaDB did not listen on 127.0.0.1:{port} within {READY_TIMEOUT:?}; see {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    tracing::info!(
        datadir = %datadir.display(),
        log = %log.display(),
        port,
        "nothing answered at the database URL: started a private MariaDB (data kept between runs; it stops with the switch)"
    );
    Ok(Some(db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_address_and_the_user_of_a_database_url() {
        let t = target("mysql://root@127.0.0.1:3306").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t,
            Target {
                host: "127.0.0.1".into(),
                port: 3306,
                root_without_password: true
            }
        );
        let t = target("mysql://app:secret@db.example:3307/central_ledger")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.host.as_str(), t.port, t.root_without_password),
            ("db.example", 3307, false)
        );
        let t = target("mysql://root@localhost").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.host.as_str(), t.port), ("localhost", 3306));
        let t = target("mysql://root@[::1]:3310").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.host.as_str(), t.port), ("::1", 3310));
        assert!(target("postgres://x@y").is_err());
        assert!(target("mysql://root@host:notaport").is_err());
    }
}
