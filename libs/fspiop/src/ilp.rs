//! Interledger as Mojaloop uses it: ILPv4 Prepare and ILPv1 payment packets (OER encoded),
//! the Transaction object carried in their `data`, and conditions and fulfilments made the
//! way the payee DFSP SDK (`@mojaloop/sdk-standard-components`) makes them.
//!
//! Where the SDK silently mangles input (a fraction left after scaling truncated by v1, an
//! amount past `u64::MAX` wrapped to 0, a negative amount) this module returns an error.

use base64::alphabet;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD,
};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{amount, canonical, currency, datetime};

/// ILPv4 Prepare packet type.
pub const TYPE_PREPARE_V4: u8 = 12;
/// ILPv1 payment packet type.
pub const TYPE_PAYMENT_V1: u8 = 1;
/// The destination every Mojaloop ILPv4 packet carries; the payee lives in `data`.
pub const MOJALOOP_DESTINATION: &str = "g.mojaloop";
/// Longest ILP address (ILPv4 RFC).
pub const ADDRESS_LEN_MAX: usize = 1023;

/// Which packet format a deployment uses (the scheme adapter's `ILP_VERSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IlpVersion {
    V4,
    V1,
}

impl IlpVersion {
    pub fn from_name(name: &str) -> Option<IlpVersion> {
        match name {
            "v4" | "4" => Some(IlpVersion::V4),
            "v1" | "1" => Some(IlpVersion::V1),
            _ => None,
        }
    }
}

impl IlpVersion {
    pub fn name(self) -> &'static str {
        match self {
            IlpVersion::V4 => "v4",
            IlpVersion::V1 => "v1",
        }
    }

    /// The first byte of a packet of this version.
    pub fn type_byte(self) -> u8 {
        match self {
            IlpVersion::V4 => TYPE_PREPARE_V4,
            IlpVersion::V1 => TYPE_PAYMENT_V1,
        }
    }
}

/// The packet versions a deployment accepts. A packet says which version it is (its type
/// byte), so a switch can take both at once: Mojaloop's SDK for FSPIOP 1.x and the Testing
/// Toolkit's FSPIOP quotes make v1, FSPIOP 2.0 DFSPs make v4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IlpVersions {
    v1: bool,
    v4: bool,
}

impl IlpVersions {
    /// Both versions: the default.
    pub const BOTH: IlpVersions = IlpVersions { v1: true, v4: true };

    pub fn only(version: IlpVersion) -> IlpVersions {
        IlpVersions {
            v1: version == IlpVersion::V1,
            v4: version == IlpVersion::V4,
        }
    }

