//! Every field rule of every body schema, each with its exact error code.
//!
//! For each body type a complete valid example is walked together with its schema; for every
//! member the test checks that removing it (when required) gives 3102, giving it the wrong
//! JSON type gives 3101, breaking its rule gives 3100, and that an unknown member gives 3103
//! where unknown members are rejected. The description names the member's JSON pointer.

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation panics"
)]

use fspiop::types::{self, Body};
use fspiop::validate::{Format, Object, Rule, UnknownFields};
use fspiop::ErrorCode;
use serde_json::{json, Value};

fn party(fsp: &str, msisdn: &str) -> Value {
    json!({
        "partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": msisdn, "partySubIdOrType": "savings", "fspId": fsp,
                        "extensionList": {"extension": [{"key": "k", "value": "v"}]}},
        "merchantClassificationCode": "4321",
        "name": "Élodie Ngʼang'a",
        "personalInfo": {"complexName": {"firstName": "Élodie", "middleName": "Wanjiru", "lastName": "Ngʼang'a"},
                         "dateOfBirth": "1984-01-01", "kycInformation": "{}"},
        "supportedCurrencies": ["USD", "KES"]
    })
}

fn money(amount: &str) -> Value {
    json!({"currency": "USD", "amount": amount})
}

fn extensions() -> Value {
    json!({"extension": [{"key": "key1", "value": "value1"}, {"key": "key2", "value": "value2"}]})
}

const ID1: &str = "b51ec534-ee48-4575-b6a9-ead2955b8069";
const ID2: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
const CONDITION: &str = "GRzLaTP7DJ9t4P-a_BA0WA9wzzlsugf00-Tn6kESAfM";
const FULFILMENT: &str = "UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA";

fn transaction_type() -> Value {
    json!({"scenario": "TRANSFER", "subScenario": "LOCALLY_DEFINED", "initiator": "PAYER", "initiatorType": "CONSUMER",
           "refundInfo": {"originalTransactionId": ID2, "refundReason": "duplicate"}, "balanceOfPayments": "123"})
}

