//! The FSPIOP error code table, the `errorInformation` body and [`FspiopError`], the one error
//! type every FSPIOP-facing check in the switch returns.
//!
//! Codes are four digits `ABxx`: `A` the category (1 communication, 2 server, 3 client,
//! 4 payer, 5 payee, 6 settlement), `B` the sub-category. Codes `xx40`..`xx99` are scheme
//! specific: an unknown one is treated as the generic `xx00` of its category.

use serde::{Deserialize, Serialize};

/// Longest `errorDescription` the API allows (ErrorDescription is string(1..128)).
pub const ERROR_DESCRIPTION_LEN_MAX: usize = 128;
/// Longest extension value (ExtensionValue is string(1..128)).
pub const EXTENSION_VALUE_LEN_MAX: usize = 128;

macro_rules! error_codes {
    ($( $variant:ident = $code:literal, $status:literal, $name:literal; )*) => {
        /// Every FSPIOP error code the switch knows (API Definition v1.1 §7.6 plus Mojaloop's
        /// extensions 2006, 3040, 5107 and 6000).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( #[doc = $name] $variant, )*
        }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The four-digit code.
            pub const fn code(self) -> u16 {
                match self { $( ErrorCode::$variant => $code, )* }
            }

            /// The standard name, which prefixes every `errorDescription`.
            pub const fn name(self) -> &'static str {
                match self { $( ErrorCode::$variant => $name, )* }
            }

            /// HTTP status of a synchronous error with this code.
            pub const fn http_status(self) -> u16 {
                match self { $( ErrorCode::$variant => $status, )* }
            }

            /// The code with this number, if the table has it.
            pub const fn from_code(code: u16) -> Option<ErrorCode> {
                match code { $( $code => Some(ErrorCode::$variant), )* _ => None }
            }
        }
    };
}

error_codes! {
    CommunicationError = 1000, 503, "Communication error";
    DestinationCommunicationError = 1001, 503, "Destination communication error";
    GenericServerError = 2000, 500, "Generic server error";
    InternalServerError = 2001, 500, "Internal server error";
    NotImplemented = 2002, 501, "Not implemented";
    ServiceCurrentlyUnavailable = 2003, 503, "Service currently unavailable";
    ServerTimedOut = 2004, 500, "Server timed out";
    ServerBusy = 2005, 500, "Server busy";
    TemporaryPartyResolutionFailed = 2006, 503, "Temporary party resolution failed, try again";
    GenericClientError = 3000, 400, "Generic client error";
    UnacceptableVersion = 3001, 406, "Unacceptable version requested";
    UnknownUri = 3002, 404, "Unknown URI";
    AddPartyInfoError = 3003, 400, "Add Party information error";
    DeletePartyInfoError = 3040, 400, "Delete Party information error";
    GenericValidationError = 3100, 400, "Generic validation error";
    MalformedSyntax = 3101, 400, "Malformed syntax";
    MissingElement = 3102, 400, "Missing mandatory element";
    TooManyElements = 3103, 400, "Too many elements";
    TooLargePayload = 3104, 400, "Too large payload";
    InvalidSignature = 3105, 400, "Invalid signature";
    ModifiedRequest = 3106, 400, "Modified request";
    MissingMandatoryExtension = 3107, 400, "Missing mandatory extension parameter";
    IdNotFound = 3200, 400, "Generic ID not found";
    DestinationFspError = 3201, 400, "Destination FSP Error";
    PayerFspIdNotFound = 3202, 400, "Payer FSP ID not found";
    PayeeFspIdNotFound = 3203, 400, "Payee FSP ID not found";
    PartyNotFound = 3204, 400, "Party not found";
    QuoteIdNotFound = 3205, 400, "Quote ID not found";
    TransactionRequestIdNotFound = 3206, 400, "Transaction request ID not found";
    TransactionIdNotFound = 3207, 400, "Transaction ID not found";
    TransferIdNotFound = 3208, 400, "Transfer ID not found";
    BulkQuoteIdNotFound = 3209, 400, "Bulk quote ID not found";
    BulkTransferIdNotFound = 3210, 400, "Bulk transfer ID not found";
    GenericExpiredError = 3300, 400, "Generic expired error";
    TransactionRequestExpired = 3301, 400, "Transaction request expired";
    QuoteExpired = 3302, 400, "Quote expired";
    TransferExpired = 3303, 400, "Transfer expired";
    GenericPayerError = 4000, 400, "Generic Payer error";
    PayerFspInsufficientLiquidity = 4001, 400, "Payer FSP insufficient liquidity";
    GenericPayerRejection = 4100, 400, "Generic Payer rejection";
    PayerRejectedTransactionRequest = 4101, 400, "Payer rejected transaction request";
    PayerFspUnsupportedTransactionType = 4102, 400, "Payer FSP unsupported transaction type";
    PayerUnsupportedCurrency = 4103, 400, "Payer unsupported currency";
    PayerLimitError = 4200, 400, "Payer limit error";
    PayerPermissionError = 4300, 400, "Payer permission error";
    GenericPayerBlockedError = 4400, 400, "Generic Payer blocked error";
    GenericPayeeError = 5000, 400, "Generic Payee error";
    PayeeFspInsufficientLiquidity = 5001, 400, "Payee FSP insufficient liquidity";
    GenericPayeeRejection = 5100, 400, "Generic Payee rejection";
    PayeeRejectedQuote = 5101, 400, "Payee rejected quote";
    PayeeFspUnsupportedTransactionType = 5102, 400, "Payee FSP unsupported transaction type";
    PayeeFspRejectedQuote = 5103, 400, "Payee FSP rejected quote";
    PayeeRejectedTransaction = 5104, 400, "Payee rejected transaction";
    PayeeFspRejectedTransaction = 5105, 400, "Payee FSP rejected transaction";
    PayeeUnsupportedCurrency = 5106, 400, "Payee unsupported currency";
    PayeeIdentifierNoLongerValid = 5107, 400, "Payee identifier no-longer valid";
    PayeeLimitError = 5200, 400, "Payee limit error";
    PayeePermissionError = 5300, 400, "Payee permission error";
    GenericPayeeBlockedError = 5400, 400, "Generic Payee blocked error";
    GenericSettlementError = 6000, 400, "Generic Settlement Error";
}

