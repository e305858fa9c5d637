//! Sending FSPIOP messages as a DFSP: the headers, the signature when JWS is on, and what
//! came back.

use super::*;

/// The FSPIOP version a message is sent in: its `Content-Type`, and on requests its `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// `Content-Type` version 1.1, `Accept` version 1.
    V1,
    /// `Content-Type` version 2.0, `Accept` version 2 (the fx resources, and the quotes and
    /// transfers of a payment with a currency conversion).
    V2,
    /// `Content-Type` version 1.1, `Accept` versions 2 and 1: an FX-capable payer's lookup,
    /// which wants the payee's `supportedCurrencies` (2.0) but takes a 1.x answer.
    V2OrV1,
}

impl Wire {
    /// The version of a received `Content-Type` for `resource`: 2.x is [`Wire::V2`], anything
    /// else [`Wire::V1`].
    pub(crate) fn of_content_type(headers: &HeaderMap, resource: &str) -> Wire {
        let version = header(headers, "content-type")
            .and_then(|value| fspiop::headers::parse_content_type(&value, resource));
        match version {
            Some(version) if version.major == 2 => Wire::V2,
            _ => Wire::V1,
        }
    }

    /// The version to answer a request for `resource` in: 2.0 when its `Accept` lists a 2 or
    /// 2.x version, else 1.1 (as before FSPIOP 2.0, also for an `Accept` of any version).
    pub(crate) fn of_accept(headers: &HeaderMap, resource: &str) -> Wire {
        let accepted = header(headers, "accept")
            .and_then(|value| fspiop::headers::parse_accept(&value, resource))
            .unwrap_or_default();
        let two = accepted
            .iter()
            .any(|version| version.is_some_and(|v| v.major == 2));
        if two {
            Wire::V2
        } else {
            Wire::V1
        }
    }

    fn content_type(self, resource: &str) -> String {
        let version = match self {
            Wire::V1 | Wire::V2OrV1 => "1.1",
            Wire::V2 => "2.0",
        };
        format!("application/vnd.interoperability.{resource}+json;version={version}")
    }

    fn accept(self, resource: &str) -> String {
        let media = format!("application/vnd.interoperability.{resource}+json");
        match self {
            Wire::V1 => format!("{media};version=1"),
            Wire::V2 => format!("{media};version=2"),
            // No space after the comma: the switch's Accept parser takes none.
            Wire::V2OrV1 => format!("{media};version=2,{media};version=1"),
        }
    }
}

/// An outbound FSPIOP message's outcome: success, an FSPIOP error, or another failure.
pub(crate) enum Sent {
    Ok,
    Fspiop { code: String, description: String },
    Failed(String),
}

impl Inner {
    /// Sends one FSPIOP message with the DFSP's headers, in version `wire`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send(
        &self,
        method: &'static str,
        url: &str,
        uri_path: &str,
        source: &str,
        destination: Option<&str>,
        body: Option<&Value>,
        wire: Wire,
    ) -> Sent {
        let resource = uri_path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), wire.content_type(resource)),
            ("date".into(), fspiop::datetime::format_http_date(now_ms())),
            ("fspiop-source".into(), source.to_string()),
            ("fspiop-uri".into(), uri_path.to_string()),
            ("fspiop-http-method".into(), method.to_string()),
        ];
        if method != "PUT" && method != "PATCH" {
            headers.push(("accept".into(), wire.accept(resource)));
        }
        if let Some(destination) = destination {
            headers.push(("fspiop-destination".into(), destination.to_string()));
        }
        headers.extend(super::trace::outgoing_headers());
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        if let Some(keys) = &self.jws {
            keys.sign(source, method, url, uri_path, &mut headers, &bytes);
        }
        let mut builder = hyper::Request::builder().method(method).uri(url);
        for (name, value) in &headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = match builder.body(http_body_util::Full::new(bytes::Bytes::from(bytes))) {
            Ok(request) => request,
            Err(error) => return Sent::Failed(format!("{method} {url}: {error}")),
        };
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        let client = self.clients.get(source).unwrap_or(&self.client);
        let response = match tokio::time::timeout(timeout, client.request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return Sent::Failed(format!("{method} {url}: {error}")),
            Err(_) => {
                return Sent::Failed(format!(
                    "{method} {url}: no answer within {} ms",
                    self.config.request_timeout_ms
                ))
            }
        };
        let status = response.status();
        if status.is_success() {
            return Sent::Ok;
        }
        let body = match tokio::time::timeout(
            timeout,
            http_body_util::BodyExt::collect(http_body_util::Limited::new(
                response.into_body(),
                BODY_LEN_MAX_BYTES,
            )),
        )
        .await
        {
            Ok(Ok(collected)) => collected.to_bytes(),
            _ => bytes::Bytes::new(),
        };
        let parsed: Value = serde_json::from_slice(&body).unwrap_or_default();
        match at(&parsed, "/errorInformation/errorCode").as_str() {
            Some(code) => Sent::Fspiop {
                code: code.to_string(),
                description: at(&parsed, "/errorInformation/errorDescription")
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            },
            None => Sent::Failed(format!("{method} {url}: HTTP {}", status.as_u16())),
        }
    }

    /// A payee's (or an FXP's) callback in version `wire`, timed from when its request
    /// arrived; whether the switch accepted it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn answer(
        &self,
        phase: Phase,
        started: Instant,
        base: &str,
        path: String,
        source: &str,
        destination: &str,
        body: Value,
        wire: Wire,
    ) -> bool {
        if let (Some((resource, id)), Ok(mut answered)) = (
            path.trim_start_matches('/').split_once('/'),
            self.answered.lock(),
        ) {
            answered.insert(format!("{resource}:{source}:{id}"));
        }
        let ok = match self
            .send(
                "PUT",
                &format!("{base}{path}"),
                &path,
                source,
                Some(destination),
                Some(&body),
                wire,
            )
            .await
        {
            Sent::Ok => true,
            Sent::Fspiop { code, description } => {
                tracing::warn!(%path, %code, %description, "the switch refused a simulated DFSP's callback");
                false
            }
            Sent::Failed(detail) => {
                tracing::warn!(%path, %detail, "a simulated DFSP's callback failed");
                false
            }
        };
        self.record_outcome(phase, started.elapsed(), ok);
        ok
    }
}
