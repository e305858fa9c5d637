//! Calling oracles over HTTP (services.md §3.8), through one keep-alive client:
//!
//! | call | URL | expected |
//! | --- | --- | --- |
//! | lookup | `GET {base}/participants/{Type}/{ID}[?currency=C][&partySubIdOrType=S]` | 200 `{"partyList":[{"fspId","partySubIdOrType"?}]}` |
//! | create | `POST {base}/participants/{Type}/{ID}` with `{fspId, currency?, extensionList?, partySubIdOrType?}` | 2xx |
//! | update | `PUT` same | 2xx |
//! | delete | `DELETE {base}/participants/{Type}/{ID}[/{SubId}]` | 2xx |
//! | batch | `POST {base}/participants` with `{requestId, partyList}` | 2xx `{"partyList":[{"partyId","errorInformation"?}]}` |
//!
//! The oracle gets the DFSP's headers with `FSPIOP-Source` = the DFSP and
//! `FSPIOP-Destination` = the request's destination or the hub. Outcomes: an
//! `errorInformation` body is that error, relayed verbatim; an oracle that cannot be reached
//! (refused, timed out) or answers 5xx without one is 2003 "Service currently unavailable";
//! 404 without a body 3200, other 4xx 3000; no oracle registered for the type 3003 "Oracle
//! type:{Type} not found". A lookup answered 404 (with or without a body) is 3204 "Party not
//! found", as an empty `partyList` is.
//!
//! Lookup answers may be cached per URL for `lookup_cache_ttl_ms` (off by default); a
//! registration, update or deletion through this service drops the party's entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fspiop::{ErrorCode, FspiopError};
use serde::Deserialize;
use serde_json::Value;

use crate::callbacks::{encode_path_segment, encode_query_value};
use crate::config::OracleConfig;
use crate::error::Error;
use crate::inbound::PartyRef;
use crate::registry::{self, Registry};
use crate::Metrics;

/// One entry of an oracle's `partyList`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OracleParty {
    pub fsp_id: String,
    #[serde(default)]
    pub party_sub_id_or_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LookupAnswer {
    #[serde(default)]
    party_list: Vec<OracleParty>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchAnswer {
    #[serde(default)]
    party_list: Vec<Value>,
}

/// Who is asking: the DFSP's headers, source and destination.
pub struct Caller<'a> {
    pub headers: &'a [(String, String)],
    pub source: &'a str,
    pub destination: Option<&'a str>,
}

const DROPPED: &[&str] = &[
    "content-length",
    "host",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "fspiop-source",
    "fspiop-destination",
];

/// A party: its type and identifier.
type PartyKey = (String, String);
/// One cached answer: the URL asked, when, and the answer.
type CachedAnswer = (String, Instant, Arc<Vec<OracleParty>>);

/// Cached lookup answers, by party and then by URL.
struct LookupCache {
    ttl: Duration,
    parties_max: usize,
    entries: Mutex<HashMap<PartyKey, Vec<CachedAnswer>>>,
}

impl LookupCache {
    fn get(&self, key: &PartyKey, url: &str) -> Option<Arc<Vec<OracleParty>>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)?
            .iter()
            .find(|(cached_url, fetched, _)| cached_url == url && fetched.elapsed() < self.ttl)
            .map(|(_, _, parties)| parties.clone())
    }

    fn put(&self, key: PartyKey, url: String, parties: Arc<Vec<OracleParty>>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.parties_max && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries
                .retain(|_, cached| cached.iter().any(|(_, fetched, _)| fetched.elapsed() < ttl));
            if entries.len() >= self.parties_max {
                return;
            }
        }
        let cached = entries.entry(key).or_default();
        cached
            .retain(|(cached_url, fetched, _)| cached_url != &url && fetched.elapsed() < self.ttl);
        cached.push((url, Instant::now(), parties));
    }

    fn forget(&self, key: &PartyKey) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// The oracle client; clones share the connection pool, the registry cache and the lookup
/// cache.
#[derive(Clone)]
pub struct Oracles {
    registry: Registry,
    client: reqwest::Client,
    hub_name: Arc<str>,
    cache: Option<Arc<LookupCache>>,
    metrics: Metrics,
    local: Option<Arc<LocalOracle>>,
    request_timeout: Duration,
}

