//! Outbound FSPIOP HTTP: requests forwarded from one participant to another, callbacks
//! relayed back, and errors the hub originates, with Mojaloop's outbound header rules
//! (services spec §1.5):
//!
//! - `content-length`, `host` and hop-by-hop headers are dropped (the client sets them);
//! - `FSPIOP-Source` and `FSPIOP-Destination` are set to who sends and who receives;
//! - `Date` is re-rendered as an IMF-fixdate (now, when the inbound one is missing);
//! - `FSPIOP-URI` is kept when the sender set it (it may be signed), else set to the path
//!   called; `FSPIOP-HTTP-Method` is set to the method used when present;
//! - from the hub: `Content-Type`/`Accept` speak the version of the request being answered
//!   (its `Content-Type` version, within what its `Accept` allows; the configured default
//!   versions when it carried neither, or one the hub does not support) and any inbound
//!   `FSPIOP-Signature` is dropped;
//! - on `PUT`, `Accept` is dropped;
//! - `traceparent`/`tracestate` (W3C trace context) are those of the request's own `forward`
//!   or `callback` hop span, the child of the `traceparent` it was given: the DFSP sees the
//!   trace the message belongs to, with the hub's hop as its parent.
//!
//! Outcome: 2xx is success; an `errorInformation` body is that error, relayed verbatim; any
//! other 404 is 3200, other 4xx 3000; 5xx, a network failure or a timeout is 1001.

use std::time::Duration;

use fspiop::headers::{self, media_type, ProtocolVersions, Version};
use fspiop::trace_context::TraceContext;
use fspiop::{ErrorCode, FspiopError};

use crate::EdgeError;

/// Settings of the outbound client.
#[derive(Debug, Clone)]
pub struct ForwarderConfig {
    /// Longest time one request may take, connection included.
    pub request_timeout_ms: u64,
    /// Idle keep-alive connections kept per destination host.
    pub idle_connections_per_host_max: usize,
    /// The hub's participant name, used as `FSPIOP-Source` on messages it originates.
    pub hub_name: String,
    pub versions: ProtocolVersions,
    /// TLS of `https://` endpoints: with mTLS on, the scheme CA that DFSP servers' certificates
    /// must chain to and the hub's client certificate to present
    /// (`service_kit::tls::TlsConfig::client`); `None`: the public web PKI roots and no client
    /// certificate. `http://` endpoints are called in plain HTTP either way.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl ForwarderConfig {
    /// The settings without client TLS ([`ForwarderConfig::tls`] `None`).
    pub fn new(
        request_timeout_ms: u64,
        idle_connections_per_host_max: usize,
        hub_name: &str,
        versions: ProtocolVersions,
    ) -> ForwarderConfig {
        ForwarderConfig {
            request_timeout_ms,
            idle_connections_per_host_max,
            hub_name: hub_name.to_string(),
            versions,
            tls: None,
        }
    }

    /// The same settings with `tls` for `https://` endpoints.
    pub fn with_tls(
        mut self,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> ForwarderConfig {
        self.tls = tls;
        self
    }
}

/// One outbound request.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: &'static str,
    pub url: String,
    /// The FSPIOP path being called (`/quotes/{id}`), for `FSPIOP-URI`.
    pub uri_path: String,
    /// Inbound headers, lower-case names.
    pub headers: Vec<(String, String)>,
    pub source: String,
    pub destination: String,
    pub body: Option<Vec<u8>>,
}

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;
type Client = hyper_util::client::legacy::Client<Connector, http_body_util::Full<bytes::Bytes>>;

/// The outbound client; clones share one connection pool. Built on hyper directly: higher-level
/// clients add headers of their own (`Accept: */*` on every request), which Mojaloop's header
/// rules refuse on callbacks.
#[derive(Clone)]
pub struct Forwarder {
    client: Client,
    config: std::sync::Arc<ForwarderConfig>,
    /// The hub's key: requests the hub originates are signed with it (`FSPIOP-Signature`).
    signer: Option<std::sync::Arc<fspiop::jws::SigningKey>>,
    /// Requests a peer answered with a refusal, by destination and code
    /// ([`refusals_counter`]).
    refusals: Option<service_kit::metrics::Counter>,
}

