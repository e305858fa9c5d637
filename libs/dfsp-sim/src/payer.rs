//! The payer side: a payment's lookup, quote and transfer (each request sent, its callback
//! awaited) — with a currency conversion, FX quote, quote, FX transfer and transfer — the
//! outcomes counted, and the callbacks that wake a waiting payment.

use super::*;

/// The conversion a payment goes through, as the FXP quoted it.
#[derive(Debug, Clone)]
pub(crate) struct Conversion {
    fxp: String,
    /// The quote's `conversionId`, committed as the fxTransfer's `commitRequestId`.
    commit_request_id: String,
    /// `{amount, currency}` the payer pays.
    source: Value,
    /// `{amount, currency}` the FXP delivers: the dependent transfer's amount.
    target: Value,
    condition: String,
}

impl Conversion {
    /// The FXP's `PUT /fxQuotes` answer, checked against what was asked.
    fn from_response(
        fxp: &str,
        response: &Value,
        source_currency: &str,
        source_amount: &str,
        target_currency: &str,
    ) -> Result<Conversion, PaymentError> {
        let invalid = |detail: String| PaymentError::InvalidCallback {
            phase: Phase::FxQuote,
            detail,
        };
        let text = |pointer: &str| at(response, pointer).as_str().unwrap_or_default();
        let condition = text("/condition");
        if !fspiop::ilp::is_canonical_32(condition) {
            return Err(invalid(format!(
                "condition {condition:?} is not 32 bytes of base64url"
            )));
        }
        let conversion_id = text("/conversionTerms/conversionId");
        if conversion_id.is_empty() {
            return Err(invalid("no conversionTerms.conversionId".into()));
        }
        let (source, source_in) = (
            text("/conversionTerms/sourceAmount/amount"),
            text("/conversionTerms/sourceAmount/currency"),
        );
        if source_in != source_currency || !fx::same_amount(source, source_amount, source_currency)
        {
            return Err(invalid(format!(
                "sourceAmount {source} {source_in} is not the {source_amount} {source_currency} asked"
            )));
        }
        let (target, target_in) = (
            text("/conversionTerms/targetAmount/amount"),
            text("/conversionTerms/targetAmount/currency"),
        );
        if target_in != target_currency || target.is_empty() {
            return Err(invalid(format!(
                "targetAmount {target:?} {target_in} is not an amount of {target_currency}"
            )));
        }
        Ok(Conversion {
            fxp: fxp.to_string(),
            commit_request_id: conversion_id.to_string(),
            source: json!({"amount": source, "currency": source_in}),
            target: json!({"amount": target, "currency": target_in}),
            condition: condition.to_string(),
        })
    }

    /// The target `(amount, currency)`.
    fn target_parts(&self) -> (&str, &str) {
        (
            at(&self.target, "/amount").as_str().unwrap_or_default(),
            at(&self.target, "/currency").as_str().unwrap_or_default(),
        )
    }
}

/// What a payee's quote answer commits the payer to.
#[derive(Debug, Clone)]
pub(crate) struct Terms {
    ilp_packet: String,
    condition: String,
    expiration: String,
    /// `{amount, currency}` as quoted.
    pub(crate) transfer_amount: Value,
    pub(crate) amount: String,
    pub(crate) currency: String,
}

impl Terms {
    /// The terms of a `PUT /quotes` body, each required.
    pub(crate) fn of(quote: &Value) -> Result<Terms, PaymentError> {
        let field = |pointer: &str| {
            at(quote, pointer)
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| PaymentError::InvalidCallback {
                    phase: Phase::Quote,
                    detail: format!("no {}", pointer.trim_start_matches('/').replace('/', ".")),
                })
        };
        Ok(Terms {
            ilp_packet: field("/ilpPacket")?,
            condition: field("/condition")?,
            expiration: field("/expiration")?,
            transfer_amount: at(quote, "/transferAmount").clone(),
            amount: field("/transferAmount/amount")?,
            currency: field("/transferAmount/currency")?,
        })
    }
}