    /// From configuration names (`"v1"`, `"v4"`); an unknown name or an empty list is an
    /// error that names the problem.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<IlpVersions, String> {
        let mut versions = IlpVersions {
            v1: false,
            v4: false,
        };
        for name in names {
            match IlpVersion::from_name(name.as_ref()) {
                Some(IlpVersion::V1) => versions.v1 = true,
                Some(IlpVersion::V4) => versions.v4 = true,
                None => return Err(format!("{:?} is not \"v1\" or \"v4\"", name.as_ref())),
            }
        }
        if !versions.v1 && !versions.v4 {
            return Err("no ILP version allowed: list \"v1\", \"v4\" or both".to_string());
        }
        Ok(versions)
    }

    pub fn allows(self, version: IlpVersion) -> bool {
        match version {
            IlpVersion::V1 => self.v1,
            IlpVersion::V4 => self.v4,
        }
    }

    /// `"v1, v4"`, for logs and error texts.
    pub fn names(self) -> String {
        [IlpVersion::V1, IlpVersion::V4]
            .into_iter()
            .filter(|v| self.allows(*v))
            .map(IlpVersion::name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why a packet cannot be built, decoded or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IlpError {
    #[error("packet is not valid base64")]
    Base64,
    #[error("packet has incorrect type {0}")]
    WrongType(u8),
    #[error("packet has type {} (ILP {}), which this switch does not accept", .0.type_byte(), .0.name())]
    VersionNotAllowed(IlpVersion),
    #[error("packet is truncated")]
    Truncated,
    #[error("packet has a non-canonical length prefix")]
    NonCanonicalLength,
    #[error("packet has invalid expiresAt")]
    BadExpiry,
    #[error("packet has invalid destination address")]
    BadAddress,
    #[error("no decimal place data available for currency {0}")]
    UnknownCurrency(String),
    #[error("amount {amount} {currency}: {reason}")]
    BadAmount {
        amount: String,
        currency: String,
        reason: String,
    },
    #[error("invalid ILP expiration date {0:?}")]
    BadExpiration(String),
    #[error("packet data is not a base64url JSON transaction object")]
    BadData,
    #[error("missing field {0}")]
    MissingField(&'static str),
    #[error("fulfilment must be exactly 32 bytes of base64url")]
    BadFulfilment,
}

/// An ILPv4 Prepare packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepare {
    pub amount: u64,
    /// Expiry, UTC milliseconds since the epoch.
    pub expires_at_ms: i64,
    pub execution_condition: [u8; 32],
    pub destination: String,
    pub data: Vec<u8>,
}

/// An ILPv1 payment packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentV1 {
    pub amount: u64,
    pub account: String,
    pub data: Vec<u8>,
}

/// A decoded packet of either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    V4(Prepare),
    V1(PaymentV1),
}

impl Packet {
    pub fn version(&self) -> IlpVersion {
        match self {
            Packet::V4(_) => IlpVersion::V4,
            Packet::V1(_) => IlpVersion::V1,
        }
    }

    pub fn data(&self) -> &[u8] {
        match self {
            Packet::V4(p) => &p.data,
            Packet::V1(p) => &p.data,
        }
    }

    pub fn amount(&self) -> u64 {
        match self {
            Packet::V4(p) => p.amount,
            Packet::V1(p) => p.amount,
        }
    }

    /// The Transaction object carried in `data` (base64url text of its JSON).
    pub fn transaction_object(&self) -> Result<Value, IlpError> {
        let json = lenient_base64()
            .decode(self.data())
            .map_err(|_| IlpError::BadData)?;
        let value: Value = serde_json::from_slice(&json).map_err(|_| IlpError::BadData)?;
        value.is_object().then_some(value).ok_or(IlpError::BadData)
    }
}

// ---- OER -------------------------------------------------------------------------------

fn write_length(out: &mut Vec<u8>, len: usize) {
    if len < 128 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or(&[]);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

fn write_var_octets(out: &mut Vec<u8>, bytes: &[u8]) {
    write_length(out, bytes.len());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], IlpError> {
        let end = self.at.checked_add(len).ok_or(IlpError::Truncated)?;
        let slice = self.bytes.get(self.at..end).ok_or(IlpError::Truncated)?;
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, IlpError> {
        self.take(1).map(|s| s.first().copied().unwrap_or(0))
    }

    fn u64(&mut self) -> Result<u64, IlpError> {
        let slice = self.take(8)?;
        let mut buf = [0u8; 8];
        buf.copy_from_slice(slice);
        Ok(u64::from_be_bytes(buf))
    }

    /// A canonical OER length prefix.
    fn length(&mut self) -> Result<usize, IlpError> {
        let first = self.byte()?;
        if first & 0x80 == 0 {
            return Ok(usize::from(first));
        }
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 8 {
            return Err(IlpError::NonCanonicalLength);
        }
        let bytes = self.take(count)?;
        if bytes.first() == Some(&0) {
            return Err(IlpError::NonCanonicalLength);
        }
        let len = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if len < 128 {
            return Err(IlpError::NonCanonicalLength);
        }
        usize::try_from(len).map_err(|_| IlpError::Truncated)
    }

    fn var_octets(&mut self) -> Result<&'a [u8], IlpError> {
        let len = self.length()?;
        self.take(len)
    }

    /// The content of a `type, length, content` envelope; bytes after it are ignored.
    fn envelope(bytes: &'a [u8], expected_type: u8) -> Result<Reader<'a>, IlpError> {
        let mut outer = Reader::new(bytes);
        let kind = outer.byte()?;
        if kind != expected_type {
            return Err(IlpError::WrongType(kind));
        }
        Ok(Reader::new(outer.var_octets()?))
    }
}

/// Whether `address` is a valid ILP address:
/// `^(g|private|example|peer|self|test[1-3]?|local)([.][a-zA-Z0-9_~-]+)+$`, at most 1023 chars.
pub fn is_valid_address(address: &str) -> bool {
    if address.len() > ADDRESS_LEN_MAX {
        return false;
    }
    let mut parts = address.split('.');
    let scheme_ok = matches!(
        parts.next(),
        Some(
            "g" | "private"
                | "example"
                | "peer"
                | "self"
                | "test"
                | "test1"
                | "test2"
                | "test3"
                | "local"
        )
    );
    let mut segments = 0;
    let segments_ok = parts.all(|segment| {
        segments += 1;
        !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'~' | b'-'))
    });
    scheme_ok && segments_ok && segments > 0
}

