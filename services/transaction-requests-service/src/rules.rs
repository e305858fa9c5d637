//! What the switch decides about a transaction request message, with no IO: who may send it,
//! whether a resent request is the same request, whether it has expired. Time comes in as
//! milliseconds since the epoch.

use fspiop::{ErrorCode, FspiopError};

/// The FSPIOP resource a message belongs to: its paths, media type and callback endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/transactionRequests`, delivered to `FSPIOP_CALLBACK_URL_TRX_REQ_SERVICE`.
    TransactionRequests,
    /// `/authorizations`, delivered to `FSPIOP_CALLBACK_URL_AUTHORIZATIONS`.
    Authorizations,
}

impl Resource {
    /// The resource's name in paths and media types.
    pub fn name(self) -> &'static str {
        match self {
            Resource::TransactionRequests => "transactionRequests",
            Resource::Authorizations => "authorizations",
        }
    }

    /// The endpoint type (a base URL) its messages are delivered to.
    pub fn endpoint_type(self) -> &'static str {
        match self {
            Resource::TransactionRequests => "FSPIOP_CALLBACK_URL_TRX_REQ_SERVICE",
            Resource::Authorizations => "FSPIOP_CALLBACK_URL_AUTHORIZATIONS",
        }
    }
}

/// One of the seven messages the service relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// `POST /transactionRequests`: payee → payer.
    Request,
    /// `PUT /transactionRequests/{ID}`: payer → payee.
    RequestPut,
    /// `PUT /transactionRequests/{ID}/error`: either way.
    RequestError,
    /// `GET /transactionRequests/{ID}`: either way.
    RequestGet,
    /// `GET /authorizations/{ID}`: payer → payee (the payee's device takes the OTP).
    AuthorizationGet,
    /// `PUT /authorizations/{ID}`: payee → payer.
    AuthorizationPut,
    /// `PUT /authorizations/{ID}/error`: either way.
    AuthorizationError,
}

/// Which party of a request may send a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Payer,
    Payee,
    Either,
}

impl Message {
    /// The metric label.
    pub fn action(self) -> &'static str {
        match self {
            Message::Request => "request",
            Message::RequestPut => "request-put",
            Message::RequestError => "request-error",
            Message::RequestGet => "request-get",
            Message::AuthorizationGet => "authorization-get",
            Message::AuthorizationPut => "authorization-put",
            Message::AuthorizationError => "authorization-error",
        }
    }

    pub fn resource(self) -> Resource {
        match self {
            Message::Request
            | Message::RequestPut
            | Message::RequestError
            | Message::RequestGet => Resource::TransactionRequests,
            Message::AuthorizationGet | Message::AuthorizationPut | Message::AuthorizationError => {
                Resource::Authorizations
            }
        }
    }

    pub fn method(self) -> &'static str {
        match self {
            Message::Request => "POST",
            Message::RequestGet | Message::AuthorizationGet => "GET",
            _ => "PUT",
        }
    }

    /// Who may send it, once the request is known.
    pub fn sender(self) -> Sender {
        match self {
            Message::Request | Message::AuthorizationPut => Sender::Payee,
            Message::RequestPut | Message::AuthorizationGet => Sender::Payer,
            Message::RequestError | Message::RequestGet | Message::AuthorizationError => {
                Sender::Either
            }
        }
    }

    /// The FSPIOP path of the message for request `id` (without a query).
    pub fn path(self, id: &str) -> String {
        let resource = self.resource().name();
        match self {
            Message::Request => format!("/{resource}"),
            Message::RequestError | Message::AuthorizationError => {
                format!("/{resource}/{id}/error")
            }
            _ => format!("/{resource}/{id}"),
        }
    }
}

/// The two DFSPs of a recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    /// The payee's DFSP: it asked.
    pub payee_fsp: String,
    /// The payer's DFSP: it was asked.
    pub payer_fsp: String,
}