impl PaymentReport {
    /// Records `conversion` in the report and hands it back.
    fn converting(&mut self, conversion: Conversion) -> Conversion {
        let part = |money: &Value, name: &str| {
            at(money, &format!("/{name}"))
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        self.commit_request_id = conversion.commit_request_id.clone();
        self.source_amount = part(&conversion.source, "amount");
        self.source_currency = part(&conversion.source, "currency");
        self.target_amount = part(&conversion.target, "amount");
        self.target_currency = part(&conversion.target, "currency");
        conversion
    }
}

impl Inner {
    /// Pays `amount` (in the payer's currency) from DFSP `payer` to the owner of MSISDN
    /// `payee_msisdn`: the phases of `options.scenario`, each waiting for its callback, with a
    /// currency conversion when the payee does not hold the payer's currency.
    pub(crate) async fn pay(
        &self,
        payer: &str,
        payee_msisdn: &str,
        amount: &str,
        options: &PayOptions,
    ) -> Result<PaymentReport, PaymentError> {
        // One payment, one trace.
        super::trace::within(
            Some(super::trace::new_trace()),
            self.pay_traced(payer, payee_msisdn, amount, options),
        )
        .await
    }

    async fn pay_traced(
        &self,
        payer: &str,
        payee_msisdn: &str,
        amount: &str,
        options: &PayOptions,
    ) -> Result<PaymentReport, PaymentError> {
        if options.scenario == Scenario::Bulk {
            return Err(PaymentError::Request {
                phase: Phase::BulkQuote,
                detail: "scenario bulk is not a single payment (the payer API's POST /{dfsp}/bulk)"
                    .into(),
            });
        }
        if options.scenario == Scenario::RequestToPay {
            return self
                .pay_by_request(payer, payee_msisdn, amount, options)
                .await;
        }
        let (dfsp, payer_msisdn) = self.customer(payer, options.payer_msisdn.as_deref())?;
        let payer_currency = dfsp.spec.currency.as_str();
        let mut report = PaymentReport {
            payee_fsp: options.payee_fsp.clone().unwrap_or_default(),
            transfer_amount: amount.to_string(),
            currency: payer_currency.to_string(),
            ..PaymentReport::default()
        };
        let mut payee_info = json!({"partyIdType": "MSISDN", "partyIdentifier": payee_msisdn, "fspId": report.payee_fsp});
        // The currencies the payee's lookup answer says it holds (FSPIOP 2.0).
        let mut answered_currencies: Option<Vec<String>> = None;
        if options.scenario.looks_up() || report.payee_fsp.is_empty() {
            // An FX-capable payer asks for a 2.0 answer, which lists the payee's currencies.
            let wire = if self.fx_capable() {
                Wire::V2OrV1
            } else {
                Wire::V1
            };
            let (party, payee_fsp) = self.look_up(payer, payee_msisdn, wire, &mut report).await?;
            payee_info = at(&party, "/party/partyIdInfo").clone();
            report.payee_fsp = payee_fsp;
            answered_currencies = at(&party, "/party/supportedCurrencies")
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect::<Vec<_>>()
                })
                .filter(|list| !list.is_empty());
        }
        if options.scenario == Scenario::Discovery {
            return Ok(report);
        }
        let payee_fsp = report.payee_fsp.clone();
        // The payee's currencies: its answer's, else those of the payee DFSP when simulated
        // here; unknown otherwise (then paid in the payer's currency).
        let answered = answered_currencies.is_some();
        let payee_currencies = answered_currencies.or_else(|| {
            self.dfsps
                .get(&payee_fsp)
                .map(|payee| vec![payee.spec.currency.clone()])
        });
        let target_currency = match &payee_currencies {
            Some(list) if !list.iter().any(|c| c == payer_currency) => {
                Some(self.target_currency(payer_currency, list))
            }
            _ => None,
        };
        if options.scenario == Scenario::Fx && target_currency.is_none() {
            let held = match &payee_currencies {
                Some(list) if answered => format!(
                    "holds {} (its lookup answer's supportedCurrencies)",
                    list.join(", ")
                ),
                Some(list) => format!("holds {} (it is simulated here)", list.join(", ")),
                None => "did not say which currencies it holds (a 1.x lookup answer, and it is not simulated here)".to_string(),
            };
            return Err(PaymentError::InvalidCallback {
                phase: Phase::Lookup,
                detail: format!(
                    "scenario fx needs a currency conversion, but payee DFSP {payee_fsp} {held}; the payer pays in {payer_currency}"
                ),
            });
        }
        let transfer_id = options.ids.new_id();