/// An oracle served by this same process (`mojaloop up`): calls to its base URL go to its
/// router directly, through the same handlers and edge layers as over the socket, without the
/// HTTP round trip. Any other URL is called over HTTP.
pub struct LocalOracle {
    base: String,
    app: axum::Router,
}

impl LocalOracle {
    /// `base` is the URL the oracle is registered under (`http://127.0.0.1:4003`).
    pub fn new(base: &str, app: axum::Router) -> LocalOracle {
        LocalOracle {
            base: base.trim_end_matches('/').to_string(),
            app,
        }
    }

    /// The path and query of `url` when it is this oracle's.
    fn path_of<'u>(&self, url: &'u str) -> Option<&'u str> {
        let rest = url.strip_prefix(self.base.as_str())?;
        (rest.starts_with('/') || rest.starts_with('?')).then_some(rest)
    }
}

/// Longest answer read from an in-process oracle (a batch answer for 10 000 parties fits).
const LOCAL_ANSWER_LEN_MAX_BYTES: usize = 16 * 1024 * 1024;

impl Oracles {
    pub fn new(
        registry: Registry,
        config: &OracleConfig,
        hub_name: &str,
        metrics: Metrics,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Oracles, Error> {
        let mut client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .pool_max_idle_per_host(config.idle_connections_per_host_max)
            .tcp_nodelay(true);
        if let Some(tls) = tls {
            // https:// oracles: the scheme CA and the hub's client certificate.
            client = client.use_preconfigured_tls((*tls).clone());
        }
        let client = client
            .build()
            .map_err(|e| Error::Internal(format!("oracle HTTP client: {e}")))?;
        let cache = config.lookup_cache_enabled.then(|| {
            Arc::new(LookupCache {
                ttl: Duration::from_millis(config.lookup_cache_ttl_ms),
                parties_max: config.lookup_cache_entries_max,
                entries: Mutex::new(HashMap::new()),
            })
        });
        Ok(Oracles {
            registry,
            client,
            hub_name: Arc::from(hub_name),
            cache,
            metrics,
            local: None,
            request_timeout: Duration::from_millis(config.request_timeout_ms),
        })
    }

    /// Calls to `local`'s base URL go to its router in-process.
    pub fn with_local(mut self, local: LocalOracle) -> Oracles {
        self.local = Some(Arc::new(local));
        self
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Drops every cached lookup answer and the cached registry.
    pub fn invalidate(&self) {
        self.registry.invalidate();
        if let Some(cache) = &self.cache {
            cache.clear();
        }
    }

    /// The base URL of the oracle for `party_type` (and `currency`, for lookups).
    async fn base_url(
        &self,
        party_type: &str,
        currency: Option<&str>,
    ) -> Result<String, FspiopError> {
        let rows = self.registry.active().await.map_err(FspiopError::from)?;
        let row = registry::select(&rows, party_type, currency).ok_or_else(|| {
            let detail = match currency {
                Some(currency) => {
                    format!("Oracle type:{party_type} and currency:{currency} not found")
                }
                None => format!("Oracle type:{party_type} not found"),
            };
            FspiopError::with_detail(ErrorCode::AddPartyInfoError, detail)
        })?;
        Ok(row.value.trim_end_matches('/').to_string())
    }

    fn party_url(base: &str, party: &PartyRef) -> String {
        format!(
            "{base}/participants/{}/{}",
            encode_path_segment(&party.party_type),
            encode_path_segment(&party.id)
        )
    }

    /// The oracle's mappings for the party; with a sub-id only that sub-id's (the oracle is
    /// asked with `?partySubIdOrType=`).
    pub async fn lookup(
        &self,
        caller: &Caller<'_>,
        party: &PartyRef,
        currency: Option<&str>,
    ) -> Result<Arc<Vec<OracleParty>>, FspiopError> {
        let base = self.base_url(&party.party_type, currency).await?;
        let mut url = Self::party_url(&base, party);
        let mut separator = '?';
        if let Some(currency) = currency {
            url.push_str(&format!(
                "{separator}currency={}",
                encode_query_value(currency)
            ));
            separator = '&';
        }
        if let Some(sub_id) = &party.sub_id {
            url.push_str(&format!(
                "{separator}partySubIdOrType={}",
                encode_query_value(sub_id)
            ));
        }
        let key = (party.party_type.clone(), party.id.clone());
        if let Some(parties) = self.cache.as_ref().and_then(|cache| cache.get(&key, &url)) {
            self.metrics.oracle_cache_hits.inc(&[]);
            return Ok(parties);
        }
        let body = self
            .call("lookup", reqwest::Method::GET, &url, caller, None)
            .await?;
        let answer: LookupAnswer = serde_json::from_slice(&body).map_err(|e| {
            FspiopError::with_detail(
                ErrorCode::InternalServerError,
                format!("oracle answered an unreadable partyList: {e}"),
            )
        })?;
        let parties = Arc::new(answer.party_list);
        if let Some(cache) = &self.cache {
            cache.put(key, url, parties.clone());
        }
        Ok(parties)
    }

    /// `POST` (create) or `PUT` (update) of the party's mapping with `body`.
    pub async fn write(
        &self,
        caller: &Caller<'_>,
        party: &PartyRef,
        update: bool,
        body: &Value,
    ) -> Result<(), FspiopError> {
        let base = self.base_url(&party.party_type, None).await?;
        let url = Self::party_url(&base, party);
        self.forget(party);
        let body = serde_json::to_vec(body)
            .map_err(|e| FspiopError::with_detail(ErrorCode::InternalServerError, e.to_string()))?;
        let (operation, method) = if update {
            ("update", reqwest::Method::PUT)
        } else {
            ("create", reqwest::Method::POST)
        };
        self.call(operation, method, &url, caller, Some(body))
            .await
            .map(|_| ())
    }

    /// `DELETE` of the party's mapping (only the sub-id's when there is one).
    pub async fn delete(&self, caller: &Caller<'_>, party: &PartyRef) -> Result<(), FspiopError> {
        let base = self.base_url(&party.party_type, None).await?;
        let mut url = Self::party_url(&base, party);
        if let Some(sub_id) = &party.sub_id {
            url.push('/');
            url.push_str(&encode_path_segment(sub_id));
        }
        self.forget(party);
        self.call("delete", reqwest::Method::DELETE, &url, caller, None)
            .await
            .map(|_| ())
    }

    /// The batch registration of parties of one type; returns the oracle's `partyList`.
    pub async fn batch(
        &self,
        caller: &Caller<'_>,
        party_type: &str,
        body: &Value,
    ) -> Result<Vec<Value>, FspiopError> {
        let base = self.base_url(party_type, None).await?;
        let url = format!("{base}/participants");
        if let Some(cache) = &self.cache {
            cache.clear();
        }
        let body = serde_json::to_vec(body)
            .map_err(|e| FspiopError::with_detail(ErrorCode::InternalServerError, e.to_string()))?;
        let answer = self
            .call("batch", reqwest::Method::POST, &url, caller, Some(body))
            .await?;
        let answer: BatchAnswer = serde_json::from_slice(&answer).map_err(|e| {
            FspiopError::with_detail(
                ErrorCode::InternalServerError,
                format!("oracle answered an unreadable partyList: {e}"),
            )
        })?;
        Ok(answer.party_list)
    }

    fn forget(&self, party: &PartyRef) {
        if let Some(cache) = &self.cache {
            cache.forget(&(party.party_type.clone(), party.id.clone()));
        }
    }

    /// One request to an oracle; the body of a 2xx answer, or the FSPIOP error it stands for.
    async fn call(
        &self,
        operation: &str,
        method: reqwest::Method,
        url: &str,
        caller: &Caller<'_>,
        body: Option<Vec<u8>>,
    ) -> Result<axum::body::Bytes, FspiopError> {
        let started = Instant::now();
        let result = self
            .call_inner(method, url, caller, body)
            .await
            .map_err(|(status, error)| {
                // A lookup the oracle answers 404 is a party it does not know, whatever the
                // body says (Mojaloop's oracles answer 3200 or nothing): 3204, as the ALS
                // reports an empty partyList.
                if operation == "lookup" && status == Some(404) {
                    tracing::debug!(%url, error = %error.description(), "oracle answered 404");
                    FspiopError::new(ErrorCode::PartyNotFound)
                } else {
                    error
                }
            });
        let outcome = match &result {
            Ok(_) => "ok",
            Err(_) => "error",
        };
        self.metrics
            .oracle_requests
            .observe(&[operation, outcome], started.elapsed().as_secs_f64());
        result
    }

    async fn call_inner(
        &self,
        method: reqwest::Method,
        url: &str,
        caller: &Caller<'_>,
        body: Option<Vec<u8>>,
    ) -> Result<axum::body::Bytes, (Option<u16>, FspiopError)> {
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(caller.headers.len() + 3);
        let mut has_content_type = false;
        for (name, value) in caller.headers {
            if DROPPED.contains(&name.as_str())
                || (name == "accept" && method == reqwest::Method::PUT)
            {
                continue;
            }
            has_content_type |= name == "content-type";
            headers.push((name.as_str(), value.as_str()));
        }
        headers.push((fspiop::headers::FSPIOP_SOURCE, caller.source));
        headers.push((
            fspiop::headers::FSPIOP_DESTINATION,
            caller.destination.unwrap_or(&self.hub_name),
        ));
        if body.is_some() && !has_content_type {
            headers.push(("content-type", "application/json"));
        }
        let unreachable = |detail: String| {
            FspiopError::with_detail(ErrorCode::ServiceCurrentlyUnavailable, detail)
        };
        let (status, bytes) = match self
            .local
            .as_ref()
            .and_then(|local| Some((local, local.path_of(url)?)))
        {
            Some((local, path)) => {
                let answer = tokio::time::timeout(
                    self.request_timeout,
                    call_local(local, method, path, &headers, body),
                )
                .await;
                match answer {
                    Ok(Ok(answer)) => answer,
                    Ok(Err(error)) => {
                        tracing::warn!(%url, %error, "in-process oracle call failed");
                        return Err((None, unreachable("oracle unreachable".to_string())));
                    }
                    Err(_) => {
                        tracing::warn!(%url, "in-process oracle call timed out");
                        return Err((None, unreachable("oracle unreachable".to_string())));
                    }
                }
            }
            None => {
                let mut request = self.client.request(method, url);
                for (name, value) in &headers {
                    request = request.header(*name, *value);
                }
                if let Some(body) = body {
                    request = request.body(body);
                }
                let response = request.send().await.map_err(|error| {
                    tracing::warn!(%url, %error, "oracle unreachable");
                    (None, unreachable("oracle unreachable".to_string()))
                })?;
                let status = response.status();
                let bytes = response.bytes().await.map_err(|error| {
                    tracing::warn!(%url, %error, "oracle answer unreadable");
                    (
                        Some(status.as_u16()),
                        unreachable("oracle answer could not be read".to_string()),
                    )
                })?;
                (status, bytes)
            }
        };
        if status.is_success() {
            return Ok(bytes);
        }
        let failed = |error| (Some(status.as_u16()), error);
        if let Some(error) = serde_json::from_slice::<fspiop::ErrorInformationObject>(&bytes)
            .ok()
            .and_then(|object| FspiopError::received(object.error_information))
        {
            return Err(failed(error));
        }
        Err(failed(match status.as_u16() {
            404 => FspiopError::with_detail(ErrorCode::IdNotFound, "oracle answered 404"),
            400..=499 => FspiopError::with_detail(
                ErrorCode::GenericClientError,
                format!("oracle answered {}", status.as_u16()),
            ),
            _ => unreachable(format!("oracle answered {}", status.as_u16())),
        }))
    }
}

/// One request to an in-process oracle's router: its status and body.
async fn call_local(
    local: &LocalOracle,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<(reqwest::StatusCode, axum::body::Bytes), String> {
    use tower::ServiceExt as _;
    let mut request = axum::http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(body.map(axum::body::Body::from).unwrap_or_default())
        .map_err(|e| e.to_string())?;
    let response = match local.app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), LOCAL_ANSWER_LEN_MAX_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, bytes))
}