impl Prepare {
    pub fn encode(&self) -> Result<Vec<u8>, IlpError> {
        let timestamp =
            datetime::format_ilp_timestamp(self.expires_at_ms).ok_or(IlpError::BadExpiry)?;
        if !is_valid_address(&self.destination) {
            return Err(IlpError::BadAddress);
        }
        let mut content = Vec::with_capacity(64 + self.destination.len() + self.data.len());
        content.extend_from_slice(&self.amount.to_be_bytes());
        content.extend_from_slice(timestamp.as_bytes());
        content.extend_from_slice(&self.execution_condition);
        write_var_octets(&mut content, self.destination.as_bytes());
        write_var_octets(&mut content, &self.data);
        let mut out = Vec::with_capacity(content.len() + 5);
        out.push(TYPE_PREPARE_V4);
        write_var_octets(&mut out, &content);
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Prepare, IlpError> {
        let mut r = Reader::envelope(bytes, TYPE_PREPARE_V4)?;
        let amount = r.u64()?;
        let timestamp = std::str::from_utf8(r.take(17)?).map_err(|_| IlpError::BadExpiry)?;
        let expires_at_ms = datetime::parse_ilp_timestamp(timestamp).ok_or(IlpError::BadExpiry)?;
        let mut execution_condition = [0u8; 32];
        execution_condition.copy_from_slice(r.take(32)?);
        let destination = std::str::from_utf8(r.var_octets()?).map_err(|_| IlpError::BadAddress)?;
        if !is_valid_address(destination) {
            return Err(IlpError::BadAddress);
        }
        let data = r.var_octets()?.to_vec();
        Ok(Prepare {
            amount,
            expires_at_ms,
            execution_condition,
            destination: destination.to_string(),
            data,
        })
    }
}

impl PaymentV1 {
    pub fn encode(&self) -> Vec<u8> {
        let mut content = Vec::with_capacity(16 + self.account.len() + self.data.len());
        content.extend_from_slice(&self.amount.to_be_bytes());
        write_var_octets(&mut content, self.account.as_bytes());
        write_var_octets(&mut content, &self.data);
        content.push(0); // no extensions
        let mut out = Vec::with_capacity(content.len() + 5);
        out.push(TYPE_PAYMENT_V1);
        write_var_octets(&mut out, &content);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<PaymentV1, IlpError> {
        let mut r = Reader::envelope(bytes, TYPE_PAYMENT_V1)?;
        let amount = r.u64()?;
        let account =
            String::from_utf8(r.var_octets()?.to_vec()).map_err(|_| IlpError::BadAddress)?;
        let data = r.var_octets()?.to_vec();
        Ok(PaymentV1 {
            amount,
            account,
            data,
        })
    }
}

/// Base64 decoding as lenient as Node's: standard or URL-safe alphabet, padded or not,
/// stray trailing bits allowed.
fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

fn decode_base64_lenient(text: &str) -> Result<Vec<u8>, IlpError> {
    let normalized: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    lenient_base64()
        .decode(normalized.as_bytes())
        .map_err(|_| IlpError::Base64)
}

/// Decodes an `ilpPacket` field (base64url or base64, padding optional).
pub fn decode_packet(text: &str, version: IlpVersion) -> Result<Packet, IlpError> {
    let bytes = decode_base64_lenient(text)?;
    match version {
        IlpVersion::V4 => Prepare::decode(&bytes).map(Packet::V4),
        IlpVersion::V1 => PaymentV1::decode(&bytes).map(Packet::V1),
    }
}

/// Decodes an `ilpPacket` field in whichever version its type byte names (12: ILPv4
/// Prepare, 1: ILPv1 payment), if `allowed` takes that version.
pub fn decode_packet_of(text: &str, allowed: IlpVersions) -> Result<Packet, IlpError> {
    let bytes = decode_base64_lenient(text)?;
    let kind = bytes.first().copied().ok_or(IlpError::Truncated)?;
    let version = match kind {
        TYPE_PREPARE_V4 => IlpVersion::V4,
        TYPE_PAYMENT_V1 => IlpVersion::V1,
        other => return Err(IlpError::WrongType(other)),
    };
    if !allowed.allows(version) {
        return Err(IlpError::VersionNotAllowed(version));
    }
    match version {
        IlpVersion::V4 => Prepare::decode(&bytes).map(Packet::V4),
        IlpVersion::V1 => PaymentV1::decode(&bytes).map(Packet::V1),
    }
}

// ---- conditions and fulfilments --------------------------------------------------------

/// `base64url(SHA-256(fulfilment))` for a base64url fulfilment of exactly 32 bytes.
pub fn condition_from_fulfilment(fulfilment: &str) -> Result<String, IlpError> {
    let preimage = decode_base64_lenient(fulfilment).map_err(|_| IlpError::BadFulfilment)?;
    if preimage.len() != 32 {
        return Err(IlpError::BadFulfilment);
    }
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(&preimage)))
}

