//! Request to pay (FSPIOP "payee-initiated transaction"): the simulated DFSPs in both roles.
//!
//! **Payee** ([`crate::Simulator::request_to_pay`], `POST /{dfsp}/requestToPay`): optionally
//! looks the payer's customer up (`GET /parties/MSISDN/{payer msisdn}`), sends `POST
//! /transactionRequests` to the payer DFSP through the switch's transaction requests service
//! and waits for its `PUT /transactionRequests/{ID}` (RECEIVED, or REJECTED: the payer
//! declined). It then answers the payer's quote and transfer as any payee does (the quote
//! carries the `transactionRequestId`, initiator PAYEE), and the payer's `GET
//! /authorizations/{ID}` with `PUT /authorizations/{ID}` ENTERED and the OTP its customer
//! "typed" ([`otp`]). When the payer DFSP is simulated here the payee waits for the payer's
//! outcome (committed, or the error that stopped it) and reports every phase; otherwise it
//! reports the request RECEIVED and stops there (the payer's quote and transfer are not seen
//! from here).
//!
//! **Payer**: on `POST /transactionRequests` it answers `PUT /transactionRequests/{ID}` —
//! RECEIVED with a new `transactionId`, or REJECTED when it declines: the payer party is not an
//! MSISDN this DFSP holds, or the amount is not in its currency (ask for a refusal with
//! `payerFsp` set and an MSISDN of another DFSP). A resent request (same id) gets the earlier
//! answer again and starts nothing. After RECEIVED it sends `POST /quotes` (amountType RECEIVE,
//! the request's amount, payee and transactionType, its `transactionRequestId`), then, when the
//! request asked for `authenticationType` OTP, `GET /authorizations/{ID}` and checks the OTP
//! (a wrong one or a responseType other than ENTERED: it stops and tells the payee `PUT
//! /transactionRequests/{ID}` REJECTED), then `POST /transfers` on the quote's terms until
//! COMMITTED. The outcome goes to the payee's waiting request when the payee is simulated here.
//!
//! The OTP is [`otp`] of the `transactionRequestId`, which both sides compute: it stands in
//! for the code the payer DFSP would text its customer and the customer would type at the
//! payee's point of sale. One attempt: a wrong OTP is not retried.
//!
//! Errors end the waits: `PUT /transactionRequests/{ID}/error` ends the payee's request (before
//! or after RECEIVED), `PUT /authorizations/{ID}/error` ends the payer's authorization or, sent
//! to the payee, the payee's request. Every wait is bounded: each callback by
//! `callback_timeout_ms`, the payer's outcome by the three callbacks it waits for.

use super::*;

use std::collections::VecDeque;

use tokio::sync::mpsc;

/// How a payee asks to be paid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// The payee's customer who asks (default: the payee DFSP's first MSISDN).
    pub payee_msisdn: Option<String>,
    /// The payer DFSP, when known without a lookup.
    pub payer_fsp: Option<String>,
    /// Ask for no authorization (no `authenticationType`): the payer transfers after the
    /// quote.
    pub without_otp: bool,
    /// The payee's customer types a wrong OTP (the payer must refuse).
    pub wrong_otp: bool,
}

/// The OTP of a request to pay: six digits of the FNV-1a hash of its `transactionRequestId`,
/// computed by the payer DFSP (what it would text its customer) and by the payee's point of
/// sale (what the customer types there).
pub fn otp(transaction_request_id: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in transaction_request_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:06}", hash % 1_000_000)
}

/// What reaches a payee's request after the payer's first answer.
#[derive(Debug)]
pub(crate) enum Event {
    /// A later `PUT /transactionRequests/{ID}` (REJECTED after the authorization) or its
    /// `/error`.
    Answer(Callback),
    /// `PUT /authorizations/{ID}/error` sent to the payee.
    AuthorizationError { code: String, description: String },
    /// The payer simulated here finished.
    Finished(Box<Result<PaymentReport, PaymentError>>),
}

