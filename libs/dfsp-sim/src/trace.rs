//! W3C trace context as a DFSP that traces would send it: a payment the payer driver makes is
//! one trace (each request with a new span id of the payer's), and a payee's answer continues
//! the trace of the request it answers. Carried in a task-local, so the message-sending code
//! needs no extra argument.

use std::future::Future;

use axum::http::HeaderMap;
use fspiop::trace_context::{TraceContext, TraceParent};

tokio::task_local! {
    static TRACE: TraceContext;
}

/// A new sampled trace for one payment.
pub(crate) fn new_trace() -> TraceContext {
    TraceContext {
        parent: TraceParent {
            trace_id: *uuid::Uuid::new_v4().as_bytes(),
            parent_id: span_id(),
            flags: 1,
        },
        state: None,
    }
}

/// A random, non-zero span id.
fn span_id() -> [u8; 8] {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut id = [0u8; 8];
    id.copy_from_slice(bytes.get(..8).unwrap_or(&[1; 8]));
    if id == [0; 8] {
        id[7] = 1;
    }
    id
}

/// The context of a received request, when it has a valid one.
pub(crate) fn of_headers(headers: &HeaderMap) -> Option<TraceContext> {
    TraceContext::from_headers(
        headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
    )
}

/// Runs `work` within `context` (as is without one).
pub(crate) async fn within<F: Future>(context: Option<TraceContext>, work: F) -> F::Output {
    match context {
        Some(context) => TRACE.scope(context, work).await,
        None => work.await,
    }
}

/// The `traceparent` and `tracestate` of a message sent now: the current trace, a new span.
pub(crate) fn outgoing_headers() -> Vec<(String, String)> {
    let Ok(context) = TRACE.try_with(Clone::clone) else {
        return Vec::new();
    };
    let mut headers = Vec::new();
    TraceContext {
        parent: TraceParent {
            parent_id: span_id(),
            ..context.parent
        },
        state: context.state,
    }
    .write_headers(&mut headers);
    headers
}