/// Whether `fulfilment` is the preimage of `condition`. Compared as strings against the
/// canonical encoding, as the ledger does: a padded or non-canonical condition never matches.
pub fn fulfilment_matches(fulfilment: &str, condition: &str) -> bool {
    condition_from_fulfilment(fulfilment).is_ok_and(|computed| computed == condition)
}

/// Whether `text` is a well-formed condition or fulfilment: 43 base64url characters that
/// encode 32 bytes canonically.
pub fn is_canonical_32(text: &str) -> bool {
    text.len() == 43
        && URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .is_ok_and(|bytes| bytes.len() == 32)
}

/// What the payee makes for a quote: the packet, the condition it sends and the fulfilment it
/// keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct IlpTerms {
    pub ilp_packet: String,
    pub condition: String,
    pub fulfilment: String,
    pub transaction_object: Value,
}

/// The HMAC inputs of a fulfilment, as ASCII text (for tests and debugging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacInputs {
    pub key_ascii: String,
    pub message_ascii: String,
}

/// The payee's ILP engine: its version and its local secret.
#[derive(Debug, Clone)]
pub struct Ilp {
    version: IlpVersion,
    key_ascii: String,
}

fn field<'a>(object: &'a Map<String, Value>, name: &'static str) -> Result<&'a Value, IlpError> {
    object.get(name).ok_or(IlpError::MissingField(name))
}

