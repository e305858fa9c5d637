//! The versions each payer accepts for the answers to its lookups.
//!
//! A payee answers `GET /parties` in the version it speaks, which need not be one the payer
//! asked for: Mojaloop's Testing Toolkit as a payee answers a 1.1 lookup with a 2.0
//! `Content-Type`, and a 1.1 payer cannot take a 2.0 answer. The ALS remembers the `Accept` of
//! each lookup it forwards, per requester and party path, for [`ACCEPT_MEMORY_TTL`]; when it
//! relays a payee's `PUT /parties…` (or its `/error`) whose version that `Accept` does not
//! allow, it relays it under the highest `Content-Type` version the `Accept` allows and this
//! switch supports. Nothing is remembered or changed when the `Accept` allows any version, and
//! a relay with nothing remembered (the lookup went through another ALS instance, or longer ago
//! than the TTL) goes on as received.
//!
//! A 2.0 `parties` body relabelled 1.x is made a valid 1.x body by [`party_body_for_1x`]: the
//! members 1.x does not have (`party.supportedCurrencies`, `party.personalInfo.kycInformation`)
//! are left out, and so is an optional member 1.x's rules refuse: `party.name` (2.0's
//! `PartyName` has no character rule; 1.x's `Name` allows letters, marks, digits, spaces and
//! `.,'-`), the complex name's parts, `dateOfBirth`, `merchantClassificationCode`. A body
//! carrying a signature is never changed (the signature covers it): it is relabelled only.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fspiop::headers::{self, Version};
use fspiop::validate::Format;

/// How long the `Accept` of a forwarded lookup is remembered: longer than a DFSP waits for the
/// answer to its lookup.
pub const ACCEPT_MEMORY_TTL: Duration = Duration::from_secs(60);
/// Most lookups remembered at once (about 10 MB); beyond it a lookup is not remembered and its
/// answer is relayed as received. At 1000 lookups a second the TTL keeps 60,000.
pub const ACCEPT_MEMORY_ENTRIES_MAX: usize = 100_000;

const RESOURCE: &str = "parties";

/// (requester, party path).
type Key = (String, String);

/// The lookups remembered, and the order they were remembered in, so expired ones are dropped
/// from the front at a constant cost per lookup (never a scan of the whole map).
#[derive(Default)]
struct Entries {
    by_key: HashMap<Key, (Instant, Vec<Version>)>,
    order: VecDeque<(Instant, Key)>,
}

impl Entries {
    fn drop_expired(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) < ACCEPT_MEMORY_TTL {
                break;
            }
            if let Some((at, key)) = self.order.pop_front() {
                // Only if not remembered again since.
                if self
                    .by_key
                    .get(&key)
                    .is_some_and(|(latest, _)| *latest == at)
                {
                    self.by_key.remove(&key);
                }
            }
        }
    }
}

/// Remembered `Accept` versions by (requester, party path).
#[derive(Default)]
pub struct AcceptMemory {
    entries: Mutex<Entries>,
}

/// Whether `accepted` (an `Accept` version, `x` or `x.y`) allows content version `content`.
fn allows(accepted: Version, content: Version) -> bool {
    accepted == content || (accepted.minor.is_none() && accepted.major == content.major)
}

impl AcceptMemory {
    /// Remembers the `Accept` header of a lookup of `path` (`/parties/{Type}/{ID}[/{SubId}]`)
    /// by `requester`. An `Accept` that allows any version, or does not parse, is not kept.
    pub fn remember(&self, requester: &str, path: &str, accept: &str) {
        let Some(listed) = headers::parse_accept(accept, RESOURCE) else {
            return;
        };
        let Some(versions) = listed.into_iter().collect::<Option<Vec<Version>>>() else {
            return; // a media type without a version: any version will do
        };
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let now = Instant::now();
        entries.drop_expired(now);
        if entries.order.len() >= ACCEPT_MEMORY_ENTRIES_MAX {
            return;
        }
        let key = (requester.to_string(), path.to_string());
        entries.order.push_back((now, key.clone()));
        entries.by_key.insert(key, (now, versions));
    }