/// A request a payee sent and waits on.
struct Pending {
    payee: String,
    /// The payer's first `PUT /transactionRequests` was handed to the request's waiter.
    answered: bool,
    wrong_otp: bool,
    events: mpsc::UnboundedSender<Event>,
}

/// Answers a payer remembers, for resent requests and `GET /transactionRequests/{ID}`.
const ANSWERS_KEPT_MAX: usize = 100_000;

#[derive(Default)]
struct Answers {
    by_id: HashMap<String, Value>,
    order: VecDeque<String>,
}

impl Answers {
    fn forget_oldest(&mut self) {
        while self.order.len() > ANSWERS_KEPT_MAX {
            if let Some(oldest) = self.order.pop_front() {
                self.by_id.remove(&oldest);
            }
        }
    }
}

/// The requests to pay of the simulated DFSPs.
#[derive(Default)]
pub(crate) struct Requests {
    /// As payee: requests sent and not finished, by `transactionRequestId`.
    sent: Mutex<HashMap<String, Pending>>,
    /// As payer: the answers given, by `{payer}:{transactionRequestId}`.
    answers: Mutex<Answers>,
}

impl Requests {
    /// Keeps `answer` as the answer to `key`, replacing any earlier.
    fn remember(&self, key: String, answer: Value) {
        if let Ok(mut answers) = self.answers.lock() {
            if answers.by_id.insert(key.clone(), answer).is_none() {
                answers.order.push_back(key);
            }
            answers.forget_oldest();
        }
    }

    /// Keeps `answer` as the answer to `key` unless there is one: then that one.
    fn remember_first(&self, key: String, answer: Value) -> Option<Value> {
        let Ok(mut answers) = self.answers.lock() else {
            return None;
        };
        if let Some(earlier) = answers.by_id.get(&key) {
            return Some(earlier.clone());
        }
        answers.by_id.insert(key.clone(), answer);
        answers.order.push_back(key);
        answers.forget_oldest();
        None
    }

    fn answer_of(&self, key: &str) -> Option<Value> {
        self.answers
            .lock()
            .ok()
            .and_then(|answers| answers.by_id.get(key).cloned())
    }

    /// Hands `event` to DFSP `payee`'s request `id`; gives it back when that request is not
    /// waiting.
    fn tell(&self, id: &str, payee: &str, event: Event) -> Result<(), Event> {
        let Ok(sent) = self.sent.lock() else {
            return Err(event);
        };
        match sent.get(id) {
            Some(pending) if pending.payee == payee => pending.events.send(event).map_err(|e| e.0),
            _ => Err(event),
        }
    }
}

/// Removes a payee's pending request when its driver ends, however it ends.
struct Forget<'a> {
    requests: &'a Requests,
    id: String,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if let Ok(mut sent) = self.requests.sent.lock() {
            sent.remove(&self.id);
        }
    }
}

fn rejected(phase: Phase, detail: String) -> PaymentError {
    PaymentError::Rejected { phase, detail }
}

/// The state of a `PUT /transactionRequests/{ID}` body: `Ok(transactionId)` unless REJECTED.
fn accepted_state(body: &Value) -> Result<String, PaymentError> {
    let state = at(body, "/transactionRequestState")
        .as_str()
        .unwrap_or_default();
    match state {
        "RECEIVED" | "PENDING" | "ACCEPTED" => Ok(at(body, "/transactionId")
            .as_str()
            .unwrap_or_default()
            .to_string()),
        "REJECTED" => Err(rejected(
            Phase::TransactionRequest,
            "the payer DFSP declined the request (transactionRequestState REJECTED)".into(),
        )),
        other => Err(PaymentError::InvalidCallback {
            phase: Phase::TransactionRequest,
            detail: format!("transactionRequestState {other:?}"),
        }),
    }
}