/// Registers `<prefix>callbacks_refused_total{destination, code}`: requests and callbacks a
/// peer answered with an error (its `errorInformation` code, else `http_<status>`).
pub fn refusals_counter(
    registry: &service_kit::metrics::Registry,
) -> service_kit::metrics::Counter {
    registry.counter(
        "callbacks_refused_total",
        "Requests and callbacks a participant answered with an error, by destination and code (its errorCode, else http_<status>)",
        &["destination", "code"],
    )
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// `error` and its sources, outermost first (`client error (SendRequest): connection closed
/// before message completed`): hyper's own Display names only the outermost.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Attempts of one request when the transport fails before any answer (see `send_in`).
const TRANSPORT_ATTEMPTS_MAX: u32 = 2;

/// Longest error body read from a peer.
const ERROR_BODY_LEN_MAX_BYTES: usize = 64 * 1024;
/// How long an idle keep-alive connection is kept.
const IDLE_CONNECTION_TIMEOUT_MS: u64 = 30_000;

const DROPPED: &[&str] = &[
    "content-length",
    "host",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
];

impl Forwarder {
    pub fn new(config: ForwarderConfig) -> Result<Forwarder, EdgeError> {
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_millis(config.request_timeout_ms)));
        let tls = match &config.tls {
            Some(tls) => (**tls).clone(),
            None => {
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| EdgeError::Client(e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth()
            }
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_millis(IDLE_CONNECTION_TIMEOUT_MS))
                .pool_max_idle_per_host(config.idle_connections_per_host_max)
                .build(connector);
        Ok(Forwarder {
            client,
            config: std::sync::Arc::new(config),
            signer: None,
            refusals: None,
        })
    }

    /// Signs every request the hub originates (a body sent with `FSPIOP-Source` = the hub) with
    /// `key`; forwarded requests keep their sender's signature.
    pub fn with_signer(
        mut self,
        key: Option<std::sync::Arc<fspiop::jws::SigningKey>>,
    ) -> Forwarder {
        self.signer = key;
        self
    }

    /// Counts the refusals peers answer (see [`refusals_counter`]).
    pub fn with_refusals(mut self, counter: service_kit::metrics::Counter) -> Forwarder {
        self.refusals = Some(counter);
        self
    }

    pub fn hub_name(&self) -> &str {
        &self.config.hub_name
    }

    fn is_hub(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(&self.config.hub_name)
    }

    /// The headers that go on the wire for `request`.
    pub fn outbound_headers(
        &self,
        request: &OutboundRequest,
        now_ms: i64,
    ) -> Vec<(String, String)> {
        let from_hub = self.is_hub(&request.source);
        let inbound = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let resource = inbound(headers::CONTENT_TYPE)
            .and_then(|ct| ct.strip_prefix("application/vnd.interoperability."))
            .and_then(|rest| rest.split_once("+json"))
            .map(|(resource, _)| resource.to_string())
            .unwrap_or_else(|| headers::resource_of_path(&request.uri_path).to_string());
        let mut out: Vec<(String, String)> = Vec::with_capacity(request.headers.len() + 4);
        for (name, value) in &request.headers {
            let name = name.to_ascii_lowercase();
            let replaced = DROPPED.contains(&name.as_str())
                || matches!(
                    name.as_str(),
                    headers::FSPIOP_SOURCE | headers::FSPIOP_DESTINATION | headers::DATE
                )
                || (name == headers::ACCEPT && request.method == "PUT")
                || (from_hub
                    && matches!(
                        name.as_str(),
                        headers::FSPIOP_SIGNATURE | headers::CONTENT_TYPE | headers::ACCEPT
                    ));
            if replaced {
                continue;
            }
            let value = if name == headers::FSPIOP_HTTP_METHOD {
                request.method.to_string()
            } else {
                value.clone()
            };
            out.push((name, value));
        }
        let date = inbound(headers::DATE)
            .and_then(fspiop::datetime::parse_http_date)
            .unwrap_or(now_ms);
        out.push((
            headers::DATE.to_string(),
            fspiop::datetime::format_http_date(date),
        ));
        out.push((headers::FSPIOP_SOURCE.to_string(), request.source.clone()));
        out.push((
            headers::FSPIOP_DESTINATION.to_string(),
            request.destination.clone(),
        ));
        if inbound(headers::FSPIOP_URI).is_none() {
            out.push((headers::FSPIOP_URI.to_string(), request.uri_path.clone()));
        }
        if from_hub {
            let content = answer_version(
                &self.config.versions,
                inbound(headers::CONTENT_TYPE),
                inbound(headers::ACCEPT),
            );
            out.push((
                headers::CONTENT_TYPE.to_string(),
                media_type(&resource, content),
            ));
            if inbound(headers::ACCEPT).is_some() && request.method != "PUT" {
                let accept = if content == self.config.versions.content_default {
                    self.config.versions.accept_default
                } else {
                    Version::major_only(content.major)
                };
                out.push((headers::ACCEPT.to_string(), media_type(&resource, accept)));
            }
        }
        out
    }

    /// Sends `request` and maps the answer to success or an FSPIOP error: a `forward` hop
    /// span (a `callback` one for `PUT` and `PATCH`) continuing the trace of the request's
    /// `traceparent`.
    pub async fn send(&self, request: OutboundRequest) -> Result<(), FspiopError> {
        use service_kit::telemetry::{Hop, HopKind};
        use tracing::Instrument as _;
        let given = TraceContext::from_headers(
            request
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        let kind = if matches!(request.method, "PUT" | "PATCH") {
            HopKind::Callback
        } else {
            HopKind::Forward
        };
        let name = format!(
            "{} /{}",
            request.method,
            headers::resource_of_path(&request.uri_path)
        );
        let hop = Hop::start(kind, &name, "fspiop-edge", given.as_ref());
        hop.record_peer(&request.destination);
        let outcome = self
            .send_in(request, hop.context())
            .instrument(hop.span().clone())
            .await;
        if outcome.is_err() {
            hop.record_error();
        }
        outcome
    }

    async fn send_in(
        &self,
        request: OutboundRequest,
        trace: Option<&TraceContext>,
    ) -> Result<(), FspiopError> {
        let now_ms = now_ms();
        let mut headers = self.outbound_headers(&request, now_ms);
        fspiop::trace_context::remove_headers(&mut headers);
        if let Some(trace) = trace {
            trace.write_headers(&mut headers);
        }
        if let Some(key) = &self.signer {
            self.sign(key, &request, &mut headers);
        }
        let unreachable = || {
            FspiopError::with_detail(
                ErrorCode::DestinationCommunicationError,
                "Failed to send HTTP request to host",
            )
        };
        let body = bytes::Bytes::from(request.body.unwrap_or_default());
        let build = || {
            let mut builder = hyper::Request::builder()
                .method(request.method)
                .uri(&request.url);
            for (name, value) in &headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            builder
                .body(http_body_util::Full::new(body.clone()))
                .map_err(|error| {
                    tracing::debug!(url = %request.url, %error, "outbound request is malformed");
                    unreachable()
                })
        };
        // A transport failure before any answer (a keep-alive connection the peer closed as
        // the request went out, a reset, a refused connect) is tried once more on another
        // connection within the same timeout: FSPIOP receivers take a resent request with the
        // same id as the same request, and a callback lost this way leaves a DFSP never told.
        // A peer that took the request and did not answer in time is not tried again.
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        let started = std::time::Instant::now();
        let mut attempt = 1;
        let response = loop {
            let remaining = timeout.saturating_sub(started.elapsed());
            match tokio::time::timeout(remaining, self.client.request(build()?)).await {
                Ok(Ok(response)) => break response,
                Ok(Err(error)) => {
                    tracing::debug!(
                        url = %request.url,
                        error = %error_chain(&error),
                        elapsed_ms = started.elapsed().as_millis(),
                        attempt,
                        "outbound request failed"
                    );
                    if attempt >= TRANSPORT_ATTEMPTS_MAX || started.elapsed() >= timeout {
                        return Err(unreachable());
                    }
                    attempt += 1;
                }
                Err(_) => {
                    tracing::debug!(
                        url = %request.url,
                        timeout_ms = self.config.request_timeout_ms,
                        attempt,
                        "outbound request timed out"
                    );
                    return Err(unreachable());
                }
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = read_limited(response.into_body(), timeout).await;
        let information = serde_json::from_slice::<fspiop::ErrorInformationObject>(&body)
            .ok()
            .map(|object| object.error_information);
        let code = information
            .as_ref()
            .map(|i| i.error_code.clone())
            .unwrap_or_else(|| format!("http_{}", status.as_u16()));
        // A refusal is the peer's word on what the hub sent (a signature it could not verify,
        // a body it did not accept): worth an operator's attention, unlike a timeout.
        tracing::warn!(
            method = request.method,
            url = %request.url,
            destination = %request.destination,
            status = status.as_u16(),
            %code,
            description = information.as_ref().map(|i| i.error_description.as_str()).unwrap_or(""),
            "the destination refused the request"
        );
        if let Some(counter) = &self.refusals {
            counter.inc(&[&request.destination, &code]);
        }
        if let Some(error) = information.and_then(FspiopError::received) {
            return Err(error);
        }
        Err(match status.as_u16() {
            404 => FspiopError::with_detail(
                ErrorCode::IdNotFound,
                format!("{} answered 404", request.destination),
            ),
            400..=499 => FspiopError::with_detail(
                ErrorCode::GenericClientError,
                format!("{} answered {}", request.destination, status.as_u16()),
            ),
            _ => FspiopError::with_detail(
                ErrorCode::DestinationCommunicationError,
                "Failed to send HTTP request to host",
            ),
        })
    }

    /// Adds `FSPIOP-Signature` (and the `FSPIOP-URI`/`FSPIOP-HTTP-Method` it protects) to a
    /// request the hub originates with a body. A signing failure is logged and the request
    /// goes unsigned: the receiver then refuses it as it would any unsigned request.
    fn sign(
        &self,
        key: &fspiop::jws::SigningKey,
        request: &OutboundRequest,
        headers: &mut Vec<(String, String)>,
    ) {
        let Some(body) = request.body.as_deref().filter(|b| !b.is_empty()) else {
            return;
        };
        if !self.is_hub(&request.source) || !matches!(request.method, "POST" | "PUT" | "PATCH") {
            return;
        }
        let view: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        match fspiop::jws::sign(key, request.method, &request.url, view.as_slice(), body) {
            Ok(signed) => {
                headers.retain(|(name, _)| {
                    !matches!(
                        name.as_str(),
                        headers::FSPIOP_SIGNATURE
                            | headers::FSPIOP_URI
                            | headers::FSPIOP_HTTP_METHOD
                    )
                });
                headers.push((headers::FSPIOP_URI.to_string(), signed.fspiop_uri));
                headers.push((
                    headers::FSPIOP_HTTP_METHOD.to_string(),
                    signed.fspiop_http_method,
                ));
                headers.push((
                    headers::FSPIOP_SIGNATURE.to_string(),
                    signed.signature_header,
                ));
            }
            Err(error) => {
                tracing::warn!(url = %request.url, %error, "hub request not signed");
            }
        }
    }

    /// A hub-originated error callback (`PUT …/error`) to participant `to`, in the default
    /// versions.
    pub async fn send_error(
        &self,
        to: &str,
        url: &str,
        uri_path: &str,
        resource: &str,
        error: &FspiopError,
    ) -> Result<(), FspiopError> {
        self.send_error_answering(to, url, uri_path, resource, error, &[])
            .await
    }

    /// A hub-originated error callback (`PUT …/error`) to participant `to`, answering a
    /// request with headers `answering` (lower-case names): it speaks that request's version
    /// and continues its trace.
    pub async fn send_error_answering(
        &self,
        to: &str,
        url: &str,
        uri_path: &str,
        resource: &str,
        error: &FspiopError,
        answering: &[(String, String)],
    ) -> Result<(), FspiopError> {
        let body = error.to_json().into_bytes();
        let asked = |name: &str| {
            answering
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        };
        let mut headers = vec![
            (
                headers::CONTENT_TYPE.to_string(),
                media_type(resource, self.config.versions.content_default),
            ),
            (headers::FSPIOP_HTTP_METHOD.to_string(), "PUT".to_string()),
            (headers::FSPIOP_URI.to_string(), uri_path.to_string()),
        ];
        if let Some(content_type) = asked(headers::CONTENT_TYPE) {
            if let Some(first) = headers.first_mut() {
                *first = content_type;
            }
        }
        // The version the requester accepts; `Accept` itself is dropped on a PUT.
        headers.extend(asked(headers::ACCEPT));
        // The error belongs to the trace of the request it answers.
        headers.extend(asked(fspiop::trace_context::TRACEPARENT));
        headers.extend(asked(fspiop::trace_context::TRACESTATE));
        self.send(OutboundRequest {
            method: "PUT",
            url: url.to_string(),
            uri_path: uri_path.to_string(),
            headers,
            source: self.config.hub_name.clone(),
            destination: to.to_string(),
            body: Some(body),
        })
        .await
    }
}

/// The `version` parameter of a media type (`…+json;version=2.0`).
fn version_param(value: &str) -> Option<Version> {
    value
        .split(';')
        .skip(1)
        .find_map(|param| param.trim().strip_prefix("version="))
        .and_then(|v| Version::parse(v.trim()))
}

/// The `Content-Type` version of a message the hub originates in answer to a request whose
/// headers were `content_type` and `accept`: the request's own version when the hub supports
/// it and the requester's `Accept` allows it, else the newest supported version `Accept`
/// allows, else the configured default. A DFSP on 2.0 hears 2.0; on 1.0, 1.0.
pub fn answer_version(
    versions: &ProtocolVersions,
    content_type: Option<&str>,
    accept: Option<&str>,
) -> Version {
    let supported = &versions.content_supported;
    let asked = content_type
        .and_then(version_param)
        .filter(|v| supported.contains(v));
    let Some(accept) = accept.and_then(version_param) else {
        return asked.unwrap_or(versions.content_default);
    };
    let allowed = |v: &Version| {
        v.major == accept.major && accept.minor.is_none_or(|minor| v.minor == Some(minor))
    };
    asked
        .filter(allowed)
        .or_else(|| supported.iter().copied().filter(allowed).max())
        .unwrap_or(versions.content_default)
}

async fn read_limited(body: hyper::body::Incoming, timeout: Duration) -> Vec<u8> {
    use http_body_util::BodyExt as _;
    let limited = http_body_util::Limited::new(body, ERROR_BODY_LEN_MAX_BYTES);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes().to_vec(),
        _ => Vec::new(),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarder() -> Forwarder {
        Forwarder::new(ForwarderConfig::new(
            1000,
            4,
            "Hub",
            ProtocolVersions::default(),
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn request(method: &'static str, source: &str) -> OutboundRequest {
        OutboundRequest {
            method,
            url: "http://payee/quotes".into(),
            uri_path: "/quotes".into(),
            headers: vec![
                (
                    "content-type".into(),
                    "application/vnd.interoperability.quotes+json;version=2.0".into(),
                ),
                (
                    "accept".into(),
                    "application/vnd.interoperability.quotes+json;version=2".into(),
                ),
                ("content-length".into(), "123".into()),
                ("host".into(), "switch".into()),
                ("date".into(), "Tue, 15 Nov 1994 08:12:31 GMT".into()),
                ("fspiop-source".into(), "perffsp-1".into()),
                (
                    "fspiop-signature".into(),
                    "{\"signature\":\"s\",\"protectedHeader\":\"p\"}".into(),
                ),
                ("fspiop-http-method".into(), "POST".into()),
                ("x-forwarded-for".into(), "10.0.0.1".into()),
            ],
            source: source.into(),
            destination: "perffsp-5".into(),
            body: None,
        }
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn forwarded_requests_keep_the_senders_headers() {
        let out = forwarder().outbound_headers(&request("POST", "perffsp-1"), 0);
        assert_eq!(
            get(&out, "content-type"),
            Some("application/vnd.interoperability.quotes+json;version=2.0")
        );
        assert_eq!(
            get(&out, "accept"),
            Some("application/vnd.interoperability.quotes+json;version=2")
        );
        assert!(get(&out, "fspiop-signature").is_some());
        assert_eq!(get(&out, "fspiop-destination"), Some("perffsp-5"));
        assert_eq!(get(&out, "fspiop-source"), Some("perffsp-1"));
        assert_eq!(get(&out, "fspiop-uri"), Some("/quotes"));
        assert_eq!(get(&out, "date"), Some("Tue, 15 Nov 1994 08:12:31 GMT"));
        assert_eq!(get(&out, "x-forwarded-for"), Some("10.0.0.1"));
        assert_eq!(get(&out, "content-length"), None);
        assert_eq!(get(&out, "host"), None);
    }

    #[test]
    fn put_drops_accept_and_sets_the_method() {
        let out = forwarder().outbound_headers(&request("PUT", "perffsp-1"), 0);
        assert_eq!(get(&out, "accept"), None);
        assert_eq!(get(&out, "fspiop-http-method"), Some("PUT"));
    }

    #[test]
    fn hub_messages_answer_in_the_requesters_version_without_its_signature() {
        let out = forwarder().outbound_headers(&request("POST", "Hub"), 0);
        assert_eq!(
            get(&out, "content-type"),
            Some("application/vnd.interoperability.quotes+json;version=2.0")
        );
        assert_eq!(
            get(&out, "accept"),
            Some("application/vnd.interoperability.quotes+json;version=2")
        );
        assert_eq!(get(&out, "fspiop-signature"), None);
        assert_eq!(get(&out, "fspiop-source"), Some("Hub"));

        // Without a version to answer, the configured defaults.
        let mut bare = request("POST", "Hub");
        bare.headers
            .retain(|(n, _)| n != "content-type" && n != "accept");
        let out = forwarder().outbound_headers(&bare, 0);
        assert_eq!(
            get(&out, "content-type"),
            Some("application/vnd.interoperability.quotes+json;version=1.1")
        );
    }

    #[test]
    fn the_answer_version_follows_the_request_within_its_accept() {
        let versions = ProtocolVersions::default();
        let ct = |v: &str| format!("application/vnd.interoperability.transfers+json;version={v}");
        let answer = |content: Option<&str>, accept: Option<&str>| {
            answer_version(
                &versions,
                content.map(ct).as_deref(),
                accept.map(ct).as_deref(),
            )
            .to_string()
        };
        assert_eq!(answer(Some("2.0"), Some("2")), "2.0");
        assert_eq!(answer(Some("1.0"), None), "1.0");
        assert_eq!(answer(Some("1.1"), Some("1")), "1.1");
        // A 1.1 request from a DFSP that accepts only 2: the newest 2.x.
        assert_eq!(answer(Some("1.1"), Some("2")), "2.0");
        // Accept with a minor pins it.
        assert_eq!(answer(Some("1.1"), Some("1.0")), "1.0");
        // Versions the hub does not speak fall back to the default.
        assert_eq!(answer(Some("3.0"), None), "1.1");
        assert_eq!(answer(None, Some("9")), "1.1");
        assert_eq!(answer(None, None), "1.1");
    }
}