    /// The `Content-Type` to relay an answer about `path` to `requester` with, when its own
    /// (`content_type`) is not one the requester's lookup accepted: the highest of `supported`
    /// that it accepted. `None`: relay it as received.
    pub fn content_type_for(
        &self,
        requester: &str,
        path: &str,
        content_type: &str,
        supported: &[Version],
    ) -> Option<String> {
        let content = headers::parse_content_type(content_type, RESOURCE)?;
        let entries = self.entries.lock().ok()?;
        let (at, accepted) = entries
            .by_key
            .get(&(requester.to_string(), path.to_string()))?;
        if at.elapsed() >= ACCEPT_MEMORY_TTL || accepted.iter().any(|a| allows(*a, content)) {
            return None;
        }
        supported
            .iter()
            .filter(|version| accepted.iter().any(|a| allows(*a, **version)))
            .max()
            .map(|version| headers::media_type(RESOURCE, *version))
    }
}

/// A 2.0 `PUT /parties` body as a 1.x body (see the module documentation), or `None` when it
/// is one already (or is not a JSON object with a `party`).
pub fn party_body_for_1x(body: &[u8]) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let party = value.get_mut("party")?.as_object_mut()?;
    let mut changed = party.remove("supportedCurrencies").is_some();
    if let Some(info) = party
        .get_mut("personalInfo")
        .and_then(serde_json::Value::as_object_mut)
    {
        changed |= info.remove("kycInformation").is_some();
    }
    changed |= drop_unless(party, "name", Format::Name);
    changed |= drop_unless(
        party,
        "merchantClassificationCode",
        Format::MerchantClassificationCode,
    );
    if let Some(info) = party
        .get_mut("personalInfo")
        .and_then(serde_json::Value::as_object_mut)
    {
        changed |= drop_unless(info, "dateOfBirth", Format::Date);
        if let Some(names) = info
            .get_mut("complexName")
            .and_then(serde_json::Value::as_object_mut)
        {
            for name in ["firstName", "middleName", "lastName"] {
                changed |= drop_unless(names, name, Format::Name);
            }
        }
    }
    changed.then(|| serde_json::to_vec(&value).ok()).flatten()
}

/// Removes optional member `name` of `object` unless it is a string of `format`; whether it
/// did.
fn drop_unless(
    object: &mut serde_json::Map<String, serde_json::Value>,
    name: &str,
    format: Format,
) -> bool {
    let fits = |value: &serde_json::Value| {
        value
            .as_str()
            .is_some_and(|text| fspiop::validate::check_format(format, text))
    };
    if object.get(name).is_some_and(|value| !fits(value)) {
        object.remove(name);
        return true;
    }
    false
}