fn examples() -> Vec<(&'static str, &'static Object, Value)> {
    vec![
        (
            "QuotesPostRequest",
            types::QuotesPostRequest::SCHEMA,
            json!({
                "quoteId": ID1, "transactionId": ID2, "transactionRequestId": ID1,
                "payee": party("perffsp-5", "19012345401"), "payer": party("perffsp-1", "19012345001"),
                "amountType": "SEND", "amount": money("100"), "fees": money("0.5"),
                "transactionType": transaction_type(), "converter": "PAYER",
                "currencyConversion": {"sourceAmount": money("1"), "targetAmount": money("2")},
                "geoCode": {"latitude": "+45.4215", "longitude": "-75.6972"},
                "note": "rent", "expiration": "2030-01-01T00:00:00.000Z", "extensionList": extensions()
            }),
        ),
        (
            "QuotesIdPutResponse",
            types::QuotesIdPutResponse::SCHEMA,
            json!({
                "transferAmount": money("100"), "payeeReceiveAmount": money("99"), "payeeFspFee": money("1"),
                "payeeFspCommission": money("0.01"), "expiration": "2030-01-01T00:00:00.000+02:00",
                "geoCode": {"latitude": "0", "longitude": "180"}, "ilpPacket": "AYIBgQAAAAAAAASw",
                "condition": CONDITION, "extensionList": extensions()
            }),
        ),
        (
            "TransfersPostRequest",
            types::TransfersPostRequest::SCHEMA,
            json!({
                "transferId": ID1, "payeeFsp": "perffsp-5", "payerFsp": "perffsp-1", "amount": money("100"),
                "ilpPacket": "AYIBgQAAAAAAAASw", "condition": CONDITION, "expiration": "2030-01-01T00:00:00.000Z",
                "extensionList": extensions()
            }),
        ),
        (
            "TransfersIdPutResponse",
            types::TransfersIdPutResponse::SCHEMA,
            json!({
                "fulfilment": FULFILMENT, "completedTimestamp": "2024-01-01T00:00:00.000Z", "transferState": "COMMITTED",
                "extensionList": extensions()
            }),
        ),
        (
            "TransfersIdPatchResponse",
            types::TransfersIdPatchResponse::SCHEMA,
            json!({
                "completedTimestamp": "2024-01-01T00:00:00.000Z", "transferState": "ABORTED", "extensionList": extensions()
            }),
        ),
        (
            "PartiesTypeIdPutResponse",
            types::PartiesTypeIdPutResponse::SCHEMA,
            json!({"party": party("perffsp-5", "19012345401")}),
        ),
        (
            "ParticipantsTypeIdSubIdPostRequest",
            types::ParticipantsTypeIdSubIdPostRequest::SCHEMA,
            json!({
                "fspId": "perffsp-5", "currency": "USD", "extensionList": extensions()
            }),
        ),
        (
            "ParticipantsTypeIdPutResponse",
            types::ParticipantsTypeIdPutResponse::SCHEMA,
            json!({"fspId": "perffsp-5"}),
        ),
        (
            "ParticipantsPostRequest",
            types::ParticipantsPostRequest::SCHEMA,
            json!({
                "requestId": ID1, "currency": "USD",
                "partyList": [{"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "partySubIdOrType": "x", "fspId": "perffsp-5",
                               "extensionList": extensions()},
                              {"partyIdType": "IBAN", "partyIdentifier": "GB33BUKB20201555555555"}]
            }),
        ),
        (
            "ParticipantsIdPutResponse",
            types::ParticipantsIdPutResponse::SCHEMA,
            json!({
                "currency": "USD",
                "partyList": [{"partyId": {"partyIdType": "MSISDN", "partyIdentifier": "19012345401", "partySubIdOrType": "x", "fspId": "perffsp-5", "extensionList": extensions()},
                               "errorInformation": {"errorCode": "3204", "errorDescription": "Party not found", "extensionList": extensions()}}]
            }),
        ),
        (
            "ErrorInformationObject",
            types::ErrorInformationObject::SCHEMA,
            json!({
                "errorInformation": {"errorCode": "5100", "errorDescription": "Generic Payee rejection", "extensionList": extensions()}
            }),
        ),
        (
            "Transaction",
            types::Transaction::SCHEMA,
            json!({
                "transactionId": ID2, "quoteId": ID1, "payee": party("perffsp-5", "19012345401"),
                "payer": party("perffsp-1", "19012345001"), "amount": money("100"), "payeeReceiveAmount": money("99"),
                "converter": "PAYEE", "currencyConversion": {"sourceAmount": money("1"), "targetAmount": money("2")},
                "transactionType": transaction_type(), "note": "x", "extensionList": extensions()
            }),
        ),
        (
            "FxQuotesPostRequest",
            types::FxQuotesPostRequest::SCHEMA,
            json!({
                "conversionRequestId": ID1, "conversionTerms": fx_conversion()
            }),
        ),
        (
            "FxQuotesIdPutResponse",
            types::FxQuotesIdPutResponse::SCHEMA,
            json!({
                "condition": CONDITION, "conversionTerms": fx_conversion()
            }),
        ),
        (
            "FxTransfersPostRequest",
            types::FxTransfersPostRequest::SCHEMA,
            json!({
                "commitRequestId": ID1, "determiningTransferId": ID2, "initiatingFsp": "perffsp-1", "counterPartyFsp": "fxp-1",
                "sourceAmount": money("100"), "targetAmount": {"currency": "KES", "amount": "12900"}, "condition": CONDITION,
                "expiration": "2030-01-01T00:00:00.000Z"
            }),
        ),
        (
            "FxTransfersIdPutResponse",
            types::FxTransfersIdPutResponse::SCHEMA,
            json!({
                "fulfilment": FULFILMENT, "completedTimestamp": "2024-01-01T00:00:00.000Z", "conversionState": "RESERVED",
                "extensionList": extensions()
            }),
        ),
        (
            "FxTransfersIdPatchResponse",
            types::FxTransfersIdPatchResponse::SCHEMA,
            json!({
                "completedTimestamp": "2024-01-01T00:00:00.000Z", "conversionState": "COMMITTED", "extensionList": extensions()
            }),
        ),
        (
            "TransactionRequestsPostRequest",
            types::TransactionRequestsPostRequest::SCHEMA,
            json!({
                "transactionRequestId": ID1, "payee": party("perffsp-5", "19012345401"),
                "payer": {"partyIdType": "MSISDN", "partyIdentifier": "19012345001", "partySubIdOrType": "savings",
                          "fspId": "perffsp-1", "extensionList": extensions()},
                "amount": money("100"), "transactionType": transaction_type(), "note": "coffee",
                "geoCode": {"latitude": "+45.4215", "longitude": "-75.6972"}, "authenticationType": "OTP",
                "expiration": "2030-01-01T00:00:00.000Z", "extensionList": extensions()
            }),
        ),
        (
            "TransactionRequestsIdPutResponse",
            types::TransactionRequestsIdPutResponse::SCHEMA,
            json!({"transactionId": ID2, "transactionRequestState": "RECEIVED", "extensionList": extensions()}),
        ),
        (
            "AuthorizationsIdPutResponse",
            types::AuthorizationsIdPutResponse::SCHEMA,
            json!({"authenticationInfo": {"authentication": "OTP", "authenticationValue": "123456"}, "responseType": "ENTERED"}),
        ),
    ]
}