impl ErrorCode {
    /// The code as the four-character string carried in `errorCode`.
    pub fn as_string(self) -> String {
        self.code().to_string()
    }

    /// The code a received number stands for: the exact entry if known, else the generic
    /// `xx00` of its category (API Definition §7.6: unknown scheme codes fall back).
    pub fn resolve(code: u16) -> Option<ErrorCode> {
        ErrorCode::from_code(code).or_else(|| ErrorCode::from_code(code / 100 * 100))
    }

    /// Default HTTP status for a code by its family, used for codes outside the table.
    pub const fn family_http_status(code: u16) -> u16 {
        match code / 100 {
            10 => 503,
            20 => 500,
            _ => 400,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code(), self.name())
    }
}

/// One `{key, value}` pair of an `extensionList`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub key: String,
    pub value: String,
}

/// `{"extension": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionList {
    pub extension: Vec<Extension>,
}

/// The `errorInformation` object as it travels on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInformation {
    pub error_code: String,
    pub error_description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}

/// `{"errorInformation": {...}}`: the body of synchronous errors and of `PUT .../error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInformationObject {
    pub error_information: ErrorInformation,
}

/// An FSPIOP error raised by the switch: a code, an optional detail and optional extensions.
///
/// The wire description is `"<standard name> - <detail>"` (or just the name), cut to
/// [`ERROR_DESCRIPTION_LEN_MAX`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FspiopError {
    pub code: ErrorCode,
    pub detail: Option<String>,
    pub extensions: Vec<Extension>,
    /// An `errorInformation` received from a participant, relayed exactly as it came.
    pub received: Option<Box<ErrorInformation>>,
}

impl FspiopError {
    pub fn new(code: ErrorCode) -> Self {
        FspiopError {
            code,
            detail: None,
            extensions: Vec::new(),
            received: None,
        }
    }

    pub fn with_detail(code: ErrorCode, detail: impl Into<String>) -> Self {
        FspiopError {
            code,
            detail: Some(detail.into()),
            extensions: Vec::new(),
            received: None,
        }
    }

    /// An error a participant sent: relayed with its own code, description and extensions.
    /// The code must parse; an unknown scheme code stands for the generic `xx00` of its
    /// category when the switch needs to act on it.
    pub fn received(information: ErrorInformation) -> Option<Self> {
        let number: u16 = information.error_code.parse().ok()?;
        let code = ErrorCode::resolve(number)?;
        Some(FspiopError {
            code,
            detail: None,
            extensions: Vec::new(),
            received: Some(Box::new(information)),
        })
    }

