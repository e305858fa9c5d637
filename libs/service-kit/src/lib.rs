//! Plumbing every switch service shares, so each service's `main` and router stay short and
//! every service answers the same way:
//!
//! - [`config`]: one typed `Config` per service, loaded from embedded defaults, an optional
//!   TOML file and `<PREFIX>__SECTION__FIELD` environment variables; errors name the key and
//!   where its value came from.
//! - [`health`]: Mojaloop's `/health` body (`status`, `uptime`, `startTime`, `versionNumber`,
//!   `services`) and its HTTP response.
//! - [`metrics`]: a small Prometheus registry (counters, gauges, histograms, text format 0.0.4)
//!   and the `/metrics` response, plus the HTTP request metrics every service records and the
//!   consumer lag gauge of the services that read the bus.
//! - [`http`]: FSPIOP error responses, JSON and empty responses, and the [`http::FspiopJson`]
//!   extractor that turns a bad body into the right FSPIOP error code.
//! - [`jws`]: the `[jws]` settings, the participants' public keys and the layer that validates
//!   inbound `FSPIOP-Signature` (3105 on failure).
//! - [`pki`]: a local certificate authority for tests and `mojaloop certs`.
//! - [`shutdown`]: a future that resolves on SIGINT or SIGTERM.
//! - [`tls`]: the `[tls]` settings, rustls server and client configurations from PEM files, the
//!   listener every service serves on (plain HTTP, or mutual TLS with the client certificate's
//!   identity tied to `FSPIOP-Source`).
//! - [`telemetry`]: the tracing subscriber (`RUST_LOG` or the service's default directives).
//!
//! **Invariant:** no business rules and no FSPIOP types beyond `FspiopError`; nothing here
//! knows what a transfer or a participant is.

pub mod config;
pub mod edge;
pub mod health;
pub mod http;
pub mod jws;
pub mod metrics;
pub mod pki;
pub mod shutdown;
pub mod tasks;
pub mod telemetry;
pub mod tls;