fn fx_conversion() -> Value {
    json!({
        "conversionId": ID2, "determiningTransferId": ID1, "initiatingFsp": "perffsp-1", "counterPartyFsp": "fxp-1",
        "amountType": "SEND", "sourceAmount": {"currency": "USD", "amount": "100"}, "targetAmount": {"currency": "KES", "amount": "12900"},
        "expiration": "2030-01-01T00:00:00.000Z",
        "charges": [{"chargeType": "fee", "sourceAmount": money("1"), "targetAmount": {"currency": "KES", "amount": "129"}}],
        "extensionList": extensions()
    })
}

/// A string that breaks `rule` (for string rules), with a wrong-type value for every rule.
fn broken_string(rule: &Rule) -> Option<String> {
    Some(match rule {
        Rule::Text { max, .. } => "x".repeat(max + 1),
        Rule::OneOf(..) => "NOT_A_MEMBER".to_string(),
        Rule::Format(format) => match format {
            Format::Amount => "5.50".to_string(),
            Format::Currency => "usd".to_string(),
            Format::CorrelationId => "B51EC534-EE48-4575-B6A9-EAD2955B8069".to_string(),
            Format::DateTime => "2016-05-24T08:38:08Z".to_string(),
            Format::Date => "1984-02-30".to_string(),
            Format::FspId => "x".repeat(33),
            Format::Name => "R2-D2 <droid>".to_string(),
            Format::MerchantClassificationCode => "12345".to_string(),
            Format::Latitude => "90.5".to_string(),
            Format::Longitude => "181".to_string(),
            Format::IlpPacket => "AY+B".to_string(),
            Format::Binary32 => "GRzLaTP7DJ9t4P-a_BA0WA9wzzlsugf00-Tn6kESAf=".to_string(),
            Format::ErrorCode => "32040".to_string(),
            Format::SubScenario => "locally defined".to_string(),
            Format::BalanceOfPayments => "12".to_string(),
            Format::PartyIdentifierPath => "a b".to_string(),
            Format::AuthenticationValue => "12 34".to_string(),
        },
        Rule::Object(_) | Rule::Array { .. } => return None,
    })
}

fn wrong_type(rule: &Rule) -> Value {
    match rule {
        Rule::Object(_) | Rule::Array { .. } => json!("text"),
        _ => json!(12345),
    }
}

struct Checker {
    name: &'static str,
    schema: &'static Object,
    root: Value,
    checked: usize,
}

impl Checker {
    fn expect(
        &mut self,
        body: &Value,
        unknown: UnknownFields,
        code: ErrorCode,
        pointer: &str,
        what: &str,
    ) {
        let error = fspiop::validate::validate_object(body, self.schema, unknown)
            .err()
            .unwrap_or_else(|| panic!("{} {pointer}: {what} was accepted", self.name));
        assert_eq!(
            error.code,
            code,
            "{} {pointer} {what}: {}",
            self.name,
            error.description()
        );
        let named = if pointer.is_empty() { "body" } else { pointer };
        assert!(
            error.description().contains(named),
            "{} {what}: description {:?} does not name {named}",
            self.name,
            error.description()
        );
        self.checked += 1;
    }

