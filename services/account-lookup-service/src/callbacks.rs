//! Reaching participants: their callback endpoints from the directory, rendered with the
//! party's variables, and the callbacks the hub itself originates (results of `/participants`
//! requests, error callbacks).
//!
//! A participant without the endpoint a callback needs gets nothing, and the sender of the
//! original request is told with 1001 "Destination communication error - no {TYPE} endpoint
//! for DFSP {fsp}" where it can be reached.

use fspiop::{ErrorCode, FspiopError};
use fspiop_edge::OutboundRequest;

use crate::error::Error;
use crate::AppState;

pub const PARTIES_GET: &str = "FSPIOP_CALLBACK_URL_PARTIES_GET";
pub const PARTIES_SUB_ID_GET: &str = "FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_GET";
pub const PARTIES_PUT: &str = "FSPIOP_CALLBACK_URL_PARTIES_PUT";
pub const PARTIES_SUB_ID_PUT: &str = "FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_PUT";
pub const PARTIES_PUT_ERROR: &str = "FSPIOP_CALLBACK_URL_PARTIES_PUT_ERROR";
pub const PARTIES_SUB_ID_PUT_ERROR: &str = "FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_PUT_ERROR";
pub const PARTICIPANT_PUT: &str = "FSPIOP_CALLBACK_URL_PARTICIPANT_PUT";
pub const PARTICIPANT_SUB_ID_PUT: &str = "FSPIOP_CALLBACK_URL_PARTICIPANT_SUB_ID_PUT";
pub const PARTICIPANT_PUT_ERROR: &str = "FSPIOP_CALLBACK_URL_PARTICIPANT_PUT_ERROR";
pub const PARTICIPANT_SUB_ID_PUT_ERROR: &str = "FSPIOP_CALLBACK_URL_PARTICIPANT_SUB_ID_PUT_ERROR";
pub const PARTICIPANT_BATCH_PUT: &str = "FSPIOP_CALLBACK_URL_PARTICIPANT_BATCH_PUT";
pub const PARTICIPANT_BATCH_PUT_ERROR: &str = "FSPIOP_CALLBACK_URL_PARTICIPANT_BATCH_PUT_ERROR";

/// `with` when the request named a sub-id, else `without`.
pub fn pick(sub_id: bool, with: &'static str, without: &'static str) -> &'static str {
    if sub_id {
        with
    } else {
        without
    }
}

/// Percent-encodes what cannot stand in a URL path segment (everything but RFC 3986 `pchar`),
/// so an identifier such as `acc/1` stays one segment. Identifiers made of digits, letters,
/// `+` and `@` are unchanged.
pub fn encode_path_segment(text: &str) -> String {
    encode(text, |b| {
        b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
    })
}

/// Percent-encodes a query parameter value.
pub fn encode_query_value(text: &str) -> String {
    encode(text, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if keep(byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The rendered URL of `fsp`'s `endpoint_type` endpoint: 1001 when it has none, 2003 when the
/// directory cannot be read.
pub async fn endpoint_url(
    state: &AppState,
    fsp: &str,
    endpoint_type: &str,
    vars: &[(&str, String)],
) -> Result<String, FspiopError> {
    let template = state
        .directory
        .endpoint(fsp, endpoint_type)
        .await
        .map_err(|e| FspiopError::from(Error::from(e)))?;
    let template = template.ok_or_else(|| {
        FspiopError::with_detail(
            ErrorCode::DestinationCommunicationError,
            format!("no {endpoint_type} endpoint for DFSP {fsp}"),
        )
    })?;
    let vars: Vec<(&str, &str)> = vars
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    Ok(fspiop_edge::render_endpoint(&template, &vars))
}

/// Headers of a hub-originated callback built from the triggering request's: the sender's
/// signature, URI and method are dropped (the forwarder sets what the hub sends).
pub fn hub_headers(inbound: &[(String, String)]) -> Vec<(String, String)> {
    inbound
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                fspiop::headers::FSPIOP_SIGNATURE
                    | fspiop::headers::FSPIOP_URI
                    | fspiop::headers::FSPIOP_HTTP_METHOD
                    | "fspiop-proxy"
            )
        })
        .cloned()
        .collect()
}

/// A hub-originated `PUT` with a JSON body to `to`'s `endpoint_type` endpoint.
pub async fn send_hub_put(
    state: &AppState,
    to: &str,
    endpoint_type: &str,
    vars: &[(&str, String)],
    uri_path: String,
    inbound: &[(String, String)],
    body: &serde_json::Value,
) -> Result<(), FspiopError> {
    let url = endpoint_url(state, to, endpoint_type, vars).await?;
    let body = serde_json::to_vec(body)
        .map_err(|e| FspiopError::with_detail(ErrorCode::InternalServerError, e.to_string()))?;
    let result = state
        .forwarder
        .send(OutboundRequest {
            method: "PUT",
            url,
            uri_path,
            headers: hub_headers(inbound),
            source: state.config.hub.name.clone(),
            destination: to.to_string(),
            body: Some(body),
        })
        .await;
    state.metrics.callback(endpoint_type, &result);
    result
}

/// An error callback from the hub to `to`'s `endpoint_type` endpoint. Failures (no endpoint,
/// unreachable) are logged: there is nobody left to tell.
///
/// `answering` are the headers of the request the error answers: it speaks that request's
/// FSPIOP version (see `fspiop_edge::forwarder::answer_version`).
pub async fn send_error(
    state: &AppState,
    to: &str,
    endpoint_type: &str,
    vars: &[(&str, String)],
    uri_path: &str,
    error: &FspiopError,
    answering: &[(String, String)],
) {
    let resource = fspiop::headers::resource_of_path(uri_path);
    let result = match endpoint_url(state, to, endpoint_type, vars).await {
        Ok(url) => {
            state
                .forwarder
                .send_error_answering(to, &url, uri_path, resource, error, answering)
                .await
        }
        Err(problem) => Err(problem),
    };
    state.metrics.callback(endpoint_type, &result);
    if let Err(problem) = result {
        tracing::warn!(fsp = %to, %endpoint_type, error = %error, problem = %problem, "error callback not delivered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(encode_path_segment("+19012345401"), "+19012345401");
        assert_eq!(encode_path_segment("a.b@x.org"), "a.b@x.org");
        assert_eq!(encode_path_segment("acc/1?x#y%"), "acc%2F1%3Fx%23y%25");
        assert_eq!(encode_path_segment("é"), "%C3%A9");
        assert_eq!(encode_query_value("a+b&c=d"), "a%2Bb%26c%3Dd");
    }

    #[test]
    fn hub_headers_drop_the_senders_signature() {
        let inbound = vec![
            ("fspiop-signature".to_string(), "s".to_string()),
            ("fspiop-uri".to_string(), "/parties/MSISDN/1".to_string()),
            ("date".to_string(), "d".to_string()),
        ];
        assert_eq!(
            hub_headers(&inbound),
            vec![("date".to_string(), "d".to_string())]
        );
    }
}