/// A message about a recorded request must travel between its two DFSPs, from the side that
/// may send it: anything else is refused 3100 and not relayed. (Mojaloop relays any message to
/// any FSPIOP-Destination.)
pub fn check_sender(
    message: Message,
    id: &str,
    parties: &Parties,
    source: &str,
    destination: &str,
) -> Result<(), FspiopError> {
    let payer_to_payee = source == parties.payer_fsp && destination == parties.payee_fsp;
    let payee_to_payer = source == parties.payee_fsp && destination == parties.payer_fsp;
    let allowed = match message.sender() {
        Sender::Payer => payer_to_payee,
        Sender::Payee => payee_to_payer,
        Sender::Either => payer_to_payee || payee_to_payer,
    };
    if allowed {
        return Ok(());
    }
    let role = match message.sender() {
        Sender::Payer => "from its payer DFSP to its payee DFSP",
        Sender::Payee => "from its payee DFSP to its payer DFSP",
        Sender::Either => "between its payer and payee DFSPs",
    };
    Err(FspiopError::with_detail(
        ErrorCode::GenericValidationError,
        format!(
            "{} {} for transaction request {id} must go {role} ({} and {}), not from {source} to {destination}",
            message.method(),
            message.path(id),
            parties.payer_fsp,
            parties.payee_fsp
        ),
    ))
}

/// What a `POST /transactionRequests` is, given the hash of the request already recorded
/// under its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// A new request.
    New,
    /// The same request again: relayed again (the payer's DFSP answers a resend with its
    /// earlier answer).
    Same,
    /// Another request under a used id: 3106.
    Changed,
}

/// Compares a POST's hash with what is recorded.
pub fn judge_resend(recorded_hash: Option<&str>, hash: &str) -> Resend {
    match recorded_hash {
        None => Resend::New,
        Some(recorded) if recorded == hash => Resend::Same,
        Some(_) => Resend::Changed,
    }
}

/// The 3106 a changed resend gets.
pub fn modified_request(id: &str) -> FspiopError {
    FspiopError::with_detail(
        ErrorCode::ModifiedRequest,
        format!("transaction request {id} was sent before with a different body"),
    )
}

/// A request whose `expiration` has passed is refused 3301 and not relayed.
pub fn check_expiration(
    id: &str,
    expiration_ms: Option<i64>,
    now_ms: i64,
) -> Result<(), FspiopError> {
    match expiration_ms {
        Some(at) if at <= now_ms => Err(FspiopError::with_detail(
            ErrorCode::TransactionRequestExpired,
            format!("transaction request {id} expired before the switch received it"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parties() -> Parties {
        Parties {
            payee_fsp: "merchant".into(),
            payer_fsp: "bank".into(),
        }
    }

    #[test]
    fn each_message_comes_from_its_side() {
        let p = parties();
        let ok = |m, s, d| check_sender(m, "id", &p, s, d).is_ok();
        assert!(ok(Message::RequestPut, "bank", "merchant"));
        assert!(!ok(Message::RequestPut, "merchant", "bank"));
        assert!(ok(Message::AuthorizationGet, "bank", "merchant"));
        assert!(!ok(Message::AuthorizationGet, "merchant", "bank"));
        assert!(ok(Message::AuthorizationPut, "merchant", "bank"));
        assert!(!ok(Message::AuthorizationPut, "bank", "merchant"));
        for either in [
            Message::RequestError,
            Message::RequestGet,
            Message::AuthorizationError,
        ] {
            assert!(ok(either, "bank", "merchant"));
            assert!(ok(either, "merchant", "bank"));
        }
        // A third DFSP never, whichever way.
        assert!(!ok(Message::RequestPut, "stranger", "merchant"));
        assert!(!ok(Message::RequestError, "bank", "stranger"));
        let refused =
            check_sender(Message::RequestPut, "id", &p, "stranger", "merchant").unwrap_err();
        assert_eq!(refused.code, ErrorCode::GenericValidationError);
    }

    #[test]
    fn resends() {
        assert_eq!(judge_resend(None, "a"), Resend::New);
        assert_eq!(judge_resend(Some("a"), "a"), Resend::Same);
        assert_eq!(judge_resend(Some("a"), "b"), Resend::Changed);
        assert_eq!(modified_request("x").code, ErrorCode::ModifiedRequest);
    }

    #[test]
    fn expiry() {
        assert!(check_expiration("x", None, 10).is_ok());
        assert!(check_expiration("x", Some(11), 10).is_ok());
        assert_eq!(
            check_expiration("x", Some(10), 10).unwrap_err().code,
            ErrorCode::TransactionRequestExpired
        );
    }

    #[test]
    fn paths() {
        assert_eq!(Message::Request.path("x"), "/transactionRequests");
        assert_eq!(
            Message::RequestError.path("x"),
            "/transactionRequests/x/error"
        );
        assert_eq!(Message::AuthorizationGet.path("x"), "/authorizations/x");
        assert_eq!(Message::AuthorizationError.method(), "PUT");
    }
}
