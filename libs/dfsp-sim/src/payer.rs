//! The payer side: a payment's lookup, quote and transfer (each request sent, its callback
//! awaited), the outcomes counted, and the callbacks that wake a waiting payment.

use super::*;

impl Inner {
    /// Pays `amount` (in the payer's currency) from DFSP `payer` to the owner of MSISDN
    /// `payee_msisdn`: the phases of `options.scenario`, each waiting for its callback.
    pub(crate) async fn pay(
        &self,
        payer: &str,
        payee_msisdn: &str,
        amount: &str,
        options: &PayOptions,
    ) -> Result<PaymentReport, PaymentError> {
        let dfsp = self
            .dfsps
            .get(payer)
            .ok_or_else(|| PaymentError::UnknownPayer(payer.to_string()))?;
        let payer_msisdn = options
            .payer_msisdn
            .as_deref()
            .or_else(|| dfsp.spec.msisdns.first().map(String::as_str))
            .unwrap_or(PAYER_MSISDN_FALLBACK);
        let mut report = PaymentReport {
            transfer_id: String::new(),
            quote_id: String::new(),
            payee_fsp: options.payee_fsp.clone().unwrap_or_default(),
            transfer_amount: amount.to_string(),
            currency: dfsp.spec.currency.clone(),
            transfer_state: String::new(),
            lookup: Duration::ZERO,
            quote: Duration::ZERO,
            transfer: Duration::ZERO,
        };
        let mut payee_info = json!({"partyIdType": "MSISDN", "partyIdentifier": payee_msisdn, "fspId": report.payee_fsp});
        if options.scenario.looks_up() || report.payee_fsp.is_empty() {
            let started = Instant::now();
            let party = self
                .request(
                    Phase::Lookup,
                    format!("parties:{payer}:MSISDN/{payee_msisdn}"),
                    "GET",
                    &self.config.switch.als,
                    &format!("/parties/MSISDN/{payee_msisdn}"),
                    payer,
                    None,
                    None,
                )
                .await;
            let party = self.record(Phase::Lookup, started, party)?;
            report.lookup = started.elapsed();
            payee_info = at(&party, "/party/partyIdInfo").clone();
            report.payee_fsp = at(&payee_info, "/fspId")
                .as_str()
                .unwrap_or_default()
                .to_string();
            if report.payee_fsp.is_empty() {
                return Err(PaymentError::InvalidCallback {
                    phase: Phase::Lookup,
                    detail: "no party.partyIdInfo.fspId".into(),
                });
            }
        }
        if options.scenario == Scenario::Discovery {
            return Ok(report);
        }
        let payee_fsp = report.payee_fsp.clone();

        let quote_id = uuid::Uuid::new_v4().to_string();
        let mut quote_request = json!({
            "quoteId": quote_id,
            "transactionId": uuid::Uuid::new_v4().to_string(),
            "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": payer_msisdn, "fspId": payer}},
            "payee": {"partyIdInfo": payee_info},
            "amountType": "SEND",
            "amount": {"amount": amount, "currency": dfsp.spec.currency},
            "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"},
        });
        if let Some(version) = options.ilp_version {
            set(
                &mut quote_request,
                "extensionList",
                json!({"extension": [{"key": ILP_VERSION_KEY, "value": version.name()}]}),
            );
        }
        let quote = if options.scenario == Scenario::Transfers {
            // No quote on the wire: the terms the payee would have quoted, made with the
            // payee's own secret (the payee must be simulated here).
            self.offline_terms(&payee_fsp, &quote_request)?
        } else {
            let started = Instant::now();
            let quote = self
                .request(
                    Phase::Quote,
                    format!("quotes:{payer}:{quote_id}"),
                    "POST",
                    &self.config.switch.quotes,
                    "/quotes",
                    payer,
                    Some(&payee_fsp),
                    Some(&quote_request),
                )
                .await;
            let quote = self.record(Phase::Quote, started, quote)?;
            report.quote = started.elapsed();
            report.quote_id = quote_id;
            quote
        };
        let field = |name: &str| {
            at(&quote, &format!("/{name}"))
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| PaymentError::InvalidCallback {
                    phase: Phase::Quote,
                    detail: format!("no {name}"),
                })
        };
        let (ilp_packet, condition, expiration) = (
            field("ilpPacket")?,
            field("condition")?,
            field("expiration")?,
        );
        let transfer_amount = at(&quote, "/transferAmount").clone();
        let (Some(quoted), Some(currency)) = (
            at(&transfer_amount, "/amount").as_str(),
            at(&transfer_amount, "/currency").as_str(),
        ) else {
            return Err(PaymentError::InvalidCallback {
                phase: Phase::Quote,
                detail: "no transferAmount".into(),
            });
        };
        report.transfer_amount = quoted.to_string();
        report.currency = currency.to_string();
        if options.scenario == Scenario::Quotes {
            return Ok(report);
        }

        let started = Instant::now();
        let transfer_id = uuid::Uuid::new_v4().to_string();
        let mut prepare = json!({
            "transferId": transfer_id,
            "payerFsp": payer,
            "payeeFsp": payee_fsp,
            "amount": transfer_amount,
            "ilpPacket": ilp_packet,
            "condition": condition,
            "expiration": expiration,
        });
        if let (true, Some(object)) = (options.wrong_fulfilment, prepare.as_object_mut()) {
            object.insert(
                "extensionList".into(),
                json!({"extension": [{"key": WRONG_FULFILMENT_KEY, "value": WRONG_FULFILMENT_VALUE}]}),
            );
        }
        report.transfer_id = transfer_id.clone();
        let transfer = self
            .request(
                Phase::Transfer,
                format!("transfers:{payer}:{transfer_id}"),
                "POST",
                &self.config.switch.transfers,
                "/transfers",
                payer,
                Some(&payee_fsp),
                Some(&prepare),
            )
            .await;
        let checked = transfer.and_then(|body| {
            let state = at(&body, "/transferState")
                .as_str()
                .unwrap_or_default()
                .to_string();
            if state != "COMMITTED" {
                return Err(PaymentError::InvalidCallback {
                    phase: Phase::Transfer,
                    detail: format!("transferState {state:?}"),
                });
            }
            let fulfilment = at(&body, "/fulfilment").as_str().unwrap_or_default();
            if !fspiop::ilp::fulfilment_matches(fulfilment, &condition) {
                return Err(PaymentError::InvalidCallback {
                    phase: Phase::Transfer,
                    detail: "the fulfilment does not match the condition".into(),
                });
            }
            Ok(state)
        });
        report.transfer_state = self.record(Phase::Transfer, started, checked)?;
        report.transfer = started.elapsed();
        Ok(report)
    }

    /// The quote `payee_fsp` would answer to `quote_request`, made locally.
    pub(crate) fn offline_terms(
        &self,
        payee_fsp: &str,
        quote_request: &Value,
    ) -> Result<Value, PaymentError> {
        let invalid = |detail: String| PaymentError::InvalidCallback {
            phase: Phase::Quote,
            detail,
        };
        let payee = self.dfsps.get(payee_fsp).ok_or_else(|| {
            invalid(format!(
                "{payee_fsp} is not simulated here; a transfers-only payment needs its secret"
            ))
        })?;
        let expiration = fspiop::datetime::format_date_time(
            now_ms()
                + i64::try_from(self.config.callback_timeout_ms)
                    .unwrap_or(60_000)
                    .max(60_000),
        );
        let mut response = json!({"transferAmount": at(quote_request, "/amount").clone(), "expiration": expiration});
        let terms = payee
            .ilp
            .quote_response_terms(quote_request, &response)
            .map_err(|e| invalid(e.to_string()))?;
        set(&mut response, "ilpPacket", json!(terms.ilp_packet));
        set(&mut response, "condition", json!(terms.condition));
        Ok(response)
    }

    pub(crate) fn record<T>(
        &self,
        phase: Phase,
        started: Instant,
        outcome: Result<T, PaymentError>,
    ) -> Result<T, PaymentError> {
        self.record_outcome(phase, started.elapsed(), outcome.is_ok());
        outcome
    }

    pub(crate) fn record_outcome(&self, phase: Phase, elapsed: Duration, ok: bool) {
        if let Ok(mut stats) = self.stats.lock() {
            let entry = stats.entry(phase).or_default();
            if ok {
                entry.count += 1;
                entry.total += elapsed;
                entry.max = entry.max.max(elapsed);
            } else {
                entry.failures += 1;
            }
        }
    }

    /// Registers a waiter for `key`, sends the request, waits for the callback.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn request(
        &self,
        phase: Phase,
        key: String,
        method: &'static str,
        base: &str,
        path: &str,
        source: &str,
        destination: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, PaymentError> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.entry(key.clone()).or_default().push(tx);
        }
        let sent = self
            .send(
                method,
                &format!("{base}{path}"),
                path,
                source,
                destination,
                body,
            )
            .await;
        if matches!(sent, Sent::Ok) {
            self.counters.awaited.fetch_add(1, Ordering::Relaxed);
        }
        let outcome = match sent {
            Sent::Ok => match tokio::time::timeout(
                Duration::from_millis(self.config.callback_timeout_ms),
                rx,
            )
            .await
            {
                Ok(Ok(Callback::Ok(body))) => Ok(body),
                Ok(Ok(Callback::Error { code, description })) => Err(PaymentError::Fspiop {
                    phase,
                    code,
                    description,
                }),
                Ok(Err(_)) | Err(_) => {
                    self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    Err(PaymentError::Timeout {
                        phase,
                        timeout_ms: self.config.callback_timeout_ms,
                    })
                }
            },
            Sent::Fspiop { code, description } => Err(PaymentError::Fspiop {
                phase,
                code,
                description,
            }),
            Sent::Failed(detail) => Err(PaymentError::Request { phase, detail }),
        };
        if let Ok(mut waiters) = self.waiters.lock() {
            if let Some(list) = waiters.get_mut(&key) {
                list.retain(|sender| !sender.is_closed());
                if list.is_empty() {
                    waiters.remove(&key);
                }
            }
        }
        outcome
    }

    /// Wakes every payer waiting for `key`.
    /// Hands a callback to the oldest payer waiting for `key` (requests with the same key, such
    /// as two lookups of one MSISDN, are answered in order, one callback each).
    pub(crate) fn wake(&self, key: &str, callback: Callback) {
        let mut callback = Some(callback);
        if let Ok(mut waiters) = self.waiters.lock() {
            if let Some(list) = waiters.get_mut(key) {
                while !list.is_empty() {
                    let sender = list.remove(0);
                    match sender.send(callback.take().unwrap_or(Callback::Ok(Value::Null))) {
                        Ok(()) => break,
                        // That payer gave up waiting; try the next.
                        Err(returned) => callback = Some(returned),
                    }
                }
                if list.is_empty() {
                    waiters.remove(key);
                }
            }
        }
        if callback.is_some() {
            self.counters.unmatched.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(key, "callback nobody waits for");
        } else {
            self.counters.matched.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `PUT /{dfsp}/quotes/{id}[/error]`: the payer's callback.
pub(crate) async fn quotes_callback(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    body: bytes::Bytes,
) -> Response {
    callback(&inner, "quotes", &dfsp, &rest, &method, &body)
}

/// `PUT|PATCH /{dfsp}/transfers/{id}[/error]`: the payer's callback (PATCH is only
/// acknowledged).
pub(crate) async fn transfers_callback(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    body: bytes::Bytes,
) -> Response {
    callback(&inner, "transfers", &dfsp, &rest, &method, &body)
}

pub(crate) fn callback(
    inner: &Inner,
    resource: &str,
    dfsp: &str,
    rest: &str,
    method: &Method,
    body: &[u8],
) -> Response {
    if !inner.dfsps.contains_key(dfsp) {
        return fspiop_error(
            StatusCode::NOT_FOUND,
            "3200",
            "Generic ID not found - unknown DFSP",
        );
    }
    let (id, is_error) = match rest.strip_suffix("/error") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    if id.is_empty() || id.contains('/') {
        return fspiop_error(StatusCode::NOT_FOUND, "3002", "Unknown URI");
    }
    if *method == Method::PATCH && !is_error {
        return StatusCode::OK.into_response();
    }
    if *method != Method::PUT {
        return fspiop_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "3000",
            "Generic client error - method not allowed",
        );
    }
    inner.wake(
        &format!("{resource}:{dfsp}:{id}"),
        callback_from(is_error, body),
    );
    StatusCode::OK.into_response()
}

pub(crate) fn callback_from(path_is_error: bool, body: &[u8]) -> Callback {
    let value: Value = serde_json::from_slice(body).unwrap_or_default();
    if path_is_error {
        let information = at(&value, "/errorInformation");
        Callback::Error {
            code: at(information, "/errorCode")
                .as_str()
                .unwrap_or_default()
                .to_string(),
            description: at(information, "/errorDescription")
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    } else {
        Callback::Ok(value)
    }
}