/// Whether an `FSPIOP-Signature` value is a JWS at all (`{"protectedHeader","signature"}`): a
/// body carrying one is never changed. Anything else (a test tool's placeholder text) protects
/// nothing.
pub fn is_signature(value: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(value).is_ok_and(|v| {
        v.get("protectedHeader")
            .is_some_and(serde_json::Value::is_string)
            && v.get("signature").is_some_and(serde_json::Value::is_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/parties/MSISDN/1";

    fn supported() -> Vec<Version> {
        vec![Version::new(1, 1), Version::new(1, 0), Version::new(2, 0)]
    }

    fn relabel(memory: &AcceptMemory, content_type: &str) -> Option<String> {
        memory.content_type_for("payer", PATH, content_type, &supported())
    }

    const V20: &str = "application/vnd.interoperability.parties+json;version=2.0";
    const V11: &str = "application/vnd.interoperability.parties+json;version=1.1";

    #[test]
    fn a_2_0_party_body_becomes_a_valid_1_x_body() {
        let body = br#"{"party":{"partyIdInfo":{"partyIdType":"MSISDN","partyIdentifier":"1"},"name":"eCg Cpt'J PPeM=okJgkutp{cc","supportedCurrencies":["USD"],"personalInfo":{"complexName":{"firstName":"Henrik","lastName":"}{="},"dateOfBirth":"not a date","kycInformation":"k"}},"esse_1":1}"#;
        let adapted = party_body_for_1x(body).unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&adapted).unwrap_or_default();
        assert_eq!(
            value,
            serde_json::json!({"party":{"partyIdInfo":{"partyIdType":"MSISDN","partyIdentifier":"1"},"personalInfo":{"complexName":{"firstName":"Henrik"}}},"esse_1":1})
        );
        assert!(!is_signature("Ut dolore id veniam"));
        assert!(is_signature(r#"{"signature":"s","protectedHeader":"p"}"#));
        // A name 1.x allows is kept, and a body with nothing to change is not rewritten.
        let fine = r#"{"party":{"partyIdInfo":{"partyIdType":"MSISDN","partyIdentifier":"1"},"name":"José O'Neil-Smith"}}"#;
        assert_eq!(party_body_for_1x(fine.as_bytes()), None);
        assert_eq!(party_body_for_1x(b"not json"), None);
    }

    #[test]
    fn an_answer_the_payer_cannot_take_is_relabelled() {
        let memory = AcceptMemory::default();
        memory.remember(
            "payer",
            PATH,
            "application/vnd.interoperability.parties+json;version=1.1",
        );
        assert_eq!(relabel(&memory, V20).as_deref(), Some(V11));
        assert_eq!(relabel(&memory, V11), None);
        // Another requester or party: nothing remembered.
        assert_eq!(
            memory.content_type_for("other", PATH, V20, &supported()),
            None
        );
        assert_eq!(
            memory.content_type_for("payer", "/parties/MSISDN/2", V20, &supported()),
            None
        );
    }

    #[test]
    fn memory_is_bounded_and_expires_from_the_front() {
        let memory = AcceptMemory::default();
        let accept = "application/vnd.interoperability.parties+json;version=1.1";
        let old = Instant::now()
            .checked_sub(ACCEPT_MEMORY_TTL + Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        {
            let mut entries = memory.entries.lock().unwrap_or_else(|e| e.into_inner());
            for n in 0..ACCEPT_MEMORY_ENTRIES_MAX {
                let key = ("payer".to_string(), format!("/parties/MSISDN/{n}"));
                entries.order.push_back((old, key.clone()));
                entries.by_key.insert(key, (old, vec![Version::new(1, 1)]));
            }
        }
        // Full of expired lookups: the next one drops them and is remembered.
        memory.remember("payer", PATH, accept);
        let entries = memory.entries.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!((entries.order.len(), entries.by_key.len()), (1, 1));
        drop(entries);
        assert_eq!(relabel(&memory, V20).as_deref(), Some(V11));
        // Full of live lookups: a new one is not remembered (its answer goes as received).
        for n in 0..ACCEPT_MEMORY_ENTRIES_MAX {
            memory.remember("payer", &format!("/parties/MSISDN/{n}"), accept);
        }
        memory.remember("other", PATH, accept);
        assert_eq!(
            memory.content_type_for("other", PATH, V20, &supported()),
            None
        );
    }

    #[test]
    fn a_major_version_takes_the_highest_supported_minor() {
        let memory = AcceptMemory::default();
        memory.remember(
            "payer",
            PATH,
            "application/vnd.interoperability.parties+json;version=1",
        );
        assert_eq!(relabel(&memory, V20).as_deref(), Some(V11));
        assert_eq!(
            relabel(
                &memory,
                "application/vnd.interoperability.parties+json;version=1.0"
            ),
            None
        );
    }

    #[test]
    fn any_version_or_an_unsupported_one_changes_nothing() {
        let memory = AcceptMemory::default();
        memory.remember(
            "payer",
            PATH,
            "application/vnd.interoperability.parties+json",
        );
        assert_eq!(relabel(&memory, V20), None);
        memory.remember(
            "payer",
            PATH,
            "application/vnd.interoperability.parties+json;version=9.9",
        );
        assert_eq!(relabel(&memory, V20), None, "no supported version to use");
        memory.remember("payer", PATH, "not a media type");
        assert_eq!(relabel(&memory, V20), None);
    }
}