        let conversion = match target_currency {
            Some(target_currency) => Some(
                self.fx_quote(
                    payer,
                    payer_currency,
                    amount,
                    &target_currency,
                    &transfer_id,
                    options,
                    &mut report,
                )
                .await?,
            ),
            None => None,
        };
        let wire = if conversion.is_some() {
            Wire::V2
        } else {
            Wire::V1
        };

        let quote_id = options.ids.new_id();
        let payer_party = json!({"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": payer_msisdn, "fspId": payer}});
        let mut quote_request = json!({
            "quoteId": quote_id,
            "transactionId": options.ids.new_id(),
            "payer": payer_party,
            "payee": {"partyIdInfo": payee_info},
            "amountType": "SEND",
            "amount": {"amount": amount, "currency": payer_currency},
            "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"},
        });
        if let Some(conversion) = &conversion {
            // FSPIOP 2.0 payer conversion: the payee is quoted in its currency for what the
            // FXP delivers; the payer says it holds its own currency only.
            set(&mut quote_request, "amount", conversion.target.clone());
            if let Some(party) = quote_request.get_mut("payer") {
                set(party, "supportedCurrencies", json!([payer_currency]));
            }
            set(&mut quote_request, "converter", json!("PAYER"));
            set(
                &mut quote_request,
                "currencyConversion",
                json!({"sourceAmount": conversion.source, "targetAmount": conversion.target}),
            );
        }
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
            self.quote(payer, &payee_fsp, &quote_request, wire, &mut report)
                .await?
        };
        let terms = Terms::of(&quote)?;
        let (quoted, currency) = (terms.amount.clone(), terms.currency.clone());
        let mut transfer_amount = terms.transfer_amount.clone();
        if let Some(conversion) = &conversion {
            // The dependent transfer must move exactly what the FXP delivers.
            let (target, target_currency) = conversion.target_parts();
            if currency != target_currency || !fx::same_amount(&quoted, target, &currency) {
                return Err(PaymentError::InvalidCallback {
                    phase: Phase::Quote,
                    detail: format!(
                        "transferAmount {quoted} {currency} is not the conversion's target amount {target} {target_currency}"
                    ),
                });
            }
            transfer_amount = conversion.target.clone();
        }
        report.transfer_amount = at(&transfer_amount, "/amount")
            .as_str()
            .map_or(quoted, str::to_string);
        report.currency = currency;
        if options.scenario == Scenario::Quotes {
            return Ok(report);
        }

        if let Some(conversion) = &conversion {
            self.fx_transfer(payer, conversion, &transfer_id, &mut report)
                .await?;
        }

        self.transfer(
            payer,
            &payee_fsp,
            &transfer_id,
            &transfer_amount,
            &terms,
            options.wrong_fulfilment,
            wire,
            &mut report,
        )
        .await?;
        Ok(report)
    }

    /// `GET /parties/MSISDN/{msisdn}` as `source` until its callback, timed in
    /// `report.lookup`: the party found and its DFSP.
    pub(crate) async fn look_up(
        &self,
        source: &str,
        msisdn: &str,
        wire: Wire,
        report: &mut PaymentReport,
    ) -> Result<(Value, String), PaymentError> {
        let started = Instant::now();
        let party = self
            .request(
                Phase::Lookup,
                format!("parties:{source}:MSISDN/{msisdn}"),
                "GET",
                &self.config.switch.als,
                &format!("/parties/MSISDN/{msisdn}"),
                source,
                None,
                None,
                wire,
            )
            .await;
        let party = self.record(Phase::Lookup, started, party)?;
        report.lookup = started.elapsed();
        let fsp = at(&party, "/party/partyIdInfo/fspId")
            .as_str()
            .unwrap_or_default()
            .to_string();
        if fsp.is_empty() {
            return Err(PaymentError::InvalidCallback {
                phase: Phase::Lookup,
                detail: "no party.partyIdInfo.fspId".into(),
            });
        }
        Ok((party, fsp))
    }

    /// `POST /quotes` of `quote_request` from `payer` to `payee_fsp` until its callback, timed
    /// in `report.quote`: the payee's answer.
    pub(crate) async fn quote(
        &self,
        payer: &str,
        payee_fsp: &str,
        quote_request: &Value,
        wire: Wire,
        report: &mut PaymentReport,
    ) -> Result<Value, PaymentError> {
        let quote_id = at(quote_request, "/quoteId")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let started = Instant::now();
        let quote = self
            .request(
                Phase::Quote,
                format!("quotes:{payer}:{quote_id}"),
                "POST",
                &self.config.switch.quotes,
                "/quotes",
                payer,
                Some(payee_fsp),
                Some(quote_request),
                wire,
            )
            .await;
        let quote = self.record(Phase::Quote, started, quote)?;
        report.quote = started.elapsed();
        report.quote_id = quote_id;
        Ok(quote)
    }

    /// `POST /transfers` of `transfer_amount` on the quoted `terms` until `PUT /transfers`
    /// COMMITTED with the fulfilment of the condition, timed in `report.transfer`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn transfer(
        &self,
        payer: &str,
        payee_fsp: &str,
        transfer_id: &str,
        transfer_amount: &Value,
        terms: &Terms,
        wrong_fulfilment: bool,
        wire: Wire,
        report: &mut PaymentReport,
    ) -> Result<(), PaymentError> {
        let condition = &terms.condition;
        let started = Instant::now();
        let mut prepare = json!({
            "transferId": transfer_id,
            "payerFsp": payer,
            "payeeFsp": payee_fsp,
            "amount": transfer_amount,
            "ilpPacket": terms.ilp_packet,
            "condition": condition,
            "expiration": terms.expiration,
        });
        if let (true, Some(object)) = (wrong_fulfilment, prepare.as_object_mut()) {
            object.insert(
                "extensionList".into(),
                json!({"extension": [{"key": WRONG_FULFILMENT_KEY, "value": WRONG_FULFILMENT_VALUE}]}),
            );
        }
        report.transfer_id = transfer_id.to_string();
        let transfer = self
            .request(
                Phase::Transfer,
                format!("transfers:{payer}:{transfer_id}"),
                "POST",
                &self.config.switch.transfers,
                "/transfers",
                payer,
                Some(payee_fsp),
                Some(&prepare),
                wire,
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
            if !fspiop::ilp::fulfilment_matches(fulfilment, condition) {
                return Err(PaymentError::InvalidCallback {
                    phase: Phase::Transfer,
                    detail: "the fulfilment does not match the condition".into(),
                });
            }
            Ok(state)
        });
        report.transfer_state = self.record(Phase::Transfer, started, checked)?;
        report.transfer = started.elapsed();
        Ok(())
    }

    /// Simulated DFSP `name` and its customer: `given`, else the DFSP's first MSISDN.
    pub(crate) fn customer(
        &self,
        name: &str,
        given: Option<&str>,
    ) -> Result<(&Dfsp, String), PaymentError> {
        let dfsp = self
            .dfsps
            .get(name)
            .ok_or_else(|| PaymentError::UnknownPayer(name.to_string()))?;
        let msisdn = given
            .or_else(|| dfsp.spec.msisdns.first().map(String::as_str))
            .unwrap_or(PAYER_MSISDN_FALLBACK)
            .to_string();
        Ok((dfsp, msisdn))
    }

    /// Whether a payer here can pay with a currency conversion: some simulated DFSP is an FXP.
    pub(crate) fn fx_capable(&self) -> bool {
        self.config.dfsps.iter().any(|d| d.fxp.is_some())
    }

    /// The currency of `payee_currencies` to convert `payer_currency` to: the first a
    /// simulated FXP converts to, else the first.
    fn target_currency(&self, payer_currency: &str, payee_currencies: &[String]) -> String {
        payee_currencies
            .iter()
            .find(|target| self.fxp_for(payer_currency, target).is_some())
            .or_else(|| payee_currencies.first())
            .cloned()
            .unwrap_or_default()
    }

    /// The simulated FXP to ask for `source` → `target`: the first converting that pair, else
    /// the first FXP (which then answers the request with its error).
    fn fxp_for(&self, source: &str, target: &str) -> Option<&DfspSpec> {
        let fxps = || self.config.dfsps.iter().filter(|d| d.fxp.is_some());
        fxps()
            .find(|d| d.fxp.as_ref().is_some_and(|f| f.converts(source, target)))
            .or_else(|| fxps().next())
    }

    /// The FX quote of a payment: `POST /fxQuotes` to the FXP for `amount` of
    /// `payer_currency` in `target_currency` (SEND), or with [`Scenario::Transfers`] the terms
    /// the simulated FXP would give, made locally.
    #[allow(clippy::too_many_arguments)]
    async fn fx_quote(
        &self,
        payer: &str,
        payer_currency: &str,
        amount: &str,
        target_currency: &str,
        transfer_id: &str,
        options: &PayOptions,
        report: &mut PaymentReport,
    ) -> Result<Conversion, PaymentError> {
        let fxp = self
            .fxp_for(payer_currency, target_currency)
            .map(|spec| spec.name.clone())
            .ok_or_else(|| PaymentError::Request {
                phase: Phase::FxQuote,
                detail: format!(
                    "a conversion of {payer_currency} to {target_currency} is needed, and no simulated DFSP is an FXP"
                ),
            })?;
        let conversion_request_id = options.ids.new_id();
        let conversion_id = options.ids.new_id();
        let expiration = fspiop::datetime::format_date_time(
            now_ms()
                + i64::try_from(self.config.callback_timeout_ms)
                    .unwrap_or(60_000)
                    .max(60_000),
        );
        let request = json!({
            "conversionRequestId": conversion_request_id,
            "conversionTerms": {
                "conversionId": conversion_id,
                "determiningTransferId": transfer_id,
                "initiatingFsp": payer,
                "counterPartyFsp": fxp,
                "amountType": "SEND",
                "sourceAmount": {"amount": amount, "currency": payer_currency},
                "targetAmount": {"currency": target_currency},
                "expiration": expiration,
            },
        });
        report.fxp = fxp.clone();
        let response = if options.scenario == Scenario::Transfers {
            let simulated = self
                .dfsps
                .get(&fxp)
                .ok_or_else(|| PaymentError::InvalidCallback {
                    phase: Phase::FxQuote,
                    detail: format!("{fxp} is not simulated here"),
                })?;
            fx::quote_terms(simulated, &request).map_err(|(code, description)| {
                PaymentError::Fspiop {
                    phase: Phase::FxQuote,
                    code,
                    description,
                }
            })?
        } else {
            let started = Instant::now();
            let response = self
                .request(
                    Phase::FxQuote,
                    format!("fxQuotes:{payer}:{conversion_request_id}"),
                    "POST",
                    &self.config.switch.quotes,
                    "/fxQuotes",
                    payer,
                    Some(&fxp),
                    Some(&request),
                    Wire::V2,
                )
                .await;
            let checked = response.and_then(|response| {
                Conversion::from_response(&fxp, &response, payer_currency, amount, target_currency)
            });
            let conversion = self.record(Phase::FxQuote, started, checked)?;
            report.fx_quote = started.elapsed();
            report.conversion_request_id = conversion_request_id;
            return Ok(report.converting(conversion));
        };
        let conversion =
            Conversion::from_response(&fxp, &response, payer_currency, amount, target_currency)?;
        Ok(report.converting(conversion))
    }

    /// `POST /fxTransfers` for `conversion`, the dependent transfer `transfer_id`, until the
    /// FXP's `PUT /fxTransfers` RESERVED with the fulfilment of its condition.
    async fn fx_transfer(
        &self,
        payer: &str,
        conversion: &Conversion,
        transfer_id: &str,
        report: &mut PaymentReport,
    ) -> Result<(), PaymentError> {
        let expiration = fspiop::datetime::format_date_time(
            now_ms()
                + i64::try_from(self.config.callback_timeout_ms.saturating_mul(2))
                    .unwrap_or(120_000),
        );
        let body = json!({
            "commitRequestId": conversion.commit_request_id,
            "determiningTransferId": transfer_id,
            "initiatingFsp": payer,
            "counterPartyFsp": conversion.fxp,
            "sourceAmount": conversion.source,
            "targetAmount": conversion.target,
            "condition": conversion.condition,
            "expiration": expiration,
        });
        let started = Instant::now();
        let answer = self
            .request(
                Phase::FxTransfer,
                format!("fxTransfers:{payer}:{}", conversion.commit_request_id),
                "POST",
                &self.config.switch.transfers,
                "/fxTransfers",
                payer,
                Some(&conversion.fxp),
                Some(&body),
                Wire::V2,
            )
            .await;
        let checked = answer.and_then(|body| {
            let state = at(&body, "/conversionState").as_str().unwrap_or_default();
            if state != "RESERVED" {
                return Err(PaymentError::InvalidCallback {
                    phase: Phase::FxTransfer,
                    detail: format!("conversionState {state:?}"),
                });
            }
            let fulfilment = at(&body, "/fulfilment").as_str().unwrap_or_default();
            if !fspiop::ilp::fulfilment_matches(fulfilment, &conversion.condition) {
                return Err(PaymentError::InvalidCallback {
                    phase: Phase::FxTransfer,
                    detail: "the FXP's fulfilment does not match the conversion's condition".into(),
                });
            }
            Ok(())
        });
        self.record(Phase::FxTransfer, started, checked)?;
        report.fx_transfer = started.elapsed();
        Ok(())
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
        payee::quote_terms(&payee.ilp, quote_request, &self.quote_expiration())
            .map_err(|e| invalid(e.to_string()))
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
        wire: Wire,
    ) -> Result<Value, PaymentError> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.entry(key.clone()).or_default().push(tx);
        }
        let url = format!("{base}{path}");
        let mut sent = self
            .send(method, &url, path, source, destination, body, wire)
            .await;
        // A transfer refused with 2003 or lost in transport may still have been taken (the
        // switch could not confirm it, e.g. its broker went away mid-acknowledgement): as a
        // production DFSP does, the payer sends the same request again until the switch takes
        // it, and the ledger's duplicate check makes the outcome the first one's. Never for a
        // refusal that is certain (any other code).
        // The resends and the wait for the callback share the phase's timeout. A transfer's
        // payer is told by the transfer's expiration at the latest (the switch's timeout
        // handler answers it then), so it waits that long when it is later.
        let mut wait = Duration::from_millis(self.config.callback_timeout_ms);
        if phase == Phase::Transfer && method == "POST" {
            let expires_ms = body
                .and_then(|b| b.get("expiration"))
                .and_then(Value::as_str)
                .and_then(fspiop::datetime::parse_date_time);
            if let Some(expires_ms) = expires_ms {
                let until_ms = expires_ms.saturating_sub(now_ms()).max(0).unsigned_abs();
                wait = wait.max(Duration::from_millis(until_ms + EXPIRY_GRACE_MS));
            }
            let deadline = Instant::now() + wait;
            let mut pause = Duration::from_millis(250);
            while is_uncertain(&sent) && Instant::now() + pause < deadline {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
                self.counters.resent.fetch_add(1, Ordering::Relaxed);
                sent = self
                    .send(method, &url, path, source, destination, body, wire)
                    .await;
            }
            wait = deadline.saturating_duration_since(Instant::now());
        }
        if matches!(sent, Sent::Ok) {
            self.counters.awaited.fetch_add(1, Ordering::Relaxed);
        }
        let outcome = match sent {
            Sent::Ok => match tokio::time::timeout(wait, rx).await {
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

    /// Hands a callback to the oldest payer waiting for `key` (requests with the same key, such
    /// as two lookups of one MSISDN, are answered in order, one callback each).
    pub(crate) fn wake(&self, key: &str, callback: Callback) {
        // A transfer's RESERVED state is news on the way (the switch answers a resend of a
        // transfer it has reserved with its state): the payer waiting for it stays waiting,
        // for the end.
        let interim = key.starts_with("transfers:")
            && matches!(&callback, Callback::Ok(body)
                if body.get("transferState").and_then(Value::as_str) == Some("RESERVED"));
        if interim
            && self
                .waiters
                .lock()
                .is_ok_and(|waiters| waiters.get(key).is_some_and(|list| !list.is_empty()))
        {
            self.counters.interim.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(key, "interim RESERVED state; the payer waits on");
            return;
        }
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
        let answer_refused = matches!(callback, Some(Callback::Error { .. }))
            && self
                .answered
                .lock()
                .is_ok_and(|answered| answered.keys.contains(key));
        // Transfers only: their ids are unique, where one MSISDN is looked up again and again.
        let transfer = key.starts_with("transfers:");
        // A payer's callback it already had, or the outcome of a transfer this DFSP answered
        // as payee (a redelivered fulfil answered again).
        let repeated = transfer
            && callback.is_some()
            && (self
                .delivered
                .lock()
                .is_ok_and(|delivered| delivered.keys.contains(key))
                || self
                    .answered
                    .lock()
                    .is_ok_and(|answered| answered.keys.contains(key)));
        if transfer && callback.is_none() {
            if let Ok(mut delivered) = self.delivered.lock() {
                delivered.insert(key.to_string());
            }
        }
        if answer_refused {
            self.counters
                .answers_refused
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(key, "the switch could not take a payee's answer");
        } else if repeated {
            // At-least-once delivery: after a broker failure a redelivered message repeats a
            // callback the payer already had; a DFSP takes it as the same news.
            self.counters.repeated.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(key, "callback repeated");
        } else if callback.is_some() {
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

/// `PUT /{dfsp}/fxQuotes/{id}[/error]`: the payer's callback of an FX quote.
pub(crate) async fn fx_quotes_callback(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    body: bytes::Bytes,
) -> Response {
    callback(&inner, "fxQuotes", &dfsp, &rest, &method, &body)
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
        return unknown_dfsp();
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

/// How long after a transfer's expiration its payer still waits for the switch's answer (its
/// timeout handler looks every second).
const EXPIRY_GRACE_MS: u64 = 5_000;

/// Whether a request's fate is unknown to its sender: the switch could not keep it (2003) or
/// the exchange broke before an answer.
fn is_uncertain(sent: &Sent) -> bool {
    match sent {
        Sent::Ok => false,
        Sent::Fspiop { code, .. } => code == "2003",
        Sent::Failed(_) => true,
    }
}