    fn with(&self, pointer: &str, value: Option<Value>) -> Value {
        let mut body = self.root.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        let target = body
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("{parent}"));
        match (target, value) {
            (Value::Object(map), Some(v)) => {
                map.insert(key.to_string(), v);
            }
            (Value::Object(map), None) => {
                map.remove(key);
            }
            (Value::Array(items), Some(v)) => {
                if let Some(slot) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    *slot = v;
                }
            }
            (other, _) => panic!("{pointer}: parent is {other}"),
        }
        body
    }

    fn walk_object(&mut self, schema: &'static Object, pointer: &str) {
        let value = self.root.pointer(pointer).cloned().unwrap_or_default();
        // An unknown member: allowed in v1.1, 3103 when rejected.
        let extra_pointer = format!("{pointer}/unexpectedMember");
        let with_extra = self.with(&extra_pointer, Some(json!("x")));
        assert!(
            fspiop::validate::validate_object(&with_extra, self.schema, UnknownFields::Allow)
                .is_ok(),
            "{} {pointer}",
            self.name
        );
        self.expect(
            &with_extra,
            UnknownFields::Reject,
            ErrorCode::TooManyElements,
            pointer,
            "an unknown member",
        );
        for field in schema.fields {
            let member = format!("{pointer}/{}", field.name);
            assert!(
                value.get(field.name).is_some(),
                "{}: the example lacks {member}",
                self.name
            );
            if field.required {
                let body = self.with(&member, None);
                self.expect(
                    &body,
                    UnknownFields::Allow,
                    ErrorCode::MissingElement,
                    pointer,
                    &format!("missing {}", field.name),
                );
            }
            self.walk_rule(&field.rule, &member);
        }
    }

    fn walk_rule(&mut self, rule: &'static Rule, pointer: &str) {
        let body = self.with(pointer, Some(wrong_type(rule)));
        self.expect(
            &body,
            UnknownFields::Allow,
            ErrorCode::MalformedSyntax,
            pointer,
            "a wrong type",
        );
        if let Some(bad) = broken_string(rule) {
            let body = self.with(pointer, Some(Value::String(bad.clone())));
            self.expect(
                &body,
                UnknownFields::Allow,
                ErrorCode::GenericValidationError,
                pointer,
                &format!("{bad:?}"),
            );
        }
        match rule {
            Rule::Object(schema) => self.walk_object(schema, pointer),
            Rule::Array { item, min, max } => {
                let items = self
                    .root
                    .pointer(pointer)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let first = items
                    .first()
                    .cloned()
                    .unwrap_or_else(|| panic!("{pointer}: empty example array"));
                let too_many = Value::Array(vec![first; max + 1]);
                let body = self.with(pointer, Some(too_many));
                self.expect(
                    &body,
                    UnknownFields::Allow,
                    ErrorCode::GenericValidationError,
                    pointer,
                    "too many items",
                );
                if *min > 0 {
                    let body = self.with(pointer, Some(json!([])));
                    self.expect(
                        &body,
                        UnknownFields::Allow,
                        ErrorCode::GenericValidationError,
                        pointer,
                        "too few items",
                    );
                }
                self.walk_rule(item, &format!("{pointer}/0"));
            }
            _ => {}
        }
    }
}

#[test]
fn every_member_of_every_body_has_its_error_code() {
    let mut total = 0;
    for (name, schema, example) in examples() {
        fspiop::validate::validate_object(&example, schema, UnknownFields::Reject)
            .unwrap_or_else(|e| panic!("{name}: the example is invalid: {e}"));
        let mut checker = Checker {
            name,
            schema,
            root: example,
            checked: 0,
        };
        checker.expect(
            &json!([]),
            UnknownFields::Allow,
            ErrorCode::MalformedSyntax,
            "",
            "an array body",
        );
        checker.walk_object(schema, "");
        total += checker.checked;
    }
    assert!(total > 500, "only {total} checks");
}

#[test]
fn examples_type_into_their_structs() {
    let body = serde_json::to_vec(&examples()[0].2).unwrap_or_default();
    let quote: types::QuotesPostRequest =
        types::parse_body(&body, UnknownFields::Reject).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(quote.amount.amount, "100");
    assert_eq!(
        quote.payee.party_id_info.party_id_type,
        types::PartyIdType::Msisdn
    );
    let transfer: types::TransfersPostRequest = types::parse_body(
        &serde_json::to_vec(&examples()[2].2).unwrap_or_default(),
        UnknownFields::Allow,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(transfer.condition, CONDITION);
}

#[test]
fn parse_body_errors() {
    let check = |body: &[u8], code: u16, description: &str| {
        let error = types::parse_body::<types::TransfersPostRequest>(body, UnknownFields::Allow)
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(error.code.code(), code, "{}", error.description());
        assert_eq!(error.description(), description);
    };
    check(
        b"{not json",
        3101,
        "Malformed syntax - body is not valid JSON: key must be a string at line 1 column 2",
    );
    check(
        b"[]",
        3101,
        "Malformed syntax - body must be object, not array",
    );
    check(
        br#"{"transferId":"b51ec534-ee48-4575-b6a9-ead2955b8069"}"#,
        3102,
        "Missing mandatory element - body must have required property 'payeeFsp'",
    );
    let mut transfer = examples()[2].2.clone();
    transfer["amount"]["amount"] = json!(100);
    check(
        &serde_json::to_vec(&transfer).unwrap_or_default(),
        3101,
        "Malformed syntax - /amount/amount must be string, not number",
    );
    transfer["amount"]["amount"] = json!("100.10");
    check(
        &serde_json::to_vec(&transfer).unwrap_or_default(),
        3100,
        "Generic validation error - /amount/amount must be an Amount (18 digits, 4 decimals, no sign, no leading or trailing zeros)",
    );
}
