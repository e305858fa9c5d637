//! FSPIOP v1.1 data types (with the v2.0 additions as optional members) for parties,
//! participants, quotes and transfers, each with its schema, and [`parse_body`], which
//! validates a body against the schema before typing it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorCode, ErrorInformation, ExtensionList, FspiopError};
use crate::validate::{optional, required, validate_object, Format, Object, Rule, UnknownFields};

// ---- enumerations --------------------------------------------------------------------

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $type_name:literal { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( #[serde(rename = $text)] $variant, )*
        }

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),*];
            pub const RULE: Rule = Rule::OneOf($type_name, Self::ALL);

            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )* }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $( $text => Some($name::$variant), )* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// How a party is identified.
    PartyIdType, "PartyIdType" {
        Msisdn = "MSISDN", Email = "EMAIL", PersonalId = "PERSONAL_ID", Business = "BUSINESS",
        Device = "DEVICE", AccountId = "ACCOUNT_ID", Iban = "IBAN", Alias = "ALIAS",
    }
);
string_enum!(
    /// Whether the quoted amount is sent or received.
    AmountType, "AmountType" { Send = "SEND", Receive = "RECEIVE" }
);
string_enum!(
    /// A transfer's state as FSPIOP exposes it.
    TransferState, "TransferState" {
        Received = "RECEIVED", Reserved = "RESERVED", Committed = "COMMITTED", Aborted = "ABORTED",
    }
);
string_enum!(
    TransactionScenario, "TransactionScenario" {
        Deposit = "DEPOSIT", Withdrawal = "WITHDRAWAL", Transfer = "TRANSFER", Payment = "PAYMENT", Refund = "REFUND",
    }
);
string_enum!(TransactionInitiator, "TransactionInitiator" { Payer = "PAYER", Payee = "PAYEE" });
string_enum!(
    TransactionInitiatorType, "TransactionInitiatorType" {
        Consumer = "CONSUMER", Agent = "AGENT", Business = "BUSINESS", Device = "DEVICE",
    }
);
string_enum!(CurrencyConverter, "CurrencyConverter" { Payer = "PAYER", Payee = "PAYEE" });
string_enum!(
    /// Where a payee's request for payment stands, as the payer's DFSP reports it.
    TransactionRequestState, "TransactionRequestState" {
        Received = "RECEIVED", Pending = "PENDING", Accepted = "ACCEPTED", Rejected = "REJECTED",
    }
);
string_enum!(
    /// How the payer approves a payment the payee requested.
    AuthenticationType, "AuthenticationType" { Otp = "OTP", QrCode = "QRCODE", U2f = "U2F" }
);
string_enum!(
    /// What the consumer did when asked for the authentication value.
    AuthorizationResponse, "AuthorizationResponse" {
        Entered = "ENTERED", Rejected = "REJECTED", Resend = "RESEND",
    }
);

// ---- schemas ---------------------------------------------------------------------------

const fn text(min: usize, max: usize) -> Rule {
    Rule::Text { min, max }
}

const fn fmt(format: Format) -> Rule {
    Rule::Format(format)
}

pub static EXTENSION: Object = Object {
    fields: &[
        required("key", text(1, 32)),
        required("value", text(1, 128)),
    ],
};
static EXTENSION_ITEM: Rule = Rule::Object(&EXTENSION);
pub static EXTENSION_LIST: Object = Object {
    fields: &[required(
        "extension",
        Rule::Array {
            item: &EXTENSION_ITEM,
            min: 1,
            max: 16,
        },
    )],
};
const EXTENSIONS: Rule = Rule::Object(&EXTENSION_LIST);

pub static MONEY: Object = Object {
    fields: &[
        required("currency", fmt(Format::Currency)),
        required("amount", fmt(Format::Amount)),
    ],
};

