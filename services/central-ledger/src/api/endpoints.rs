//! Participants' callback endpoints.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EndpointBody {
    #[serde(rename = "type")]
    endpoint_type: String,
    value: String,
}

/// Longest endpoint value (`participantEndpoint.value` is VARCHAR(512)).
const ENDPOINT_VALUE_LEN_MAX: usize = 512;

pub(super) async fn add_endpoint(
    State(state): State<AppState>,
    Path(name): Path<String>,
    FspiopJson(body): FspiopJson<EndpointBody>,
) -> Result<Response> {
    let participant = state.store.participant(&name).await?;
    if body.value.is_empty() || body.value.chars().count() > ENDPOINT_VALUE_LEN_MAX {
        return Err(bad(
            ErrorCode::GenericValidationError,
            "value must be 1 to 512 characters",
        ));
    }
    if !state
        .store
        .endpoint_type_exists(&body.endpoint_type)
        .await?
    {
        return Err(bad(
            ErrorCode::GenericValidationError,
            format!("endpoint type {:?} does not exist", body.endpoint_type),
        ));
    }
    state
        .store
        .upsert_endpoint(participant.id, &body.endpoint_type, &body.value)
        .await?;
    Ok(empty_response(201))
}

#[derive(Debug, Deserialize)]
pub(super) struct TypeQuery {
    #[serde(rename = "type")]
    endpoint_type: Option<String>,
}

pub(super) async fn endpoints(
    State(state): State<AppState>,
    Path(name): Path<String>,
    FspiopQuery(query): FspiopQuery<TypeQuery>,
) -> Result<Response> {
    let participant = state.store.participant(&name).await?;
    let found = state
        .store
        .endpoints(participant.id, query.endpoint_type.as_deref())
        .await?;
    let items: Vec<Value> = found
        .iter()
        .map(|(t, v)| json!({ "type": t, "value": v }))
        .collect();
    Ok(match query.endpoint_type {
        Some(_) => json_response(200, &items.into_iter().next().unwrap_or_else(|| json!({}))),
        None => json_response(200, &items),
    })
}