impl Inner {
    /// The payee side of a request to pay (see the module documentation).
    pub(crate) async fn request_to_pay(
        &self,
        payee: &str,
        payer_msisdn: &str,
        amount: &str,
        options: &RequestOptions,
    ) -> Result<PaymentReport, PaymentError> {
        let (dfsp, payee_msisdn) = self.customer(payee, options.payee_msisdn.as_deref())?;
        let currency = dfsp.spec.currency.clone();
        let mut report = PaymentReport {
            payee_fsp: payee.to_string(),
            transfer_amount: amount.to_string(),
            currency: currency.clone(),
            ..PaymentReport::default()
        };
        report.payer_fsp = match &options.payer_fsp {
            Some(fsp) => fsp.clone(),
            None => {
                self.look_up(payee, payer_msisdn, Wire::V1, &mut report)
                    .await?
                    .1
            }
        };
        let payer_fsp = report.payer_fsp.clone();
        let id = uuid::Uuid::new_v4().to_string();
        let expiration = fspiop::datetime::format_date_time(
            now_ms()
                + i64::try_from(self.config.callback_timeout_ms.saturating_mul(4))
                    .unwrap_or(240_000),
        );
        let mut body = json!({
            "transactionRequestId": id,
            "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": payee_msisdn, "fspId": payee}},
            "payer": {"partyIdType": "MSISDN", "partyIdentifier": payer_msisdn, "fspId": payer_fsp},
            "amount": {"amount": amount, "currency": currency},
            "transactionType": {"scenario": "PAYMENT", "initiator": "PAYEE", "initiatorType": "BUSINESS"},
            "note": "Request to pay from a simulated DFSP",
            "expiration": expiration,
        });
        if !options.without_otp {
            set(&mut body, "authenticationType", json!("OTP"));
        }
        let (events, mut received) = mpsc::unbounded_channel();
        if let Ok(mut sent) = self.requests.sent.lock() {
            sent.insert(
                id.clone(),
                Pending {
                    payee: payee.to_string(),
                    answered: false,
                    wrong_otp: options.wrong_otp,
                    events,
                },
            );
        }
        let _forget = Forget {
            requests: &self.requests,
            id: id.clone(),
        };
        report.transaction_request_id = id.clone();
        let started = Instant::now();
        let answer = self
            .request(
                Phase::TransactionRequest,
                format!("transactionRequests:{payee}:{id}"),
                "POST",
                &self.config.switch.transaction_requests,
                "/transactionRequests",
                payee,
                Some(&payer_fsp),
                Some(&body),
                Wire::V1,
            )
            .await;
        let state = answer.and_then(|body| {
            accepted_state(&body).map(|transaction_id| {
                let state = at(&body, "/transactionRequestState")
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (transaction_id, state)
            })
        });
        let (transaction_id, state) = self.record(Phase::TransactionRequest, started, state)?;
        report.transaction_request = started.elapsed();
        report.transaction_id = transaction_id;
        if !self.dfsps.contains_key(&payer_fsp) {
            // The payer is elsewhere: what it does next is not seen from here.
            report.transfer_state = state;
            return Ok(report);
        }
        let wait_ms = self
            .config
            .callback_timeout_ms
            .saturating_mul(3)
            .saturating_add(self.config.request_timeout_ms.saturating_mul(2));
        let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
        loop {
            let event = match tokio::time::timeout_at(deadline, received.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) | Err(_) => {
                    return Err(PaymentError::Timeout {
                        phase: Phase::TransactionRequest,
                        timeout_ms: wait_ms,
                    })
                }
            };
            match event {
                Event::Finished(finished) => {
                    let paid = (*finished)?;
                    report.quote_id = paid.quote_id;
                    report.quote = paid.quote;
                    report.authorization = paid.authorization;
                    report.transfer_id = paid.transfer_id;
                    report.transfer = paid.transfer;
                    report.transfer_state = paid.transfer_state;
                    report.transfer_amount = paid.transfer_amount;
                    report.currency = paid.currency;
                    return Ok(report);
                }
                Event::Answer(Callback::Ok(body)) => {
                    if let Err(error) = accepted_state(&body) {
                        // The payer stopped after the authorization.
                        return Err(match error {
                            PaymentError::Rejected { .. } => rejected(
                                Phase::Authorization,
                                "the payer DFSP refused the authorization (transactionRequestState REJECTED)".into(),
                            ),
                            other => other,
                        });
                    }
                }
                Event::Answer(Callback::Error { code, description }) => {
                    return Err(PaymentError::Fspiop {
                        phase: Phase::TransactionRequest,
                        code,
                        description,
                    })
                }
                Event::AuthorizationError { code, description } => {
                    return Err(PaymentError::Fspiop {
                        phase: Phase::Authorization,
                        code,
                        description,
                    })
                }
            }
        }
    }

    /// A payment as a request to pay: the local payee DFSP owning `payee_msisdn` (or
    /// `options.payee_fsp`) asks `payer`'s customer (`options.payer_msisdn`, else `payer`'s
    /// first MSISDN), looked up through the switch.
    pub(crate) async fn pay_by_request(
        &self,
        payer: &str,
        payee_msisdn: &str,
        amount: &str,
        options: &PayOptions,
    ) -> Result<PaymentReport, PaymentError> {
        let (_, payer_msisdn) = self.customer(payer, options.payer_msisdn.as_deref())?;
        let payee = match &options.payee_fsp {
            Some(fsp) => fsp.clone(),
            None => self
                .config
                .dfsps
                .iter()
                .find(|d| d.msisdns.iter().any(|m| m == payee_msisdn))
                .map(|d| d.name.clone())
                .ok_or_else(|| {
                    PaymentError::Simulator(format!(
                        "a request to pay needs its payee simulated here, and no simulated DFSP holds {payee_msisdn}"
                    ))
                })?,
        };
        let request = RequestOptions {
            payee_msisdn: Some(payee_msisdn.to_string()),
            ..RequestOptions::default()
        };
        self.request_to_pay(&payee, &payer_msisdn, amount, &request)
            .await
    }

    /// Why payer DFSP `payer` declines `request`, if it does.
    fn declines(&self, payer: &str, request: &Value) -> Option<String> {
        let dfsp = self.dfsps.get(payer)?;
        let (id_type, msisdn) = (
            at(request, "/payer/partyIdType")
                .as_str()
                .unwrap_or_default(),
            at(request, "/payer/partyIdentifier")
                .as_str()
                .unwrap_or_default(),
        );
        if id_type != "MSISDN" || !dfsp.msisdns.contains(msisdn) {
            return Some(format!("{payer} holds no customer {id_type} {msisdn}"));
        }
        let currency = at(request, "/amount/currency").as_str().unwrap_or_default();
        if currency != dfsp.spec.currency {
            return Some(format!("{payer} does not pay in {currency}"));
        }
        None
    }

    /// The payer's answer to a `POST /transactionRequests` from `requester`, and what follows.
    async fn answer_request(
        &self,
        payer: &str,
        requester: &str,
        request: Value,
        wire: Wire,
        started: Instant,
    ) {
        let id = at(&request, "/transactionRequestId")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let base = self.config.switch.transaction_requests.clone();
        let path = format!("/transactionRequests/{id}");
        let declined = self.declines(payer, &request);
        let transaction_id = uuid::Uuid::new_v4().to_string();
        let answer = match &declined {
            None => json!({"transactionId": transaction_id, "transactionRequestState": "RECEIVED"}),
            Some(_) => json!({"transactionRequestState": "REJECTED"}),
        };
        if let Some(earlier) = self
            .requests
            .remember_first(format!("{payer}:{id}"), answer.clone())
        {
            // A resend: the earlier answer again, nothing started twice.
            self.answer(
                Phase::AnswerTransactionRequest,
                started,
                &base,
                path,
                payer,
                requester,
                earlier,
                wire,
            )
            .await;
            return;
        }
        if let Some(why) = &declined {
            tracing::info!(%id, %payer, reason = %why, "request to pay declined");
        }
        let told = self
            .answer(
                Phase::AnswerTransactionRequest,
                started,
                &base,
                path.clone(),
                payer,
                requester,
                answer,
                wire,
            )
            .await;
        if declined.is_some() || !told {
            return;
        }
        let outcome = self
            .pay_requested(payer, requester, &request, &transaction_id)
            .await;
        if let Err(PaymentError::Rejected { .. }) = &outcome {
            // The authorization failed: the payee is told on the wire, as FSPIOP asks.
            let body =
                json!({"transactionId": transaction_id, "transactionRequestState": "REJECTED"});
            self.requests
                .remember(format!("{payer}:{id}"), body.clone());
            let sent = self
                .send(
                    "PUT",
                    &format!("{base}{path}"),
                    &path,
                    payer,
                    Some(requester),
                    Some(&body),
                    wire,
                )
                .await;
            if matches!(sent, Sent::Ok) {
                return;
            }
        }
        // Only a payee simulated here waits for the outcome.
        let _ = self
            .requests
            .tell(&id, requester, Event::Finished(Box::new(outcome)));
    }

    /// The payer's quote, authorization and transfer of the request `request`.
    async fn pay_requested(
        &self,
        payer: &str,
        requester: &str,
        request: &Value,
        transaction_id: &str,
    ) -> Result<PaymentReport, PaymentError> {
        let id = at(request, "/transactionRequestId")
            .as_str()
            .unwrap_or_default();
        let payee_fsp = at(request, "/payee/partyIdInfo/fspId")
            .as_str()
            .filter(|fsp| !fsp.is_empty())
            .unwrap_or(requester)
            .to_string();
        let mut report = PaymentReport {
            payee_fsp: payee_fsp.clone(),
            payer_fsp: payer.to_string(),
            transaction_request_id: id.to_string(),
            transaction_id: transaction_id.to_string(),
            ..PaymentReport::default()
        };
        let mut payer_id = at(request, "/payer").clone();
        set(&mut payer_id, "fspId", json!(payer));
        let mut quote_request = json!({
            "quoteId": uuid::Uuid::new_v4().to_string(),
            "transactionId": transaction_id,
            "transactionRequestId": id,
            "payer": {"partyIdInfo": payer_id},
            "payee": at(request, "/payee").clone(),
            "amountType": "RECEIVE",
            "amount": at(request, "/amount").clone(),
            "transactionType": at(request, "/transactionType").clone(),
        });
        if let Some(note) = at(request, "/note").as_str() {
            set(&mut quote_request, "note", json!(note));
        }
        let quote = self
            .quote(payer, &payee_fsp, &quote_request, Wire::V1, &mut report)
            .await?;
        let terms = Terms::of(&quote)?;
        report.transfer_amount = terms.amount.clone();
        report.currency = terms.currency.clone();
        if at(request, "/authenticationType").as_str() == Some("OTP") {
            self.authorize(payer, &payee_fsp, request, &mut report)
                .await?;
        }
        let transfer_id = uuid::Uuid::new_v4().to_string();
        self.transfer(
            payer,
            &payee_fsp,
            &transfer_id,
            &terms.transfer_amount,
            &terms,
            false,
            Wire::V1,
            &mut report,
        )
        .await?;
        Ok(report)
    }

    /// `GET /authorizations/{ID}` (OTP) to the payee until its `PUT`, timed in
    /// `report.authorization`; refused unless ENTERED with the request's OTP.
    async fn authorize(
        &self,
        payer: &str,
        payee_fsp: &str,
        request: &Value,
        report: &mut PaymentReport,
    ) -> Result<(), PaymentError> {
        let id = at(request, "/transactionRequestId")
            .as_str()
            .unwrap_or_default();
        let amount = at(request, "/amount/amount").as_str().unwrap_or_default();
        let currency = at(request, "/amount/currency").as_str().unwrap_or_default();
        let path = format!(
            "/authorizations/{id}?authenticationType=OTP&retriesLeft=1&amount={amount}&currency={currency}"
        );
        let started = Instant::now();
        let answer = self
            .request(
                Phase::Authorization,
                format!("authorizations:{payer}:{id}"),
                "GET",
                &self.config.switch.transaction_requests,
                &path,
                payer,
                Some(payee_fsp),
                None,
                Wire::V1,
            )
            .await;
        let checked = answer.and_then(|body| {
            let response = at(&body, "/responseType").as_str().unwrap_or_default();
            if response != "ENTERED" {
                return Err(rejected(
                    Phase::Authorization,
                    format!("the customer answered {response:?}"),
                ));
            }
            let kind = at(&body, "/authenticationInfo/authentication")
                .as_str()
                .unwrap_or_default();
            let value = at(&body, "/authenticationInfo/authenticationValue")
                .as_str()
                .unwrap_or_default();
            if kind != "OTP" || value != otp(id) {
                return Err(rejected(
                    Phase::Authorization,
                    format!("the {kind} entered is wrong"),
                ));
            }
            Ok(())
        });
        self.record(Phase::Authorization, started, checked)?;
        report.authorization = started.elapsed();
        Ok(())
    }

    /// The payee's answer to `GET /authorizations/{id}` from `requester`.
    async fn answer_authorization(
        &self,
        payee: &str,
        requester: &str,
        id: &str,
        query: &str,
        wire: Wire,
        started: Instant,
    ) {
        let asked = |name: &str| {
            query.split('&').find_map(|pair| {
                pair.split_once('=')
                    .filter(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
        };
        let wrong = self.requests.sent.lock().ok().and_then(|sent| {
            sent.get(id)
                .filter(|pending| pending.payee == payee)
                .map(|pending| pending.wrong_otp)
        });
        let base = self.config.switch.transaction_requests.clone();
        let (path, body) = match (wrong, asked("authenticationType").as_deref()) {
            (Some(wrong), Some("OTP")) => {
                let mut value = otp(id);
                if wrong {
                    // Another six digits.
                    value = format!("{:06}", (value.parse::<u32>().unwrap_or(0) + 1) % 1_000_000);
                }
                (
                    format!("/authorizations/{id}"),
                    json!({"authenticationInfo": {"authentication": "OTP", "authenticationValue": value}, "responseType": "ENTERED"}),
                )
            }
            (Some(_), other) => (
                format!("/authorizations/{id}/error"),
                error_body(
                    "3100",
                    &format!(
                        "Generic validation error - authenticationType {} is not supported",
                        other.unwrap_or("(none)")
                    ),
                ),
            ),
            (None, _) => (
                format!("/authorizations/{id}/error"),
                error_body(
                    "3200",
                    "Generic ID not found - no transaction request of this payee",
                ),
            ),
        };
        self.answer(
            Phase::AnswerAuthorization,
            started,
            &base,
            path,
            payee,
            requester,
            body,
            wire,
        )
        .await;
    }
}

/// `POST /{dfsp}/transactionRequests`: the payer's answer.
pub(crate) async fn transaction_requests_post(
    State(inner): Shared,
    Path(dfsp): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    if !inner.dfsps.contains_key(&dfsp) {
        return unknown_dfsp();
    }
    let requester = match requester_of(&headers) {
        Ok(source) => source,
        Err(refused) => return refused,
    };
    let request = match json_of(&body) {
        Ok(value) => value,
        Err(refused) => return refused,
    };
    let id = at(&request, "/transactionRequestId")
        .as_str()
        .unwrap_or_default();
    if id.is_empty() || id.contains('/') {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - transactionRequestId",
        );
    }
    let wire = Wire::of_content_type(&headers, "transactionRequests");
    let inner = inner.clone();
    tokio::spawn(async move {
        inner
            .answer_request(&dfsp, &requester, request, wire, started)
            .await;
    });
    StatusCode::ACCEPTED.into_response()
}

/// `/{dfsp}/transactionRequests/{ID}[/error]`: PUT as the payee (the payer's answer), GET as
/// the payer (its answer again).
pub(crate) async fn transaction_requests(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    let (id, is_error) = match rest.strip_suffix("/error") {
        Some(id) => (id.to_string(), true),
        None => (rest.clone(), false),
    };
    if method == Method::GET && !is_error && inner.dfsps.contains_key(&dfsp) {
        let requester = match requester_of(&headers) {
            Ok(source) => source,
            Err(refused) => return refused,
        };
        let (path, body) = match inner.requests.answer_of(&format!("{dfsp}:{id}")) {
            Some(answer) => (format!("/transactionRequests/{id}"), answer),
            None => (
                format!("/transactionRequests/{id}/error"),
                error_body("3200", "Generic ID not found - no such transaction request"),
            ),
        };
        let wire = Wire::of_accept(&headers, "transactionRequests");
        let inner = inner.clone();
        tokio::spawn(async move {
            let base = inner.config.switch.transaction_requests.clone();
            inner
                .answer(
                    Phase::AnswerTransactionRequest,
                    started,
                    &base,
                    path,
                    &dfsp,
                    &requester,
                    body,
                    wire,
                )
                .await;
        });
        return StatusCode::ACCEPTED.into_response();
    }
    if method == Method::PUT {
        // The payer's first answer goes to the request's waiter, anything later to the
        // request itself.
        let later = inner.requests.sent.lock().ok().is_some_and(|mut sent| {
            match sent.get_mut(&id).filter(|p| p.payee == dfsp) {
                Some(pending) if pending.answered => true,
                Some(pending) => {
                    pending.answered = true;
                    false
                }
                None => false,
            }
        });
        let callback = callback_from(is_error, &body);
        if later {
            if let Err(Event::Answer(callback)) =
                inner.requests.tell(&id, &dfsp, Event::Answer(callback))
            {
                inner.wake(&format!("transactionRequests:{dfsp}:{id}"), callback);
            }
            return StatusCode::OK.into_response();
        }
    }
    payer::callback(&inner, "transactionRequests", &dfsp, &rest, &method, &body)
}

/// `/{dfsp}/authorizations/{ID}[/error]`: GET as the payee (its customer's OTP), PUT as the
/// payer (the payee's answer), PUT `/error` to either.
pub(crate) async fn authorizations(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    if !inner.dfsps.contains_key(&dfsp) {
        return unknown_dfsp();
    }
    let (id, is_error) = match rest.strip_suffix("/error") {
        Some(id) => (id.to_string(), true),
        None => (rest.clone(), false),
    };
    if method == Method::GET && !is_error && !id.is_empty() && !id.contains('/') {
        let requester = match requester_of(&headers) {
            Ok(source) => source,
            Err(refused) => return refused,
        };
        let query = uri.query().unwrap_or_default().to_string();
        let wire = Wire::of_accept(&headers, "authorizations");
        let inner = inner.clone();
        tokio::spawn(async move {
            inner
                .answer_authorization(&dfsp, &requester, &id, &query, wire, started)
                .await;
        });
        return StatusCode::ACCEPTED.into_response();
    }
    if method == Method::PUT && is_error {
        // An error about the payee's answer ends the payee's request.
        let Callback::Error { code, description } = callback_from(true, &body) else {
            return StatusCode::OK.into_response();
        };
        let event = Event::AuthorizationError { code, description };
        if let Err(Event::AuthorizationError { code, description }) =
            inner.requests.tell(&id, &dfsp, event)
        {
            inner.wake(
                &format!("authorizations:{dfsp}:{id}"),
                Callback::Error { code, description },
            );
        }
        return StatusCode::OK.into_response();
    }
    payer::callback(&inner, "authorizations", &dfsp, &rest, &method, &body)
}