    /// Adds an extension; the value is cut to [`EXTENSION_VALUE_LEN_MAX`] characters.
    pub fn extension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push(Extension {
            key: key.into(),
            value: truncate_chars(&value.into(), EXTENSION_VALUE_LEN_MAX),
        });
        self
    }

    /// HTTP status of this error when answered synchronously.
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    /// `"<name> - <detail>"`, or `"<name>"`, cut to 128 characters.
    pub fn description(&self) -> String {
        if let Some(received) = &self.received {
            return received.error_description.clone();
        }
        let text = match &self.detail {
            Some(detail) if !detail.is_empty() => format!("{} - {}", self.code.name(), detail),
            _ => self.code.name().to_string(),
        };
        truncate_chars(&text, ERROR_DESCRIPTION_LEN_MAX)
    }

    pub fn to_error_information(&self) -> ErrorInformation {
        if let Some(received) = &self.received {
            return (**received).clone();
        }
        ErrorInformation {
            error_code: self.code.as_string(),
            error_description: self.description(),
            extension_list: if self.extensions.is_empty() {
                None
            } else {
                Some(ExtensionList {
                    extension: self.extensions.clone(),
                })
            },
        }
    }

    /// The `{"errorInformation": ...}` body.
    pub fn to_body(&self) -> ErrorInformationObject {
        ErrorInformationObject {
            error_information: self.to_error_information(),
        }
    }

    /// The body as JSON text.
    pub fn to_json(&self) -> String {
        // Serialising plain strings into JSON cannot fail.
        serde_json::to_string(&self.to_body()).unwrap_or_default()
    }
}

impl std::fmt::Display for FspiopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.description())
    }
}

impl std::error::Error for FspiopError {}

/// Cuts `text` to at most `max` characters (not bytes), never splitting a character.
pub fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((byte_index, _)) => text.get(..byte_index).unwrap_or(text).to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut previous = 0;
        for code in ErrorCode::ALL {
            assert!(
                code.code() > previous,
                "table out of order at {}",
                code.code()
            );
            previous = code.code();
            assert_eq!(ErrorCode::from_code(code.code()), Some(*code));
            assert!(!code.name().is_empty());
        }
        assert_eq!(ErrorCode::ALL.len(), 60);
    }

    #[test]
    fn http_status_of_codes_with_their_own() {
        assert_eq!(ErrorCode::UnacceptableVersion.http_status(), 406);
        assert_eq!(ErrorCode::UnknownUri.http_status(), 404);
        assert_eq!(ErrorCode::NotImplemented.http_status(), 501);
        assert_eq!(ErrorCode::ServiceCurrentlyUnavailable.http_status(), 503);
        assert_eq!(ErrorCode::DestinationCommunicationError.http_status(), 503);
        assert_eq!(ErrorCode::InternalServerError.http_status(), 500);
        assert_eq!(ErrorCode::InvalidSignature.http_status(), 400);
        assert_eq!(ErrorCode::PayerFspInsufficientLiquidity.http_status(), 400);
        for code in ErrorCode::ALL {
            let own = code.http_status();
            if ![406, 404, 501].contains(&own) && code.code() != 2003 && code.code() != 2006 {
                assert_eq!(
                    own,
                    ErrorCode::family_http_status(code.code()),
                    "{}",
                    code.code()
                );
            }
        }
    }

    #[test]
    fn unknown_scheme_codes_fall_back_to_generic() {
        assert_eq!(
            ErrorCode::resolve(4150),
            Some(ErrorCode::GenericPayerRejection)
        );
        assert_eq!(
            ErrorCode::resolve(5199),
            Some(ErrorCode::GenericPayeeRejection)
        );
        assert_eq!(ErrorCode::resolve(3204), Some(ErrorCode::PartyNotFound));
        assert_eq!(ErrorCode::resolve(7001), None);
    }

    #[test]
    fn description_and_body() {
        let error = FspiopError::with_detail(ErrorCode::MissingElement, "accept is required");
        assert_eq!(
            error.to_json(),
            r#"{"errorInformation":{"errorCode":"3102","errorDescription":"Missing mandatory element - accept is required"}}"#
        );
        assert_eq!(
            FspiopError::new(ErrorCode::PartyNotFound).description(),
            "Party not found"
        );
        let long = FspiopError::with_detail(ErrorCode::GenericValidationError, "é".repeat(300));
        assert_eq!(long.description().chars().count(), 128);
        let relayed = FspiopError::received(ErrorInformation {
            error_code: "5199".into(),
            error_description: "Payee says no, in its own words".into(),
            extension_list: None,
        });
        assert_eq!(
            relayed.as_ref().map(|e| e.code),
            Some(ErrorCode::GenericPayeeRejection)
        );
        assert_eq!(
            relayed.map(|e| e.to_json()).unwrap_or_default(),
            r#"{"errorInformation":{"errorCode":"5199","errorDescription":"Payee says no, in its own words"}}"#
        );
        let with_ext = FspiopError::new(ErrorCode::UnacceptableVersion).extension("1", "0");
        assert_eq!(
            with_ext.to_json(),
            r#"{"errorInformation":{"errorCode":"3001","errorDescription":"Unacceptable version requested","extensionList":{"extension":[{"key":"1","value":"0"}]}}}"#
        );
    }
}
