//! Sending FSPIOP messages as a DFSP: the headers, the signature when JWS is on, and what
//! came back.

use super::*;

/// An outbound FSPIOP message's outcome: success, an FSPIOP error, or another failure.
pub(crate) enum Sent {
    Ok,
    Fspiop { code: String, description: String },
    Failed(String),
}

impl Inner {
    /// Sends one FSPIOP message with the DFSP's headers.
    pub(crate) async fn send(
        &self,
        method: &'static str,
        url: &str,
        uri_path: &str,
        source: &str,
        destination: Option<&str>,
        body: Option<&Value>,
    ) -> Sent {
        let resource = uri_path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), content_type(resource)),
            ("date".into(), fspiop::datetime::format_http_date(now_ms())),
            ("fspiop-source".into(), source.to_string()),
            ("fspiop-uri".into(), uri_path.to_string()),
            ("fspiop-http-method".into(), method.to_string()),
        ];
        if method != "PUT" && method != "PATCH" {
            headers.push((
                "accept".into(),
                format!("application/vnd.interoperability.{resource}+json;version=1"),
            ));
        }
        if let Some(destination) = destination {
            headers.push(("fspiop-destination".into(), destination.to_string()));
        }
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

    /// A payee's callback, timed from when its request arrived.
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
    ) {
        let ok = match self
            .send(
                "PUT",
                &format!("{base}{path}"),
                &path,
                source,
                Some(destination),
                Some(&body),
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
    }
}