fn str_at<'a>(value: &'a Value, path: &[&'static str]) -> Option<&'a str> {
    path.iter().try_fold(value, |v, key| v.get(key))?.as_str()
}

impl Ilp {
    /// As the SDK does, the HMAC key is the text of standard base64 of the secret.
    pub fn new(version: IlpVersion, secret: &str) -> Ilp {
        Ilp {
            version,
            key_ascii: STANDARD.encode(secret.as_bytes()),
        }
    }

    pub fn version(&self) -> IlpVersion {
        self.version
    }

    /// The Transaction object of a quote: `quoteId`, `transactionId`, `transactionType`,
    /// `payee`, `payer` from the request; `expiration`, `amount` (= `transferAmount`) and a
    /// non-empty `note` from the response.
    pub fn transaction_object(
        quote_request: &Value,
        quote_response: &Value,
    ) -> Result<Value, IlpError> {
        let request = quote_request
            .as_object()
            .ok_or(IlpError::MissingField("quoteRequest"))?;
        let response = quote_response
            .as_object()
            .ok_or(IlpError::MissingField("quoteResponse"))?;
        let mut tx = Map::new();
        for name in [
            "quoteId",
            "transactionId",
            "transactionType",
            "payee",
            "payer",
        ] {
            let name: &'static str = name;
            tx.insert(name.to_string(), field(request, name)?.clone());
        }
        tx.insert(
            "expiration".to_string(),
            field(response, "expiration")?.clone(),
        );
        tx.insert(
            "amount".to_string(),
            field(response, "transferAmount")?.clone(),
        );
        if let Some(note) = response.get("note").filter(|n| js_truthy(n)) {
            tx.insert("note".to_string(), note.clone());
        }
        Ok(Value::Object(tx))
    }

    /// Packet, condition and fulfilment for a quote request and the payee's response.
    pub fn quote_response_terms(
        &self,
        quote_request: &Value,
        quote_response: &Value,
    ) -> Result<IlpTerms, IlpError> {
        self.terms_for_transaction(Ilp::transaction_object(quote_request, quote_response)?)
    }

    /// Packet, condition and fulfilment for a Transaction object.
    pub fn terms_for_transaction(&self, tx: Value) -> Result<IlpTerms, IlpError> {
        let currency_code = str_at(&tx, &["amount", "currency"])
            .ok_or(IlpError::MissingField("amount.currency"))?;
        let amount_text =
            str_at(&tx, &["amount", "amount"]).ok_or(IlpError::MissingField("amount.amount"))?;
        let scale = currency::ilp_scale(currency_code)
            .ok_or_else(|| IlpError::UnknownCurrency(currency_code.to_string()))?;
        let bad_amount = |reason: String| IlpError::BadAmount {
            amount: amount_text.to_string(),
            currency: currency_code.to_string(),
            reason,
        };
        let amount =
            amount::to_minor_units(amount_text, scale).map_err(|e| bad_amount(e.to_string()))?;
        // v1 carries no expiry, but the SDK's laxity (any string, or none) is not copied: the
        // transaction object must say when it expires.
        let expiration =
            str_at(&tx, &["expiration"]).ok_or(IlpError::MissingField("expiration"))?;
        let expires_at_ms = datetime::parse_iso8601_lenient(expiration)
            .ok_or_else(|| IlpError::BadExpiration(expiration.to_string()))?;
        let tx_json = canonical::to_string(&tx);
        let data = URL_SAFE_NO_PAD.encode(tx_json.as_bytes()).into_bytes();
        match self.version {
            IlpVersion::V4 => {
                let fulfilment = self.hmac(STANDARD.encode(tx_json.as_bytes()).as_bytes());
                let condition: [u8; 32] = Sha256::digest(fulfilment).into();
                let packet = Prepare {
                    amount,
                    expires_at_ms,
                    execution_condition: condition,
                    destination: MOJALOOP_DESTINATION.to_string(),
                    data,
                };
                Ok(IlpTerms {
                    ilp_packet: URL_SAFE_NO_PAD.encode(packet.encode()?),
                    condition: URL_SAFE_NO_PAD.encode(condition),
                    fulfilment: URL_SAFE_NO_PAD.encode(fulfilment),
                    transaction_object: tx,
                })
            }
            IlpVersion::V1 => {
                let packet = PaymentV1 {
                    amount,
                    account: v1_address(&tx)?,
                    data,
                };
                let ilp_packet = URL_SAFE_NO_PAD.encode(packet.encode());
                let fulfilment = self.hmac(ilp_packet.as_bytes());
                Ok(IlpTerms {
                    condition: URL_SAFE_NO_PAD.encode(Sha256::digest(fulfilment)),
                    fulfilment: URL_SAFE_NO_PAD.encode(fulfilment),
                    ilp_packet,
                    transaction_object: tx,
                })
            }
        }
    }

    /// Re-derives the fulfilment of a packet this payee made (the SDK's `calculateFulfil`).
    pub fn fulfilment_for_packet(&self, ilp_packet: &str) -> Result<String, IlpError> {
        Ok(URL_SAFE_NO_PAD.encode(self.hmac(self.hmac_message(ilp_packet)?.as_bytes())))
    }

    /// The HMAC key and message texts for a packet.
    pub fn hmac_inputs(&self, ilp_packet: &str) -> Result<HmacInputs, IlpError> {
        Ok(HmacInputs {
            key_ascii: self.key_ascii.clone(),
            message_ascii: self.hmac_message(ilp_packet)?,
        })
    }

    fn hmac_message(&self, ilp_packet: &str) -> Result<String, IlpError> {
        match self.version {
            IlpVersion::V4 => {
                let tx = decode_packet(ilp_packet, IlpVersion::V4)?.transaction_object()?;
                Ok(STANDARD.encode(canonical::to_string(&tx).as_bytes()))
            }
            IlpVersion::V1 => Ok(ilp_packet.to_string()),
        }
    }

    fn hmac(&self, message: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length.
        let mut mac = match Hmac::<Sha256>::new_from_slice(self.key_ascii.as_bytes()) {
            Ok(mac) => mac,
            Err(_) => return [0; 32],
        };
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

/// JavaScript truthiness of a JSON value.
fn js_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The ILPv1 account of the payee: `g.<fspId>.<type>.<identifier>[.<subId>]`, all but the
/// fspId lower-cased, as the SDK builds it.
fn v1_address(tx: &Value) -> Result<String, IlpError> {
    let info = |name: &'static str| str_at(tx, &["payee", "partyIdInfo", name]);
    let fsp = info("fspId").ok_or(IlpError::MissingField("payee.partyIdInfo.fspId"))?;
    let kind =
        info("partyIdType").ok_or(IlpError::MissingField("payee.partyIdInfo.partyIdType"))?;
    let id = info("partyIdentifier")
        .ok_or(IlpError::MissingField("payee.partyIdInfo.partyIdentifier"))?;
    let mut address = format!("g.{fsp}.{}.{}", kind.to_lowercase(), id.to_lowercase());
    if let Some(sub) = info("partySubIdOrType") {
        address.push('.');
        address.push_str(&sub.to_lowercase());
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oer_lengths_round_trip_and_reject_non_canonical() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 70_000] {
            let mut out = Vec::new();
            write_length(&mut out, len);
            assert_eq!(Reader::new(&out).length(), Ok(len));
        }
        assert_eq!(
            Reader::new(&[0x81, 0x48]).length(),
            Err(IlpError::NonCanonicalLength)
        );
        assert_eq!(
            Reader::new(&[0x82, 0x00, 0xff]).length(),
            Err(IlpError::NonCanonicalLength)
        );
        assert_eq!(
            Reader::new(&[0x80]).length(),
            Err(IlpError::NonCanonicalLength)
        );
        assert_eq!(
            Reader::new(&[0x82, 0x01]).length(),
            Err(IlpError::Truncated)
        );
    }

    #[test]
    fn short_v4_prepare_matches_the_known_layout() {
        let packet = Prepare {
            amount: 1,
            expires_at_ms: datetime::parse_ilp_timestamp("20300101000000000").unwrap_or(0),
            execution_condition: [1; 32],
            destination: "g.mojaloop".to_string(),
            data: b"abc".to_vec(),
        };
        let bytes = packet.encode().unwrap_or_default();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let want = format!(
            "0c480000000000000001{}{}0a{}03616263",
            "3230333030313031303030303030303030",
            "01".repeat(32),
            "672e6d6f6a616c6f6f70"
        );
        assert_eq!(hex, want);
        assert_eq!(Prepare::decode(&bytes), Ok(packet.clone()));
        let mut trailing = bytes.clone();
        trailing.extend_from_slice(b"junk");
        assert_eq!(Prepare::decode(&trailing), Ok(packet));
    }

    #[test]
    fn packets_decode_by_their_type_byte() {
        let tx = serde_json::json!({
            "quoteId": "q", "transactionId": "t",
            "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "1", "fspId": "b"}},
            "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "2", "fspId": "a"}},
            "expiration": "2030-01-01T00:00:00.000Z",
            "amount": {"amount": "1.5", "currency": "USD"},
        });
        for version in [IlpVersion::V4, IlpVersion::V1] {
            let terms = Ilp::new(version, "s")
                .terms_for_transaction(tx.clone())
                .unwrap_or_else(|e| panic!("{e}"));
            let packet = decode_packet_of(&terms.ilp_packet, IlpVersions::BOTH);
            assert_eq!(packet.as_ref().map(Packet::version), Ok(version));
            assert_eq!(packet.map(|p| p.amount()), Ok(150));
            let other = match version {
                IlpVersion::V4 => IlpVersion::V1,
                IlpVersion::V1 => IlpVersion::V4,
            };
            assert!(matches!(
                decode_packet_of(&terms.ilp_packet, IlpVersions::only(other)),
                Err(IlpError::VersionNotAllowed(v)) if v == version
            ));
        }
        assert_eq!(
            decode_packet_of("BwA", IlpVersions::BOTH),
            Err(IlpError::WrongType(7))
        );
        assert_eq!(
            decode_packet_of("", IlpVersions::BOTH),
            Err(IlpError::Truncated)
        );
    }

    #[test]
    fn version_sets_parse_from_names() {
        assert_eq!(
            IlpVersions::from_names(&["v1", "v4"]),
            Ok(IlpVersions::BOTH)
        );
        assert_eq!(
            IlpVersions::from_names(&["v4"]),
            Ok(IlpVersions::only(IlpVersion::V4))
        );
        assert!(IlpVersions::from_names::<&str>(&[]).is_err());
        assert!(IlpVersions::from_names(&["v2"])
            .unwrap_err()
            .contains("\"v2\""));
        assert_eq!(IlpVersions::BOTH.names(), "v1, v4");
    }

    #[test]
    fn addresses() {
        assert!(is_valid_address("g.mojaloop"));
        assert!(is_valid_address("test3.a-b_c~d"));
        assert!(!is_valid_address("g"));
        assert!(!is_valid_address("g."));
        assert!(!is_valid_address("x.mojaloop"));
        assert!(!is_valid_address("g.a b"));
        assert!(!is_valid_address("g..a"));
    }

    #[test]
    fn fulfilment_checks_compare_canonical_strings() {
        let fulfilment = "UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA";
        let condition = condition_from_fulfilment(fulfilment).unwrap_or_default();
        assert!(fulfilment_matches(fulfilment, &condition));
        assert!(!fulfilment_matches(fulfilment, &format!("{condition}=")));
        assert!(!fulfilment_matches("AAAA", &condition));
        assert!(is_canonical_32(&condition));
        assert!(!is_canonical_32("AAAA"));
    }
}