pub static PARTY_ID_INFO: Object = Object {
    fields: &[
        required("partyIdType", PartyIdType::RULE),
        required("partyIdentifier", text(1, 128)),
        optional("partySubIdOrType", text(1, 128)),
        optional("fspId", fmt(Format::FspId)),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static PARTY_COMPLEX_NAME: Object = Object {
    fields: &[
        optional("firstName", fmt(Format::Name)),
        optional("middleName", fmt(Format::Name)),
        optional("lastName", fmt(Format::Name)),
    ],
};
pub static PARTY_PERSONAL_INFO: Object = Object {
    fields: &[
        optional("complexName", Rule::Object(&PARTY_COMPLEX_NAME)),
        optional("dateOfBirth", fmt(Format::Date)),
        optional("kycInformation", text(1, 2048)),
    ],
};
static CURRENCY_ITEM: Rule = fmt(Format::Currency);
pub static PARTY: Object = Object {
    fields: &[
        required("partyIdInfo", Rule::Object(&PARTY_ID_INFO)),
        optional(
            "merchantClassificationCode",
            fmt(Format::MerchantClassificationCode),
        ),
        optional("name", text(1, 128)),
        optional("personalInfo", Rule::Object(&PARTY_PERSONAL_INFO)),
        optional(
            "supportedCurrencies",
            Rule::Array {
                item: &CURRENCY_ITEM,
                min: 0,
                max: 16,
            },
        ),
    ],
};
pub static PARTIES_TYPE_ID_PUT: Object = Object {
    fields: &[required("party", Rule::Object(&PARTY))],
};

pub static PARTICIPANTS_TYPE_ID_SUB_ID_POST: Object = Object {
    fields: &[
        required("fspId", fmt(Format::FspId)),
        optional("currency", fmt(Format::Currency)),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static PARTICIPANTS_TYPE_ID_PUT: Object = Object {
    fields: &[optional("fspId", fmt(Format::FspId))],
};
static PARTY_ID_INFO_ITEM: Rule = Rule::Object(&PARTY_ID_INFO);
pub static PARTICIPANTS_POST: Object = Object {
    fields: &[
        required("requestId", fmt(Format::CorrelationId)),
        required(
            "partyList",
            Rule::Array {
                item: &PARTY_ID_INFO_ITEM,
                min: 1,
                max: 10_000,
            },
        ),
        optional("currency", fmt(Format::Currency)),
    ],
};
pub static ERROR_INFORMATION: Object = Object {
    fields: &[
        required("errorCode", fmt(Format::ErrorCode)),
        required("errorDescription", text(1, 128)),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static PARTY_RESULT: Object = Object {
    fields: &[
        required("partyId", Rule::Object(&PARTY_ID_INFO)),
        optional("errorInformation", Rule::Object(&ERROR_INFORMATION)),
    ],
};
static PARTY_RESULT_ITEM: Rule = Rule::Object(&PARTY_RESULT);
pub static PARTICIPANTS_ID_PUT: Object = Object {
    fields: &[
        required(
            "partyList",
            Rule::Array {
                item: &PARTY_RESULT_ITEM,
                min: 1,
                max: 10_000,
            },
        ),
        optional("currency", fmt(Format::Currency)),
    ],
};
pub static ERROR_INFORMATION_OBJECT: Object = Object {
    fields: &[required(
        "errorInformation",
        Rule::Object(&ERROR_INFORMATION),
    )],
};

pub static REFUND: Object = Object {
    fields: &[
        required("originalTransactionId", fmt(Format::CorrelationId)),
        optional("refundReason", text(1, 128)),
    ],
};
pub static TRANSACTION_TYPE: Object = Object {
    fields: &[
        required("scenario", TransactionScenario::RULE),
        optional("subScenario", fmt(Format::SubScenario)),
        required("initiator", TransactionInitiator::RULE),
        required("initiatorType", TransactionInitiatorType::RULE),
        optional("refundInfo", Rule::Object(&REFUND)),
        optional("balanceOfPayments", fmt(Format::BalanceOfPayments)),
    ],
};
pub static GEO_CODE: Object = Object {
    fields: &[
        required("latitude", fmt(Format::Latitude)),
        required("longitude", fmt(Format::Longitude)),
    ],
};
pub static FX_RATE: Object = Object {
    fields: &[
        required("sourceAmount", Rule::Object(&MONEY)),
        required("targetAmount", Rule::Object(&MONEY)),
    ],
};
pub static QUOTES_POST: Object = Object {
    fields: &[
        required("quoteId", fmt(Format::CorrelationId)),
        required("transactionId", fmt(Format::CorrelationId)),
        optional("transactionRequestId", fmt(Format::CorrelationId)),
        required("payee", Rule::Object(&PARTY)),
        required("payer", Rule::Object(&PARTY)),
        required("amountType", AmountType::RULE),
        required("amount", Rule::Object(&MONEY)),
        optional("fees", Rule::Object(&MONEY)),
        required("transactionType", Rule::Object(&TRANSACTION_TYPE)),
        optional("converter", CurrencyConverter::RULE),
        optional("currencyConversion", Rule::Object(&FX_RATE)),
        optional("geoCode", Rule::Object(&GEO_CODE)),
        optional("note", text(1, 128)),
        optional("expiration", fmt(Format::DateTime)),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static QUOTES_ID_PUT: Object = Object {
    fields: &[
        required("transferAmount", Rule::Object(&MONEY)),
        optional("payeeReceiveAmount", Rule::Object(&MONEY)),
        optional("payeeFspFee", Rule::Object(&MONEY)),
        optional("payeeFspCommission", Rule::Object(&MONEY)),
        required("expiration", fmt(Format::DateTime)),
        optional("geoCode", Rule::Object(&GEO_CODE)),
        required("ilpPacket", fmt(Format::IlpPacket)),
        required("condition", fmt(Format::Binary32)),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static TRANSACTION_REQUESTS_POST: Object = Object {
    fields: &[
        required("transactionRequestId", fmt(Format::CorrelationId)),
        required("payee", Rule::Object(&PARTY)),
        required("payer", Rule::Object(&PARTY_ID_INFO)),
        required("amount", Rule::Object(&MONEY)),
        required("transactionType", Rule::Object(&TRANSACTION_TYPE)),
        optional("note", text(1, 128)),
        optional("geoCode", Rule::Object(&GEO_CODE)),
        optional("authenticationType", AuthenticationType::RULE),
        optional("expiration", fmt(Format::DateTime)),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static TRANSACTION_REQUESTS_ID_PUT: Object = Object {
    fields: &[
        optional("transactionId", fmt(Format::CorrelationId)),
        required("transactionRequestState", TransactionRequestState::RULE),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static AUTHENTICATION_INFO: Object = Object {
    fields: &[
        required("authentication", AuthenticationType::RULE),
        required("authenticationValue", fmt(Format::AuthenticationValue)),
    ],
};
pub static AUTHORIZATIONS_ID_PUT: Object = Object {
    fields: &[
        optional("authenticationInfo", Rule::Object(&AUTHENTICATION_INFO)),
        required("responseType", AuthorizationResponse::RULE),
    ],
};
pub static TRANSACTION: Object = Object {
    fields: &[
        required("transactionId", fmt(Format::CorrelationId)),
        required("quoteId", fmt(Format::CorrelationId)),
        required("payee", Rule::Object(&PARTY)),
        required("payer", Rule::Object(&PARTY)),
        required("amount", Rule::Object(&MONEY)),
        optional("payeeReceiveAmount", Rule::Object(&MONEY)),
        optional("converter", CurrencyConverter::RULE),
        optional("currencyConversion", Rule::Object(&FX_RATE)),
        required("transactionType", Rule::Object(&TRANSACTION_TYPE)),
        optional("note", text(1, 128)),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static TRANSFERS_POST: Object = Object {
    fields: &[
        required("transferId", fmt(Format::CorrelationId)),
        required("payeeFsp", fmt(Format::FspId)),
        required("payerFsp", fmt(Format::FspId)),
        required("amount", Rule::Object(&MONEY)),
        required("ilpPacket", fmt(Format::IlpPacket)),
        required("condition", fmt(Format::Binary32)),
        required("expiration", fmt(Format::DateTime)),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static TRANSFERS_ID_PUT: Object = Object {
    fields: &[
        optional("fulfilment", fmt(Format::Binary32)),
        optional("completedTimestamp", fmt(Format::DateTime)),
        required("transferState", TransferState::RULE),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static TRANSFERS_ID_PATCH: Object = Object {
    fields: &[
        required("completedTimestamp", fmt(Format::DateTime)),
        required("transferState", TransferState::RULE),
        optional("extensionList", EXTENSIONS),
    ],
};

// v2.0 foreign exchange.
pub static FX_MONEY: Object = Object {
    fields: &[
        required("currency", fmt(Format::Currency)),
        optional("amount", fmt(Format::Amount)),
    ],
};
pub static FX_CHARGE: Object = Object {
    fields: &[
        required("chargeType", text(1, 32)),
        optional("sourceAmount", Rule::Object(&MONEY)),
        optional("targetAmount", Rule::Object(&MONEY)),
    ],
};
static FX_CHARGE_ITEM: Rule = Rule::Object(&FX_CHARGE);
pub static FX_CONVERSION: Object = Object {
    fields: &[
        required("conversionId", fmt(Format::CorrelationId)),
        optional("determiningTransferId", fmt(Format::CorrelationId)),
        required("initiatingFsp", fmt(Format::FspId)),
        required("counterPartyFsp", fmt(Format::FspId)),
        required("amountType", AmountType::RULE),
        required("sourceAmount", Rule::Object(&FX_MONEY)),
        required("targetAmount", Rule::Object(&FX_MONEY)),
        required("expiration", fmt(Format::DateTime)),
        optional(
            "charges",
            Rule::Array {
                item: &FX_CHARGE_ITEM,
                min: 0,
                max: 16,
            },
        ),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static FX_QUOTES_POST: Object = Object {
    fields: &[
        required("conversionRequestId", fmt(Format::CorrelationId)),
        required("conversionTerms", Rule::Object(&FX_CONVERSION)),
    ],
};
pub static FX_QUOTES_ID_PUT: Object = Object {
    fields: &[
        optional("condition", fmt(Format::Binary32)),
        required("conversionTerms", Rule::Object(&FX_CONVERSION)),
    ],
};
pub static FX_TRANSFERS_POST: Object = Object {
    fields: &[
        required("commitRequestId", fmt(Format::CorrelationId)),
        optional("determiningTransferId", fmt(Format::CorrelationId)),
        required("initiatingFsp", fmt(Format::FspId)),
        required("counterPartyFsp", fmt(Format::FspId)),
        required("sourceAmount", Rule::Object(&MONEY)),
        required("targetAmount", Rule::Object(&MONEY)),
        required("condition", fmt(Format::Binary32)),
        optional("expiration", fmt(Format::DateTime)),
    ],
};
pub static FX_TRANSFERS_ID_PUT: Object = Object {
    fields: &[
        optional("fulfilment", fmt(Format::Binary32)),
        optional("completedTimestamp", fmt(Format::DateTime)),
        required("conversionState", TransferState::RULE),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static FX_TRANSFERS_ID_PATCH: Object = Object {
    fields: &[
        optional("completedTimestamp", fmt(Format::DateTime)),
        required("conversionState", TransferState::RULE),
        optional("extensionList", EXTENSIONS),
    ],
};

// ---- typed bodies ----------------------------------------------------------------------

/// A body type with its schema.
pub trait Body: DeserializeOwned {
    const SCHEMA: &'static Object;
}

/// Validates `value` against `T`'s schema, then types it.
pub fn from_value<T: Body>(value: Value, unknown: UnknownFields) -> Result<T, FspiopError> {
    validate_object(&value, T::SCHEMA, unknown)?;
    serde_json::from_value(value)
        .map_err(|e| FspiopError::with_detail(ErrorCode::GenericValidationError, e.to_string()))
}

/// Parses, validates and types a request body: malformed JSON 3101, then the schema's codes.
pub fn parse_body<T: Body>(body: &[u8], unknown: UnknownFields) -> Result<T, FspiopError> {
    from_value(crate::validate::parse_json(body)?, unknown)
}

macro_rules! body {
    ($name:ident, $schema:ident) => {
        impl Body for $name {
            const SCHEMA: &'static Object = &$schema;
        }
    };
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub currency: String,
    pub amount: String,
}
body!(Money, MONEY);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyIdInfo {
    pub party_id_type: PartyIdType,
    pub party_identifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_sub_id_or_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(PartyIdInfo, PARTY_ID_INFO);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyComplexName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyPersonalInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complex_name: Option<PartyComplexName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// v2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kyc_information: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    pub party_id_info: PartyIdInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_classification_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_info: Option<PartyPersonalInfo>,
    /// v2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_currencies: Option<Vec<String>>,
}
body!(Party, PARTY);

/// Body of `PUT /parties/{Type}/{ID}[/{SubId}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartiesTypeIdPutResponse {
    pub party: Party,
}
body!(PartiesTypeIdPutResponse, PARTIES_TYPE_ID_PUT);

/// Body of `POST /participants/{Type}/{ID}[/{SubId}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantsTypeIdSubIdPostRequest {
    pub fsp_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(
    ParticipantsTypeIdSubIdPostRequest,
    PARTICIPANTS_TYPE_ID_SUB_ID_POST
);

/// Body of `PUT /participants/{Type}/{ID}[/{SubId}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantsTypeIdPutResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsp_id: Option<String>,
}
body!(ParticipantsTypeIdPutResponse, PARTICIPANTS_TYPE_ID_PUT);

/// Body of the batch `POST /participants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantsPostRequest {
    pub request_id: String,
    pub party_list: Vec<PartyIdInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}
body!(ParticipantsPostRequest, PARTICIPANTS_POST);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyResult {
    pub party_id: PartyIdInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_information: Option<ErrorInformation>,
}

/// Body of `PUT /participants/{requestId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantsIdPutResponse {
    pub party_list: Vec<PartyResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}
body!(ParticipantsIdPutResponse, PARTICIPANTS_ID_PUT);

body!(ErrorInformationObject, ERROR_INFORMATION_OBJECT);
pub use crate::error::ErrorInformationObject;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    pub original_transaction_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionType {
    pub scenario: TransactionScenario,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_scenario: Option<String>,
    pub initiator: TransactionInitiator,
    pub initiator_type: TransactionInitiatorType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_info: Option<Refund>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_of_payments: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeoCode {
    pub latitude: String,
    pub longitude: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FxRate {
    pub source_amount: Money,
    pub target_amount: Money,
}

/// Body of `POST /quotes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotesPostRequest {
    pub quote_id: String,
    pub transaction_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_request_id: Option<String>,
    pub payee: Party,
    pub payer: Party,
    pub amount_type: AmountType,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fees: Option<Money>,
    pub transaction_type: TransactionType,
    /// v2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converter: Option<CurrencyConverter>,
    /// v2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_conversion: Option<FxRate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_code: Option<GeoCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(QuotesPostRequest, QUOTES_POST);

/// Body of `POST /transactionRequests`: a payee asks a payer to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionRequestsPostRequest {
    pub transaction_request_id: String,
    pub payee: Party,
    pub payer: PartyIdInfo,
    pub amount: Money,
    pub transaction_type: TransactionType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_code: Option<GeoCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_type: Option<AuthenticationType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(TransactionRequestsPostRequest, TRANSACTION_REQUESTS_POST);

/// Body of `PUT /transactionRequests/{ID}`: the payer's DFSP's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionRequestsIdPutResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    pub transaction_request_state: TransactionRequestState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(
    TransactionRequestsIdPutResponse,
    TRANSACTION_REQUESTS_ID_PUT
);

/// The authentication value a consumer entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationInfo {
    pub authentication: AuthenticationType,
    pub authentication_value: String,
}

/// Body of `PUT /authorizations/{ID}`: the payee's DFSP's answer to an authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationsIdPutResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_info: Option<AuthenticationInfo>,
    pub response_type: AuthorizationResponse,
}
body!(AuthorizationsIdPutResponse, AUTHORIZATIONS_ID_PUT);

/// Body of `PUT /quotes/{ID}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotesIdPutResponse {
    pub transfer_amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_receive_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_fsp_fee: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_fsp_commission: Option<Money>,
    pub expiration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_code: Option<GeoCode>,
    pub ilp_packet: String,
    pub condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(QuotesIdPutResponse, QUOTES_ID_PUT);

/// The Transaction object carried inside ILP packets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub transaction_id: String,
    pub quote_id: String,
    pub payee: Party,
    pub payer: Party,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_receive_amount: Option<Money>,
    pub transaction_type: TransactionType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(Transaction, TRANSACTION);

/// Body of `POST /transfers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransfersPostRequest {
    pub transfer_id: String,
    pub payee_fsp: String,
    pub payer_fsp: String,
    pub amount: Money,
    pub ilp_packet: String,
    pub condition: String,
    pub expiration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(TransfersPostRequest, TRANSFERS_POST);

/// Body of `PUT /transfers/{ID}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransfersIdPutResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfilment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_timestamp: Option<String>,
    pub transfer_state: TransferState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(TransfersIdPutResponse, TRANSFERS_ID_PUT);

/// Body of `PATCH /transfers/{ID}` (switch → payee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransfersIdPatchResponse {
    pub completed_timestamp: String,
    pub transfer_state: TransferState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(TransfersIdPatchResponse, TRANSFERS_ID_PATCH);

/// `FxMoney` (v2.0): the amount may be unknown until the FXP quotes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FxMoney {
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FxCharge {
    pub charge_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_amount: Option<Money>,
}

/// The terms of a currency conversion (v2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FxConversion {
    pub conversion_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determining_transfer_id: Option<String>,
    pub initiating_fsp: String,
    pub counter_party_fsp: String,
    pub amount_type: AmountType,
    pub source_amount: FxMoney,
    pub target_amount: FxMoney,
    pub expiration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charges: Option<Vec<FxCharge>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}

/// Body of `POST /fxQuotes` (v2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FxQuotesPostRequest {
    pub conversion_request_id: String,
    pub conversion_terms: FxConversion,
}
body!(FxQuotesPostRequest, FX_QUOTES_POST);

/// Body of `PUT /fxQuotes/{ID}` (v2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FxQuotesIdPutResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    pub conversion_terms: FxConversion,
}
body!(FxQuotesIdPutResponse, FX_QUOTES_ID_PUT);

/// Body of `POST /fxTransfers` (v2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FxTransfersPostRequest {
    pub commit_request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determining_transfer_id: Option<String>,
    pub initiating_fsp: String,
    pub counter_party_fsp: String,
    pub source_amount: Money,
    pub target_amount: Money,
    pub condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}
body!(FxTransfersPostRequest, FX_TRANSFERS_POST);

/// Body of `PUT /fxTransfers/{ID}` (v2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FxTransfersIdPutResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfilment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_timestamp: Option<String>,
    pub conversion_state: TransferState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(FxTransfersIdPutResponse, FX_TRANSFERS_ID_PUT);

/// Body of `PATCH /fxTransfers/{ID}` (switch → FXP, v2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FxTransfersIdPatchResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_timestamp: Option<String>,
    pub conversion_state: TransferState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(FxTransfersIdPatchResponse, FX_TRANSFERS_ID_PATCH);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        assert_eq!(PartyIdType::parse("MSISDN"), Some(PartyIdType::Msisdn));
        assert_eq!(PartyIdType::parse("msisdn"), None);
        assert_eq!(PartyIdType::ALL.len(), 8);
        assert_eq!(TransferState::Committed.as_str(), "COMMITTED");
    }
}

// ---- bulk quotes and bulk transfers ---------------------------------------------------

string_enum!(
    /// A bulk transfer's state as FSPIOP exposes it.
    BulkTransferState, "BulkTransferState" {
        Received = "RECEIVED", Pending = "PENDING", Accepted = "ACCEPTED",
        Processing = "PROCESSING", Completed = "COMPLETED", Rejected = "REJECTED",
    }
);

/// The most individual quotes or transfers one bulk may hold (the API's `maxItems`).
pub const BULK_ITEMS_MAX: usize = 1000;

pub static INDIVIDUAL_QUOTE: Object = Object {
    fields: &[
        required("quoteId", fmt(Format::CorrelationId)),
        required("transactionId", fmt(Format::CorrelationId)),
        required("payee", Rule::Object(&PARTY)),
        required("amountType", AmountType::RULE),
        required("amount", Rule::Object(&MONEY)),
        optional("fees", Rule::Object(&MONEY)),
        required("transactionType", Rule::Object(&TRANSACTION_TYPE)),
        optional("note", text(1, 128)),
        optional("extensionList", EXTENSIONS),
    ],
};
static INDIVIDUAL_QUOTE_ITEM: Rule = Rule::Object(&INDIVIDUAL_QUOTE);
pub static BULK_QUOTES_POST: Object = Object {
    fields: &[
        required("bulkQuoteId", fmt(Format::CorrelationId)),
        required("payer", Rule::Object(&PARTY)),
        optional("geoCode", Rule::Object(&GEO_CODE)),
        optional("expiration", fmt(Format::DateTime)),
        required(
            "individualQuotes",
            Rule::Array {
                item: &INDIVIDUAL_QUOTE_ITEM,
                min: 1,
                max: BULK_ITEMS_MAX,
            },
        ),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static INDIVIDUAL_QUOTE_RESULT: Object = Object {
    fields: &[
        required("quoteId", fmt(Format::CorrelationId)),
        optional("payee", Rule::Object(&PARTY)),
        optional("transferAmount", Rule::Object(&MONEY)),
        optional("payeeReceiveAmount", Rule::Object(&MONEY)),
        optional("payeeFspFee", Rule::Object(&MONEY)),
        optional("payeeFspCommission", Rule::Object(&MONEY)),
        optional("ilpPacket", fmt(Format::IlpPacket)),
        optional("condition", fmt(Format::Binary32)),
        optional("errorInformation", Rule::Object(&ERROR_INFORMATION)),
        optional("extensionList", EXTENSIONS),
    ],
};
static INDIVIDUAL_QUOTE_RESULT_ITEM: Rule = Rule::Object(&INDIVIDUAL_QUOTE_RESULT);
pub static BULK_QUOTES_ID_PUT: Object = Object {
    fields: &[
        optional(
            "individualQuoteResults",
            Rule::Array {
                item: &INDIVIDUAL_QUOTE_RESULT_ITEM,
                min: 0,
                max: BULK_ITEMS_MAX,
            },
        ),
        required("expiration", fmt(Format::DateTime)),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static INDIVIDUAL_TRANSFER: Object = Object {
    fields: &[
        required("transferId", fmt(Format::CorrelationId)),
        required("transferAmount", Rule::Object(&MONEY)),
        required("ilpPacket", fmt(Format::IlpPacket)),
        required("condition", fmt(Format::Binary32)),
        optional("extensionList", EXTENSIONS),
    ],
};
static INDIVIDUAL_TRANSFER_ITEM: Rule = Rule::Object(&INDIVIDUAL_TRANSFER);
pub static BULK_TRANSFERS_POST: Object = Object {
    fields: &[
        required("bulkTransferId", fmt(Format::CorrelationId)),
        required("bulkQuoteId", fmt(Format::CorrelationId)),
        required("payerFsp", fmt(Format::FspId)),
        required("payeeFsp", fmt(Format::FspId)),
        required(
            "individualTransfers",
            Rule::Array {
                item: &INDIVIDUAL_TRANSFER_ITEM,
                min: 1,
                max: BULK_ITEMS_MAX,
            },
        ),
        required("expiration", fmt(Format::DateTime)),
        optional("extensionList", EXTENSIONS),
    ],
};
pub static INDIVIDUAL_TRANSFER_RESULT: Object = Object {
    fields: &[
        required("transferId", fmt(Format::CorrelationId)),
        optional("fulfilment", fmt(Format::Binary32)),
        optional("errorInformation", Rule::Object(&ERROR_INFORMATION)),
        optional("extensionList", EXTENSIONS),
    ],
};
static INDIVIDUAL_TRANSFER_RESULT_ITEM: Rule = Rule::Object(&INDIVIDUAL_TRANSFER_RESULT);
pub static BULK_TRANSFERS_ID_PUT: Object = Object {
    fields: &[
        optional("completedTimestamp", fmt(Format::DateTime)),
        optional(
            "individualTransferResults",
            Rule::Array {
                item: &INDIVIDUAL_TRANSFER_RESULT_ITEM,
                min: 0,
                max: BULK_ITEMS_MAX,
            },
        ),
        required("bulkTransferState", BulkTransferState::RULE),
        optional("extensionList", EXTENSIONS),
    ],
};

/// One payee's quote in a `POST /bulkQuotes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndividualQuote {
    pub quote_id: String,
    pub transaction_id: String,
    pub payee: Party,
    pub amount_type: AmountType,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fees: Option<Money>,
    pub transaction_type: TransactionType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(IndividualQuote, INDIVIDUAL_QUOTE);

/// Body of `POST /bulkQuotes`: one payer, up to [`BULK_ITEMS_MAX`] payees of one payee DFSP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkQuotesPostRequest {
    pub bulk_quote_id: String,
    pub payer: Party,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_code: Option<GeoCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    pub individual_quotes: Vec<IndividualQuote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(BulkQuotesPostRequest, BULK_QUOTES_POST);

/// The payee DFSP's terms for one quote of a bulk (or why it refused it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndividualQuoteResult {
    pub quote_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee: Option<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_receive_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_fsp_fee: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_fsp_commission: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ilp_packet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_information: Option<ErrorInformation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(IndividualQuoteResult, INDIVIDUAL_QUOTE_RESULT);

/// Body of `PUT /bulkQuotes/{ID}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkQuotesIdPutResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual_quote_results: Option<Vec<IndividualQuoteResult>>,
    pub expiration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(BulkQuotesIdPutResponse, BULK_QUOTES_ID_PUT);

/// One transfer of a `POST /bulkTransfers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndividualTransfer {
    pub transfer_id: String,
    pub transfer_amount: Money,
    pub ilp_packet: String,
    pub condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(IndividualTransfer, INDIVIDUAL_TRANSFER);

/// Body of `POST /bulkTransfers`: one payer DFSP, one payee DFSP, up to [`BULK_ITEMS_MAX`]
/// transfers sharing one expiration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkTransfersPostRequest {
    pub bulk_transfer_id: String,
    pub bulk_quote_id: String,
    pub payer_fsp: String,
    pub payee_fsp: String,
    pub individual_transfers: Vec<IndividualTransfer>,
    pub expiration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(BulkTransfersPostRequest, BULK_TRANSFERS_POST);

/// The outcome of one transfer of a bulk: its fulfilment, or why it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndividualTransferResult {
    pub transfer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfilment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_information: Option<ErrorInformation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(IndividualTransferResult, INDIVIDUAL_TRANSFER_RESULT);

/// Body of `PUT /bulkTransfers/{ID}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkTransfersIdPutResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual_transfer_results: Option<Vec<IndividualTransferResult>>,
    pub bulk_transfer_state: BulkTransferState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
}
body!(BulkTransfersIdPutResponse, BULK_TRANSFERS_ID_PUT);
