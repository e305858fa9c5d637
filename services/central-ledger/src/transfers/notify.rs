//! Notifications on `topic-notification-event`, shaped as the ML API Adapter's notification
//! handler expects them (services spec §5.3): `from`/`to` say who caused the event and who is
//! told, `content.headers` are the headers the callback starts from, `content.payload` is the
//! body (the original data URI when the original request is forwarded), `metadata.event.action`
//! selects the callback and `state` says success or the error.

use std::collections::BTreeMap;

use fspiop::envelope::{self, EventState, Message, UriParams};
use fspiop::headers::{media_type, ProtocolVersions};
use fspiop::FspiopError;
use serde_json::Value;

use crate::error::{Error, Result};

/// What a hub notification carries: a success payload or an error.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Payload(&'a Value),
    Error(&'a FspiopError),
}

/// Where notifications go and how the hub's own messages are written.
#[derive(Clone)]
pub struct Notifier {
    pub producer: bus::Producer,
    pub topic: String,
    pub hub_name: String,
    pub versions: ProtocolVersions,
    pub timeout_ms: u64,
    /// Attempts at delivering a batch's notifications ([`Notifier::deliver`]).
    pub attempts_max: u32,
    /// Pause before the second attempt; each later one waits this much longer.
    pub retry_delay_ms: u64,
}

impl Notifier {
    /// The original message forwarded (e.g. a prepare to the payee): same headers and payload.
    pub fn forward(
        &self,
        original: &Message,
        action: &str,
        event_id: &str,
        now_ms: i64,
    ) -> Message {
        let mut message = original.forward(
            event_id,
            envelope::event_type::NOTIFICATION,
            action,
            EventState::success(),
            now_ms,
        );
        message.content.uri_params = Some(UriParams {
            id: original.id.clone(),
        });
        message
    }

    /// A message from the hub to `to` about transfer `id` with `payload`, success or error.
    pub fn from_hub(
        &self,
        id: &str,
        to: &str,
        action: &str,
        body: Body<'_>,
        event_id: &str,
        now_ms: i64,
    ) -> Message {
        let mut headers = BTreeMap::new();
        headers.insert(
            "content-type".to_string(),
            media_type("transfers", self.versions.content_default),
        );
        headers.insert(
            "date".to_string(),
            fspiop::datetime::format_http_date(now_ms),
        );
        headers.insert("fspiop-source".to_string(), self.hub_name.clone());
        headers.insert("fspiop-destination".to_string(), to.to_string());
        let mut message = Message::from_request(
            id,
            &self.hub_name,
            to,
            headers,
            None,
            Some(id),
            envelope::event_type::NOTIFICATION,
            action,
            now_ms,
        );
        message.metadata.event.id = Some(event_id.to_string());
        match body {
            Body::Error(error) => {
                message.content.payload =
                    serde_json::to_value(error.to_body()).unwrap_or(Value::Null);
                message.metadata.event.state =
                    EventState::error(u32::from(error.code.code()), error.description());
            }
            Body::Payload(payload) => message.content.payload = payload.clone(),
        }
        message
    }

    /// [`Notifier::from_hub`] answering `original`: the message carries the version headers
    /// (`Content-Type`, `Accept`) of the request it answers, so the callback speaks the
    /// requester's FSPIOP version (the ML API Adapter's forwarder picks it from them).
    #[allow(
        clippy::too_many_arguments,
        reason = "from_hub's arguments and the original"
    )]
    pub fn answer(
        &self,
        original: &Message,
        id: &str,
        to: &str,
        action: &str,
        body: Body<'_>,
        event_id: &str,
        now_ms: i64,
    ) -> Message {
        let mut message = self.from_hub(id, to, action, body, event_id, now_ms);
        // The answer is part of the trace of what it answers.
        if let Some(context) = original.trace_context() {
            message.set_trace_context(&context);
        }
        for name in ["content-type", "accept"] {
            let asked = original
                .content
                .headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone());
            if let Some(value) = asked {
                message.content.headers.insert(name.to_string(), value);
            }
        }
        message
    }

    /// Produces every message and waits for the broker to take them all.
    /// Puts `messages` on the bus, trying up to `attempts_max` times (a retry sends them all
    /// again: a DFSP may hear one twice, never not at all). An error means they are not all
    /// on the bus: the caller must not commit past them.
    pub async fn deliver(&self, messages: &[Message]) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut attempt: u32 = 1;
        loop {
            match self.send_all(messages).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt < self.attempts_max => {
                    tracing::warn!(%error, attempt, messages = messages.len(), "notifications not delivered; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(
                        self.retry_delay_ms.saturating_mul(u64::from(attempt)),
                    ))
                    .await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Puts `messages` on the bus once (see [`Notifier::deliver`]).
    pub async fn send_all(&self, messages: &[Message]) -> Result<()> {
        let values = messages
            .iter()
            .map(|message| {
                serde_json::to_vec(message)
                    .map(|value| (message.id.as_str(), value))
                    .map_err(Error::Json)
            })
            .collect::<Result<Vec<_>>>()?;
        let records: Vec<(Option<&str>, &[u8])> = values
            .iter()
            .map(|(key, value)| (Some(*key), value.as_slice()))
            .collect();
        // Enqueued at once; the acknowledgements are awaited together.
        self.producer
            .send_all(&self.topic, &records, self.timeout_ms)
            .await
            .map_err(Error::Bus)
    }
}
