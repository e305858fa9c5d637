#!/usr/bin/env node
// Onboards two DFSPs on a running `mojaloop up` through its admin APIs, then pays through the
// payer's sdk-scheme-adapter outbound API, then has the payee request a payment (request to pay:
// the SDKs' inbound sides and backends answer; what SDK 18.0.2's outbound API cannot send
// validly, the harness sends as those DFSPs), then pays in bulk (bulk quotes and bulk transfers
// from the payer's SDK; what SDK 18.0.2 cannot do as the payee, the harness does in its place)
// and checks the outcomes (see interop/README.md).
//
//   node harness.js <phase-name>      configuration from the environment (run.sh sets it)
//
// Prints one line per check, `PASS <phase>: <what>` or `FAIL <phase>: <what>: <why>`, and
// exits 0 when it got as far as the end (the checks' verdicts are in those lines), 2 when it
// could not run at all.

'use strict';

const http = require('http');
const net = require('net');
const crypto = require('crypto');
const fs = require('fs');

// ---------------------------------------------------------------------------------------------
// Configuration

function need(name) {
    const value = process.env[name];
    if (value === undefined || value === '') throw new Error(`${name} is not set`);
    return value;
}

const phase = process.argv[2] || 'sdk';
const cfg = {
    ledger: need('H_LEDGER_URL'), // central ledger admin API
    oracle: need('H_ORACLE_URL'), // MSISDN oracle (registration API)
    payer: need('H_PAYER'),
    payee: need('H_PAYEE'),
    payerOutbound: need('H_PAYER_OUTBOUND_URL'),
    payerInbound: need('H_PAYER_INBOUND_URL'),
    payeeInbound: need('H_PAYEE_INBOUND_URL'),
    payeeBackend: need('H_PAYEE_BACKEND_URL'),
    // Request to pay: the payee's outbound API, the payer's backend, the payee SDK's Redis server
    // (host:port), the payer's customer (an MSISDN registered to the payer), the amount asked
    // and the amount the payer's backend rejects.
    r2p: process.env.H_R2P !== '0',
    payeeOutbound: process.env.H_PAYEE_OUTBOUND_URL || '',
    payerBackend: process.env.H_PAYER_BACKEND_URL || '',
    payeeRedis: process.env.H_PAYEE_REDIS || '',
    payerMsisdn: process.env.H_PAYER_MSISDN || '',
    r2pAmount: process.env.H_R2P_AMOUNT || '12.34',
    r2pRejectedAmount: process.env.H_R2P_REJECTED_AMOUNT || '6.66',
    transactionRequestsUrl: process.env.H_TRANSACTION_REQUESTS_URL || '', // the switch's transaction requests service
    // The payee's private key (PEM), to sign what the harness sends as the payee (JWS phase).
    payeeSigningKey: process.env.H_PAYEE_SIGNING_KEY ? require('fs').readFileSync(process.env.H_PAYEE_SIGNING_KEY, 'utf8') : '',
    payerSigningKey: process.env.H_PAYER_SIGNING_KEY ? require('fs').readFileSync(process.env.H_PAYER_SIGNING_KEY, 'utf8') : '',
    payerRedis: process.env.H_PAYER_REDIS || '',
    transfersUrl: process.env.H_TRANSFERS_URL || '', // the switch's ML API adapter (FSPIOP transfers)
    currency: process.env.H_CURRENCY || 'USD',
    payerFunds: Number(process.env.H_PAYER_FUNDS || '100000'),
    netDebitCap: Number(process.env.H_NET_DEBIT_CAP || '1000000'),
    msisdnBase: Number(need('H_MSISDN_BASE')), // the payee's MSISDNs: base .. base+count-1
    msisdnCount: Number(process.env.H_MSISDN_COUNT || '40'),
    unregisteredMsisdn: need('H_UNREGISTERED_MSISDN'), // in no oracle: the switch answers 3204
    backendUnknownMsisdn: need('H_BACKEND_UNKNOWN_MSISDN'), // registered, unknown to the backend
    refusedAmount: need('H_REFUSED_AMOUNT'), // the payee's backend refuses a quote for it
    sequential: Number(process.env.H_SEQUENTIAL || '20'),
    concurrentCount: Number(process.env.H_CONCURRENT || '400'),
    concurrency: Number(process.env.H_CONCURRENCY || '8'),
    concurrentMsisdns: Number(process.env.H_CONCURRENT_MSISDNS || '32'),
    expectSigned: process.env.H_EXPECT_SIGNED === '1',
    quotesUrl: process.env.H_QUOTES_URL || '', // the switch's FSPIOP quotes API (JWS phase)
    // The SDKs give up after REQUEST_PROCESSING_TIMEOUT_SECONDS (run.sh: 20); later means stuck.
    requestTimeoutMs: Number(process.env.H_REQUEST_TIMEOUT_MS || '30000'),
    // Bulk payments: the SDK's node_modules (the harness answers a bulk quote as the payee's SDK
    // would, with the SDK's own code), the payee SDK's ILP secret, how many payees in the main
    // bulk, the amount the payee's backend refuses in a bulk transfer.
    bulk: process.env.H_BULK !== '0',
    sdkModules: process.env.H_SDK_MODULES || '',
    // The SDKs' logs: what SDK 18.0.2 cannot read of a bulk quote is seen arriving there only.
    payerSdkLog: process.env.H_PAYER_SDK_LOG || '',
    payeeSdkLog: process.env.H_PAYEE_SDK_LOG || '',
    payeeIlpSecret: process.env.H_PAYEE_ILP_SECRET || '',
    bulkCount: Number(process.env.H_BULK_COUNT || '10'),
    refusedBulkTransferAmount: process.env.H_REFUSED_BULK_TRANSFER_AMOUNT || '8.88',
    // The payee's SDK puts its EXPIRY_SECONDS (default 60) on a bulk quote's answer.
    expirySeconds: Number(process.env.H_EXPIRY_SECONDS || '60'),
};

// ---------------------------------------------------------------------------------------------
// Output

let passed = 0;
let failed = 0;
function pass(what) {
    passed += 1;
    console.log(`PASS ${phase}: ${what}`);
}
function fail(what, why) {
    failed += 1;
    console.log(`FAIL ${phase}: ${what}: ${String(why).replace(/\s+/g, ' ')}`);
}
function check(ok, what, why) {
    if (ok) pass(what); else fail(what, why);
    return ok;
}
function info(text) {
    console.log(`     ${phase}: ${text}`);
}

// ---------------------------------------------------------------------------------------------
// HTTP

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(method, url, body, timeoutMs = cfg.requestTimeoutMs) {
    return new Promise((resolve, reject) => {
        const text = body === undefined ? undefined : JSON.stringify(body);
        const u = new URL(url);
        const req = http.request({
            method,
            hostname: u.hostname,
            port: u.port,
            path: u.pathname + u.search,
            agent,
            headers: {
                accept: 'application/json',
                ...(text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }),
            },
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const raw = Buffer.concat(chunks).toString('utf8');
                let json;
                try { json = raw ? JSON.parse(raw) : undefined; } catch (e) { json = undefined; }
                resolve({ status: res.statusCode, json, raw });
            });
            res.on('error', reject);
        });
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
        req.on('error', reject);
        if (text !== undefined) req.write(text);
        req.end();
    });
}

function short(value, max = 400) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return text && text.length > max ? `${text.slice(0, max)}…` : text;
}

// An admin call that must succeed (2xx); `tolerated` FSPIOP codes mean "already there".
async function admin(method, url, body, tolerated = []) {
    const res = await request(method, url, body, 30000);
    if (res.status >= 200 && res.status < 300) return res.json;
    const code = res.json && res.json.errorInformation && res.json.errorInformation.errorCode;
    if (tolerated.includes(code)) return res.json;
    throw new Error(`${method} ${url} ${short(body)} -> HTTP ${res.status} ${short(res.raw)}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Onboarding, as a hub operator does it

function callbackEndpoints(base) {
    const parties = `${base}/parties/{{partyIdType}}/{{partyIdentifier}}`;
    const partiesSub = `${parties}/{{partySubIdOrType}}`;
    const participants = `${base}/participants/{{partyIdType}}/{{partyIdentifier}}`;
    const participantsSub = `${participants}/{{partySubIdOrType}}`;
    return [
        ['FSPIOP_CALLBACK_URL_PARTICIPANT_PUT', participants],
        ['FSPIOP_CALLBACK_URL_PARTICIPANT_PUT_ERROR', `${participants}/error`],
        ['FSPIOP_CALLBACK_URL_PARTICIPANT_SUB_ID_PUT', participantsSub],
        ['FSPIOP_CALLBACK_URL_PARTICIPANT_SUB_ID_PUT_ERROR', `${participantsSub}/error`],
        ['FSPIOP_CALLBACK_URL_PARTICIPANT_SUB_ID_DELETE', participantsSub],
        ['FSPIOP_CALLBACK_URL_PARTICIPANT_BATCH_PUT', `${base}/participants/{{requestId}}`],
        ['FSPIOP_CALLBACK_URL_PARTICIPANT_BATCH_PUT_ERROR', `${base}/participants/{{requestId}}/error`],
        ['FSPIOP_CALLBACK_URL_PARTIES_GET', parties],
        ['FSPIOP_CALLBACK_URL_PARTIES_PUT', parties],
        ['FSPIOP_CALLBACK_URL_PARTIES_PUT_ERROR', `${parties}/error`],
        ['FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_GET', partiesSub],
        ['FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_PUT', partiesSub],
        ['FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_PUT_ERROR', `${partiesSub}/error`],
        ['FSPIOP_CALLBACK_URL_QUOTES', base],
        ['FSPIOP_CALLBACK_URL_TRX_REQ_SERVICE', base],
        ['FSPIOP_CALLBACK_URL_AUTHORIZATIONS', base],
        ['FSPIOP_CALLBACK_URL_TRANSFER_POST', `${base}/transfers`],
        ['FSPIOP_CALLBACK_URL_TRANSFER_PUT', `${base}/transfers/{{transferId}}`],
        ['FSPIOP_CALLBACK_URL_TRANSFER_ERROR', `${base}/transfers/{{transferId}}/error`],
        ['FSPIOP_CALLBACK_URL_BULK_QUOTES', base],
        ['FSPIOP_CALLBACK_URL_BULK_TRANSFER_POST', `${base}/bulkTransfers`],
        ['FSPIOP_CALLBACK_URL_BULK_TRANSFER_PUT', `${base}/bulkTransfers/{{id}}`],
        ['FSPIOP_CALLBACK_URL_BULK_TRANSFER_ERROR', `${base}/bulkTransfers/{{id}}/error`],
    ];
}

async function accounts(name) {
    const list = await admin('GET', `${cfg.ledger}/participants/${name}/accounts`);
    if (!Array.isArray(list)) throw new Error(`GET /participants/${name}/accounts: not a list: ${short(list)}`);
    return list.filter((a) => a.currency === cfg.currency);
}

const money = (v) => Number(typeof v === 'string' ? v.replace(/"/g, '') : v);

async function onboard() {
    const L = cfg.ledger;
    for (const type of ['HUB_MULTILATERAL_SETTLEMENT', 'HUB_RECONCILIATION']) {
        await admin('POST', `${L}/participants/Hub/accounts`, { currency: cfg.currency, type }, ['3003', '3000']);
    }
    await admin('POST', `${L}/settlementModels`, {
        name: 'DEFERREDNET', settlementGranularity: 'NET', settlementInterchange: 'MULTILATERAL',
        settlementDelay: 'DEFERRED', requireLiquidityCheck: true, ledgerAccountType: 'POSITION',
        autoPositionReset: true, settlementAccountType: 'SETTLEMENT',
    }, ['3000', '3003']);
    const dfsps = [
        { name: cfg.payer, inbound: cfg.payerInbound, funds: cfg.payerFunds },
        { name: cfg.payee, inbound: cfg.payeeInbound, funds: 0 },
    ];
    for (const d of dfsps) {
        await admin('POST', `${L}/participants`, { name: d.name, currency: cfg.currency });
        await admin('POST', `${L}/participants/${d.name}/initialPositionAndLimits`, {
            currency: cfg.currency, limit: { type: 'NET_DEBIT_CAP', value: cfg.netDebitCap }, initialPosition: 0,
        });
        for (const [type, value] of callbackEndpoints(d.inbound)) {
            await admin('POST', `${L}/participants/${d.name}/endpoints`, { type, value });
        }
        if (d.funds > 0) {
            const settlement = (await accounts(d.name)).find((a) => a.ledgerAccountType === 'SETTLEMENT');
            if (!settlement) throw new Error(`${d.name} has no SETTLEMENT account in ${cfg.currency}`);
            await admin('POST', `${L}/participants/${d.name}/accounts/${settlement.id}`, {
                transferId: crypto.randomUUID(), externalReference: 'sdk-interop onboarding', action: 'recordFundsIn',
                reason: 'initial funds', amount: { amount: String(d.funds), currency: cfg.currency },
            });
            const deadline = Date.now() + 30000;
            for (;;) {
                const s = (await accounts(d.name)).find((a) => a.ledgerAccountType === 'SETTLEMENT');
                if (s && money(s.value) === -d.funds) break;
                if (Date.now() > deadline) throw new Error(`funds in for ${d.name} not applied within 30 s (${short(s)})`);
                await sleep(100);
            }
        }
    }
    // The payee's MSISDNs (and the one its backend does not know) in the oracle.
    const msisdns = payeeMsisdns().concat([cfg.backendUnknownMsisdn]);
    for (let i = 0; i < msisdns.length; i += 100) {
        await admin('POST', `${cfg.oracle}/participants`, {
            requestId: crypto.randomUUID(),
            partyList: msisdns.slice(i, i + 100).map((id) => ({
                partyIdType: 'MSISDN', partyIdentifier: id, fspId: cfg.payee, currency: cfg.currency,
            })),
        });
    }
    // The payer's customer, whom the payee asks to pay (request to pay).
    if (cfg.r2p) {
        await admin('POST', `${cfg.oracle}/participants`, {
            requestId: crypto.randomUUID(),
            partyList: [{ partyIdType: 'MSISDN', partyIdentifier: cfg.payerMsisdn, fspId: cfg.payer, currency: cfg.currency }],
        });
    }
    // The payer's inbound API must be registered where the switch reads it.
    const endpoints = await admin('GET', `${L}/participants/${cfg.payer}/endpoints`);
    if (!Array.isArray(endpoints) || endpoints.length < callbackEndpoints('x').length) {
        throw new Error(`${cfg.payer}'s endpoints were not all recorded: ${short(endpoints)}`);
    }
    return msisdns.length + (cfg.r2p ? 1 : 0);
}

function payeeMsisdns() {
    return Array.from({ length: cfg.msisdnCount }, (_, i) => String(cfg.msisdnBase + i));
}

// ---------------------------------------------------------------------------------------------
// Payments through the payer's SDK

const cents = (amount) => Math.round(Number(amount) * 100);
let committedCents = 0;
let committedCount = 0;

async function pay(msisdn, amount) {
    const body = {
        homeTransactionId: crypto.randomUUID(),
        from: { idType: 'MSISDN', idValue: '19990000001', displayName: 'SDK Payer', firstName: 'Sdk', lastName: 'Payer' },
        to: { idType: 'MSISDN', idValue: msisdn },
        amountType: 'SEND',
        currency: cfg.currency,
        amount,
        transactionType: 'TRANSFER',
        note: 'sdk interop',
    };
    const started = Date.now();
    let res;
    try {
        res = await request('POST', `${cfg.payerOutbound}/transfers`, body);
    } catch (e) {
        return { ok: false, ms: Date.now() - started, why: e.message };
    }
    const ms = Date.now() - started;
    const j = res.json || {};
    const transferState = j.fulfil && j.fulfil.body && j.fulfil.body.transferState;
    if (res.status === 200 && j.currentState === 'COMPLETED' && transferState === 'COMMITTED') {
        committedCents += cents(amount);
        committedCount += 1;
        return { ok: true, ms, transferId: j.transferId };
    }
    return { ok: false, ms, status: res.status, statusCode: j.statusCode, why: errorSummary(res) };
}

function errorSummary(res) {
    const j = res.json || {};
    const state = j.transferState || {};
    const info = state.lastError && state.lastError.mojaloopError && state.lastError.mojaloopError.errorInformation;
    const parts = [`HTTP ${res.status}`];
    if (j.statusCode) parts.push(`statusCode ${j.statusCode}`);
    if (j.currentState) parts.push(`currentState ${j.currentState}`);
    if (state.currentState) parts.push(`state ${state.currentState}`);
    if (info) parts.push(`error ${info.errorCode} "${info.errorDescription}"`);
    if (j.message) parts.push(`message "${short(j.message, 200)}"`);
    if (!j.statusCode && !j.message) parts.push(short(res.raw, 300));
    return parts.join(', ');
}

function lastErrorOf(res) {
    const state = (res.json && res.json.transferState) || {};
    return (state.lastError && state.lastError.mojaloopError && state.lastError.mojaloopError.errorInformation) || {};
}

// 1 .. 49.99 as the SDK's outbound API writes amounts (no trailing zeros), never the refused one.
function amountFor(i) {
    const hundredths = ((i % 49) + 1) * 100 + ((i * 37) % 100);
    let a = String(hundredths / 100);
    if (Number(a) === Number(cfg.refusedAmount)) a = '1.01';
    return a;
}

// "N failed; first: …; by cause: 3× statusCode 3100 … | …" for a run's results.
function failureSummary(results) {
    const failures = results.filter((r) => !r.ok);
    if (failures.length === 0) return 'not all sent';
    const causes = new Map();
    for (const r of failures) {
        const cause = (r.why || '').replace(/message ".*$/s, '').replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>')
            .replace(/\d+(\.\d+)?/g, 'N').slice(0, 160);
        causes.set(cause, (causes.get(cause) || 0) + 1);
    }
    const byCause = [...causes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4)
        .map(([cause, n]) => `${n}× ${cause}`).join(' | ');
    return `${failures.length} failed; first: ${failures[0].why}; by cause: ${byCause}`;
}

async function sequential() {
    const msisdns = payeeMsisdns();
    const results = [];
    let consecutiveFailures = 0;
    for (let i = 0; i < cfg.sequential; i += 1) {
        const r = await pay(msisdns[i % msisdns.length], amountFor(i));
        results.push(r);
        consecutiveFailures = r.ok ? 0 : consecutiveFailures + 1;
        if (consecutiveFailures >= 3) {
            info(`sequential: 3 failures in a row, not sending the remaining ${cfg.sequential - i - 1}`);
            break;
        }
    }
    const ok = results.filter((r) => r.ok).length;
    const times = results.map((r) => r.ms).sort((a, b) => a - b);
    check(ok === cfg.sequential, `${cfg.sequential} sequential payments COMMITTED (${ok}/${cfg.sequential}, median ${times[Math.floor(times.length / 2)] || 0} ms)`,
        failureSummary(results));
    return ok;
}

async function concurrent() {
    // Each payment in flight holds its own MSISDN: the SDK misses callbacks when two payments in
    // flight look up the same one (see interop/README.md), so a worker takes a free MSISDN and
    // gives it back when its payment has ended.
    const free = payeeMsisdns().slice(0, cfg.concurrentMsisdns);
    const used = new Set();
    const results = [];
    let next = 0;
    let failures = 0;
    const started = Date.now();
    const worker = async () => {
        for (;;) {
            const i = next;
            if (i >= cfg.concurrentCount || failures >= 16) return;
            next += 1;
            const msisdn = free.shift();
            if (msisdn === undefined) throw new Error('more workers than MSISDNs');
            used.add(msisdn);
            const r = await pay(msisdn, amountFor(i + 1000));
            free.push(msisdn);
            results.push(r);
            if (!r.ok) failures += 1;
        }
    };
    await Promise.all(Array.from({ length: cfg.concurrency }, () => worker()));
    const seconds = (Date.now() - started) / 1000;
    const ok = results.filter((r) => r.ok).length;
    if (failures >= 16) info(`concurrent: stopped after 16 failures, ${cfg.concurrentCount - results.length} not sent`);
    const times = results.map((r) => r.ms).sort((a, b) => a - b);
    const p = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))] || 0;
    check(ok === cfg.concurrentCount,
        `${cfg.concurrentCount} payments at concurrency ${cfg.concurrency} over ${used.size} MSISDNs COMMITTED (${ok}/${cfg.concurrentCount} in ${seconds.toFixed(1)} s, ${(results.length / seconds).toFixed(1)}/s, p50 ${p(0.5)} ms, p99 ${p(0.99)} ms)`,
        failureSummary(results));
}

// An outbound transfer that must fail in the SDK with `code` (not a timeout), within `maxMs`.
async function expectError(what, msisdn, amount, code, describe, maxMs = 10000) {
    const started = Date.now();
    let res;
    try {
        res = await request('POST', `${cfg.payerOutbound}/transfers`, {
            homeTransactionId: crypto.randomUUID(),
            from: { idType: 'MSISDN', idValue: '19990000001', displayName: 'SDK Payer' },
            to: { idType: 'MSISDN', idValue: msisdn },
            amountType: 'SEND', currency: cfg.currency, amount, transactionType: 'TRANSFER',
        });
    } catch (e) {
        return fail(what, e.message);
    }
    const ms = Date.now() - started;
    const j = res.json || {};
    const err = lastErrorOf(res);
    const got = `${errorSummary(res)} after ${ms} ms`;
    if (res.status === 200) return fail(what, `the payment went through: ${short(res.raw, 300)}`);
    if (j.statusCode !== code || err.errorCode !== code) {
        const hint = j.statusCode === '504' && cfg.expectSigned
            ? ' (a timeout: did the SDK refuse the switch\'s callback? see the switch\'s "callback not delivered" lines)' : '';
        return fail(what, `expected ${code}, got ${got}${hint}`);
    }
    if (describe && !describe(err)) return fail(what, `error ${code} but not the expected one: ${got}`);
    if (ms > maxMs) return fail(what, `${code}, but only after ${ms} ms (a timeout, not an answer)`);
    return pass(`${what} (${code} "${short(err.errorDescription, 80)}" in ${ms} ms)`);
}

async function errorPaths() {
    await expectError(`unknown party: the switch answers 3204`, cfg.unregisteredMsisdn, '5', '3204');
    await expectError(`a party the payee's backend does not know: 3204 from ${cfg.payee}`, cfg.backendUnknownMsisdn, '5', '3204',
        (e) => typeof e.errorDescription === 'string' && e.errorDescription.includes(cfg.payee));
    await expectError(`a quote the payee refuses: 5101 from ${cfg.payee}`, payeeMsisdns()[0], cfg.refusedAmount, '5101',
        (e) => typeof e.errorDescription === 'string' && e.errorDescription.includes('refuses'));
    const above = String(cfg.payerFunds * 2);
    await expectError(`payment above the payer's liquidity: the hub's 4001${cfg.expectSigned ? ', signed by the hub and accepted by the SDK' : ''}`,
        payeeMsisdns()[1], above, '4001');
}

// ---------------------------------------------------------------------------------------------
// The switch validates signatures: a POST /quotes "from the payer" signed RS256 exactly as the
// SDK signs, but with a key that is not the payer's, is refused synchronously with 3105.

function b64url(buffer) {
    return Buffer.from(buffer).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

async function forgedSignatureRefused() {
    const what = `the switch refuses a POST /quotes from ${cfg.payer} signed with a key that is not ${cfg.payer}'s (3105)`;
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const date = new Date().toUTCString();
    const quoteId = crypto.randomUUID();
    const body = JSON.stringify({
        quoteId, transactionId: crypto.randomUUID(),
        payee: { partyIdInfo: { partyIdType: 'MSISDN', partyIdentifier: payeeMsisdns()[0], fspId: cfg.payee } },
        payer: { partyIdInfo: { partyIdType: 'MSISDN', partyIdentifier: '19990000001', fspId: cfg.payer } },
        amountType: 'SEND', amount: { amount: '1', currency: cfg.currency },
        transactionType: { scenario: 'TRANSFER', initiator: 'PAYER', initiatorType: 'CONSUMER' },
    });
    const protectedHeader = b64url(JSON.stringify({
        alg: 'RS256', 'FSPIOP-URI': '/quotes', 'FSPIOP-HTTP-Method': 'POST',
        'FSPIOP-Source': cfg.payer, 'FSPIOP-Destination': cfg.payee, Date: date,
    }));
    const signature = b64url(crypto.sign('sha256', Buffer.from(`${protectedHeader}.${b64url(body)}`), privateKey));
    const u = new URL(`${cfg.quotesUrl}/quotes`);
    const res = await new Promise((resolve, reject) => {
        const req = http.request({
            method: 'POST', hostname: u.hostname, port: u.port, path: u.pathname, agent,
            headers: {
                'content-type': 'application/vnd.interoperability.quotes+json;version=1.1',
                accept: 'application/vnd.interoperability.quotes+json;version=1',
                date, 'fspiop-source': cfg.payer, 'fspiop-destination': cfg.payee,
                'fspiop-uri': '/quotes', 'fspiop-http-method': 'POST',
                'fspiop-signature': JSON.stringify({ signature, protectedHeader }),
                'content-length': Buffer.byteLength(body),
            },
        }, (r) => {
            const chunks = [];
            r.on('data', (c) => chunks.push(c));
            r.on('end', () => resolve({ status: r.statusCode, raw: Buffer.concat(chunks).toString('utf8') }));
        });
        req.setTimeout(10000, () => req.destroy(new Error('no answer in 10 s')));
        req.on('error', reject);
        req.end(body);
    }).catch((e) => ({ status: 0, raw: e.message }));
    let code;
    try { code = JSON.parse(res.raw).errorInformation.errorCode; } catch (e) { code = undefined; }
    check(res.status === 400 && code === '3105', what, `HTTP ${res.status} ${short(res.raw, 300)}`);
}

// ---------------------------------------------------------------------------------------------
// Request to pay: the payee's SDK asks the payer's customer for a payment through the switch's
// transaction requests service; the payer's backend answers; then the payer pays it.

// What reached an SDK's inbound API and is not in its outbound answer is read where the SDK
// hands it on: it publishes each callback on its Redis server's pub/sub (`txnreq_<id>` for a
// PUT /transactionRequests/{ID}). A minimal RESP client, PSUBSCRIBEd to a pattern, keeps them.
function respEncode(args) {
    return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}
function respParse(buf, at) {  // -> { value, end } or null when incomplete
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const type = String.fromCharCode(buf[at]);
    const line = buf.toString('utf8', at + 1, eol);
    if (type === '+' || type === '-') return { value: type === '-' ? new Error(line) : line, end: eol + 2 };
    if (type === ':') return { value: Number(line), end: eol + 2 };
    if (type === '$') {
        const n = Number(line);
        if (n < 0) return { value: null, end: eol + 2 };
        if (buf.length < eol + 2 + n + 2) return null;
        return { value: buf.toString('utf8', eol + 2, eol + 2 + n), end: eol + 2 + n + 2 };
    }
    if (type === '*') {
        const n = Number(line);
        const items = [];
        let end = eol + 2;
        for (let i = 0; i < n; i += 1) {
            const item = respParse(buf, end);
            if (!item) return null;
            items.push(item.value);
            end = item.end;
        }
        return { value: items, end };
    }
    throw new Error(`unexpected RESP type ${type}`);
}
function redisWatch(hostPort, patterns) {
    const [host, port] = hostPort.split(':');
    const messages = new Map();  // channel -> [parsed message, ...]
    const waiters = [];
    return new Promise((resolve, reject) => {
        let buf = Buffer.alloc(0);
        let subscribed = false;
        let acknowledged = 0;
        const sock = net.connect(Number(port), host, () => sock.write(respEncode(['PSUBSCRIBE', ...patterns])));
        const watch = {
            // The first message on `channel` that `wanted` accepts (any, by default), waiting up
            // to `ms` for it; undefined if none came.
            next(channel, ms, wanted = () => true) {
                const have = (messages.get(channel) || []).find((m) => wanted(m));
                if (have) return Promise.resolve(have);
                return new Promise((done) => {
                    const w = { channel, wanted, done };
                    waiters.push(w);
                    setTimeout(() => { const i = waiters.indexOf(w); if (i >= 0) { waiters.splice(i, 1); done(undefined); } }, ms);
                });
            },
            close() { sock.destroy(); },
        };
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            for (;;) {
                const r = respParse(buf, 0);
                if (!r) break;
                buf = buf.subarray(r.end);
                const v = r.value;
                if (v instanceof Error) { if (!subscribed) reject(v); continue; }
                if (!Array.isArray(v)) continue;
                if (v[0] === 'psubscribe') {
                    acknowledged += 1;
                    if (acknowledged === patterns.length && !subscribed) { subscribed = true; resolve(watch); }
                    continue;
                }
                if (v[0] !== 'pmessage') continue;
                const channel = v[2];
                let message;
                try { message = JSON.parse(v[3]); } catch (e) { message = { raw: v[3] }; }
                messages.set(channel, (messages.get(channel) || []).concat([message]));
                for (let i = waiters.length - 1; i >= 0; i -= 1) {
                    if (waiters[i].channel === channel && waiters[i].wanted(message)) { waiters[i].done(message); waiters.splice(i, 1); }
                }
            }
        });
        sock.on('error', (e) => { if (!subscribed) reject(e); });
        setTimeout(() => { if (!subscribed) { sock.destroy(); reject(new Error(`redis ${hostPort}: not subscribed within 5 s`)); } }, 5000);
    });
}

function merchantMsisdn() {
    return String(cfg.msisdnBase + cfg.msisdnCount - 1);
}

// An FSPIOP request as a DFSP sends it to the switch: its content type in `version`, and, when
// `privateKey` is given, signed RS256 as the SDK signs (the protected header it writes).
function fspiopRequest(method, url, resource, version, body, source, destination, privateKey) {
    const text = body === undefined ? '' : JSON.stringify(body);
    const u = new URL(url);
    const date = new Date().toUTCString();
    const headers = {
        'content-type': `application/vnd.interoperability.${resource}+json;version=${version}`,
        date, 'fspiop-source': source, 'fspiop-destination': destination,
        'content-length': Buffer.byteLength(text),
    };
    // A callback (PUT) carries no Accept (FSPIOP; the quoting service refuses one, 3100).
    if (method !== 'PUT') headers.accept = `application/vnd.interoperability.${resource}+json;version=${version.split('.')[0]}`;
    if (privateKey) {
        headers['fspiop-uri'] = u.pathname;
        headers['fspiop-http-method'] = method;
        const protectedHeader = b64url(JSON.stringify({
            alg: 'RS256', 'FSPIOP-URI': u.pathname, 'FSPIOP-HTTP-Method': method,
            'FSPIOP-Source': source, 'FSPIOP-Destination': destination, Date: date,
        }));
        const signature = b64url(crypto.sign('sha256', Buffer.from(`${protectedHeader}.${b64url(text)}`), privateKey));
        headers['fspiop-signature'] = JSON.stringify({ signature, protectedHeader });
    }
    return new Promise((resolve, reject) => {
        const req = http.request({ method, hostname: u.hostname, port: u.port, path: u.pathname + u.search, agent, headers }, (r) => {
            const chunks = [];
            r.on('data', (c) => chunks.push(c));
            r.on('end', () => resolve({ status: r.statusCode, raw: Buffer.concat(chunks).toString('utf8') }));
        });
        req.setTimeout(10000, () => req.destroy(new Error('no answer in 10 s')));
        req.on('error', reject);
        req.end(text);
    }).catch((e) => ({ status: 0, raw: e.message }));
}

// The payee's SDK's own POST /requestToPay, in the form its outbound API validates
// (`scenario` a TransactionType object). SDK 18.0.2 copies that object into
// transactionType.scenario, which must be a string: the switch must refuse the POST
// /transactionRequests (400, 3101) and forward nothing. Should a later SDK get it right, the
// request must instead arrive as any other.
async function sdkRequestToPay(watch) {
    const amount = '3.21';
    const what = `POST /requestToPay at ${cfg.payee}'s SDK`;
    const before = ((await request('GET', `${cfg.payerBackend}/stats`)).json || {}).transactionRequests;
    let res;
    try {
        res = await request('POST', `${cfg.payeeOutbound}/requestToPay`, {
            homeTransactionId: crypto.randomUUID(),
            from: { idType: 'MSISDN', idValue: merchantMsisdn(), displayName: 'SDK Merchant' },
            to: { idType: 'MSISDN', idValue: cfg.payerMsisdn },
            amountType: 'RECEIVE',
            currency: cfg.currency,
            amount,
            scenario: { scenario: 'PAYMENT', initiator: 'PAYEE', initiatorType: 'CONSUMER' },
            initiator: 'PAYEE',
            initiatorType: 'CONSUMER',
        });
    } catch (e) {
        return fail(what, e.message);
    }
    const j = res.json || {};
    if (res.status === 200 && j.transactionRequestId) {
        return verifyTransactionRequest(`${what}: its POST /transactionRequests reached ${cfg.payer}'s backend, the PUT RECEIVED reached ${cfg.payee}`,
            j.transactionRequestId, amount, 'RECEIVED', watch);
    }
    await sleep(500);
    const after = ((await request('GET', `${cfg.payerBackend}/stats`)).json || {}).transactionRequests;
    return check(res.status === 500 && /non-success status code 400/.test(j.message || '') && after === before,
        `${what}: the switch refuses the SDK's POST /transactionRequests, whose transactionType.scenario is an object (SDK 18.0.2, interop/README.md), with HTTP 400 and forwards nothing`,
        `${errorSummaryR2p(res, 'requestToPayState')}; ${cfg.payer}'s backend was asked ${after - before} time(s)`);
}

// The payee's DFSP asks, as its SDK would with `scenario` a string: POST /transactionRequests to
// the switch's transaction requests service (signed with the payee's key in the JWS phase).
async function sendTransactionRequest(amount) {
    const id = crypto.randomUUID();
    const body = {
        transactionRequestId: id,
        payee: { partyIdInfo: { partyIdType: 'MSISDN', partyIdentifier: merchantMsisdn(), fspId: cfg.payee }, name: 'SDK Merchant' },
        payer: { partyIdType: 'MSISDN', partyIdentifier: cfg.payerMsisdn, fspId: cfg.payer },
        amount: { amount, currency: cfg.currency },
        transactionType: { scenario: 'PAYMENT', initiator: 'PAYEE', initiatorType: 'CONSUMER' },
        note: 'sdk interop request to pay',
        authenticationType: 'OTP',
        expiration: new Date(Date.now() + 60000).toISOString(),
    };
    const res = await fspiopRequest('POST', `${cfg.transactionRequestsUrl}/transactionRequests`, 'transactionRequests',
        cfg.expectSigned ? '1.1' : '1.0', body, cfg.payee, cfg.payer, cfg.payeeSigningKey || undefined);
    return { id, res };
}

// A transaction request reached the payer's backend, and its answer (`expectedState`) came back
// to the payee's SDK through the switch.
async function verifyTransactionRequest(what, id, amount, expectedState, watch, started = Date.now()) {
    const problems = [];
    const r = await request('GET', `${cfg.payerBackend}/transactionrequests/${id}`);
    let asked = r.status === 200 ? r.json : undefined;
    const put = await watch.next(`txnreq_${id}`, 5000);
    const ms = Date.now() - started;
    if (!asked) {
        // The backend is asked before the PUT goes out; read again once the PUT came.
        const again = await request('GET', `${cfg.payerBackend}/transactionrequests/${id}`);
        asked = again.status === 200 ? again.json : undefined;
    }
    if (!asked) problems.push(`${cfg.payer}'s backend was not asked (GET /transactionrequests/${id}: HTTP ${r.status})`);
    else if (Number(asked.request.amount) !== Number(amount) || asked.request.currency !== cfg.currency) {
        problems.push(`${cfg.payer}'s backend was asked for ${asked.request.amount} ${asked.request.currency}`);
    } else if (asked.answer.transactionRequestState !== expectedState) {
        problems.push(`${cfg.payer}'s backend answered ${asked.answer.transactionRequestState}`);
    }
    const putBody = put && put.data && put.data.body;
    const putHeaders = (put && put.data && put.data.headers) || {};
    if (!putBody) {
        problems.push(`no PUT /transactionRequests/${id} reached ${cfg.payee}'s SDK within 5 s`);
    } else {
        if (putBody.transactionRequestState !== expectedState) problems.push(`${cfg.payee}'s SDK got transactionRequestState ${putBody.transactionRequestState}`);
        if (asked && putBody.transactionId !== asked.answer.transactionId) problems.push(`${cfg.payee}'s SDK got transactionId ${putBody.transactionId}, the payer's backend gave ${asked.answer.transactionId}`);
        if (putHeaders['fspiop-source'] !== cfg.payer) problems.push(`the PUT came with FSPIOP-Source ${putHeaders['fspiop-source']}`);
    }
    if (problems.length) {
        fail(what, problems.join('; '));
        return undefined;
    }
    pass(`${what} (${ms} ms)`);
    return { id, asked };
}

async function requestToPay(what, amount, expectedState, watch) {
    const started = Date.now();
    const { id, res } = await sendTransactionRequest(amount);
    if (res.status !== 202) {
        fail(what, `POST /transactionRequests answered HTTP ${res.status} ${short(res.raw, 300)}`);
        return undefined;
    }
    return verifyTransactionRequest(what, id, amount, expectedState, watch, started);
}

function errorSummaryR2p(res, stateField) {
    const j = res.json || {};
    const state = j[stateField] || j.transferState || {};
    const parts = [`HTTP ${res.status}`];
    if (j.currentState) parts.push(`currentState ${j.currentState}`);
    if (j.statusCode) parts.push(`statusCode ${j.statusCode}`);
    if (state.currentState) parts.push(`state ${state.currentState}`);
    const info = state.lastError && state.lastError.mojaloopError && state.lastError.mojaloopError.errorInformation;
    if (info) parts.push(`error ${info.errorCode} "${info.errorDescription}"`);
    if (j.message) parts.push(`message "${short(j.message, 200)}"`);
    if (!j.currentState && !j.message) parts.push(short(res.raw, 300));
    return parts.join(', ');
}

async function positionsNow() {
    const payer = (await accounts(cfg.payer)).find((a) => a.ledgerAccountType === 'POSITION');
    const payee = (await accounts(cfg.payee)).find((a) => a.ledgerAccountType === 'POSITION');
    return {
        payer: payer ? cents(money(payer.value)) : NaN,
        payerReserved: payer ? cents(money(payer.reservedValue || 0)) : NaN,
        payee: payee ? cents(money(payee.value)) : NaN,
    };
}

// sha256(fulfilment) = condition, both base64url: the check the payer's SDK makes of a fulfil.
function fulfilmentMatches(fulfilment, condition) {
    if (typeof fulfilment !== 'string' || typeof condition !== 'string') return false;
    const preimage = Buffer.from(fulfilment, 'base64url');
    return preimage.length === 32 && b64url(crypto.createHash('sha256').update(preimage).digest()) === condition;
}

async function requestToPayChecks() {
    if (!cfg.payeeOutbound || !cfg.payerBackend || !cfg.payeeRedis || !cfg.payerRedis || !cfg.payerMsisdn
        || !cfg.transactionRequestsUrl || !cfg.quotesUrl || !cfg.transfersUrl
        || (cfg.expectSigned && (!cfg.payeeSigningKey || !cfg.payerSigningKey))) {
        fail('request to pay', 'H_PAYEE_OUTBOUND_URL, H_PAYER_BACKEND_URL, H_PAYEE_REDIS, H_PAYER_REDIS, H_PAYER_MSISDN, H_TRANSACTION_REQUESTS_URL, H_QUOTES_URL, H_TRANSFERS_URL (and the signing keys with JWS) are needed');
        return;
    }
    let payeeWatch;
    let payerWatch;
    try {
        payeeWatch = await redisWatch(cfg.payeeRedis, ['txnreq_*']);
        payerWatch = await redisWatch(cfg.payerRedis, ['qt_*', 'otp_*', 'tf_*']);
    } catch (e) {
        fail('request to pay', `cannot watch the SDKs' callbacks: ${e.message}`);
        if (payeeWatch) payeeWatch.close();
        return;
    }
    try {
        await requestToPayFlow(payeeWatch, payerWatch);
    } finally {
        payeeWatch.close();
        payerWatch.close();
    }
}

// The payer's SDK's own POST /requestToPayTransfer, in the form its outbound API validates: as
// with POST /requestToPay, SDK 18.0.2 puts the `scenario` object into the POST /quotes, which
// the switch must refuse (400) without forwarding it.
async function sdkRequestToPayTransfer(asked) {
    const what = `POST /requestToPayTransfer at ${cfg.payer}'s SDK`;
    const before = ((await request('GET', `${cfg.payeeBackend}/stats`)).json || {}).quotes;
    let res;
    try {
        res = await request('POST', `${cfg.payerOutbound}/requestToPayTransfer`, {
            requestToPayTransactionId: asked.id,
            from: { idType: 'MSISDN', idValue: cfg.payerMsisdn, displayName: 'SDK Payer' },
            to: { idType: 'MSISDN', idValue: merchantMsisdn(), fspId: cfg.payee },
            amountType: 'RECEIVE',
            currency: cfg.currency,
            amount: asked.asked.request.amount,
            scenario: { scenario: 'PAYMENT', initiator: 'PAYEE', initiatorType: 'CONSUMER' },
            initiator: 'PAYEE',
            initiatorType: 'CONSUMER',
        });
    } catch (e) {
        return fail(what, e.message);
    }
    const j = res.json || {};
    await sleep(500);
    const after = ((await request('GET', `${cfg.payeeBackend}/stats`)).json || {}).quotes;
    if (res.status === 200) {
        return fail(what, `a later SDK? it went through (${errorSummaryR2p(res, 'requestToPayTransferState')}): the harness should now pay through it`);
    }
    return check(/non-success status code 400/.test(j.message || '') && after === before,
        `${what}: the switch refuses the SDK's POST /quotes, whose transactionType.scenario is an object (SDK 18.0.2, interop/README.md), with HTTP 400 and forwards nothing`,
        `${errorSummaryR2p(res, 'requestToPayTransferState')}; ${cfg.payee}'s backend quoted ${after - before} time(s)`);
}

async function requestToPayFlow(payeeWatch, payerWatch) {
    await sdkRequestToPay(payeeWatch);
    const amount = cfg.r2pAmount;
    const asked = await requestToPay(
        `request to pay from ${cfg.payee}: POST /transactionRequests (202) reached ${cfg.payer}'s SDK and backend through the switch, its PUT /transactionRequests/{ID} RECEIVED reached ${cfg.payee}'s SDK`,
        amount, 'RECEIVED', payeeWatch);

    const quoteWhat = `request to pay: ${cfg.payer}'s POST /quotes for it (transactionRequestId, amountType RECEIVE) quoted by ${cfg.payee}'s SDK, PUT /quotes reached ${cfg.payer}'s SDK`;
    const otpWhat = `request to pay: ${cfg.payer}'s GET /authorizations/{ID} through the switch to ${cfg.payee}'s SDK, whose backend's OTP came back to ${cfg.payer}'s SDK in PUT /authorizations/{ID}`;
    const transferWhat = `request to pay: the transfer for the quote COMMITTED (fulfilment matching the condition) and the fulfil reached ${cfg.payer}'s SDK`;
    const positionsWhat = `request to pay: ${cfg.payer}'s position up by ${amount}, ${cfg.payee}'s down by ${amount}, nothing reserved`;
    if (!asked) {
        for (const w of [`POST /requestToPayTransfer at ${cfg.payer}'s SDK`, quoteWhat, otpWhat, transferWhat, positionsWhat]) fail(w, 'not attempted: the request did not arrive');
    } else {
        await sdkRequestToPayTransfer(asked);
        // The payer's DFSP pays what was asked, as SDK 18.0.2 would if its outbound API let a
        // scenario string through: POST /quotes, GET /authorizations, POST /transfers, signed
        // with the payer's key in the JWS phase; the callbacks go to the payer's SDK.
        const version = cfg.expectSigned ? '1.1' : '1.0';
        const key = cfg.payerSigningKey || undefined;
        const request_ = asked.asked.request;
        const before = await positionsNow();
        const quoteId = crypto.randomUUID();
        const quoteRes = await fspiopRequest('POST', `${cfg.quotesUrl}/quotes`, 'quotes', version, {
            quoteId,
            transactionId: asked.asked.answer.transactionId,
            transactionRequestId: asked.id,
            payee: { partyIdInfo: { partyIdType: 'MSISDN', partyIdentifier: merchantMsisdn(), fspId: cfg.payee } },
            payer: { partyIdInfo: { partyIdType: 'MSISDN', partyIdentifier: cfg.payerMsisdn, fspId: cfg.payer } },
            amountType: 'RECEIVE',
            amount: { amount: request_.amount, currency: request_.currency },
            transactionType: { scenario: request_.transactionType, initiator: request_.initiator, initiatorType: request_.initiatorType },
            note: 'sdk interop request to pay',
            expiration: new Date(Date.now() + 60000).toISOString(),
        }, cfg.payer, cfg.payee, key);
        const quoteMsg = quoteRes.status === 202 ? await payerWatch.next(`qt_${quoteId}`, 10000) : undefined;
        const quote = (quoteMsg && quoteMsg.data && quoteMsg.data.body) || {};
        const quoteOk = check(quoteRes.status === 202 && quoteMsg && quoteMsg.type === 'quoteResponse'
            && quote.transferAmount && Number(quote.transferAmount.amount) === Number(amount)
            && typeof quote.condition === 'string' && typeof quote.ilpPacket === 'string'
            && quoteMsg.data.headers['fspiop-source'] === cfg.payee,
        quoteWhat, `POST /quotes HTTP ${quoteRes.status} ${short(quoteRes.raw, 200)}; callback ${short(quoteMsg, 300)}`);

        const query = `authenticationType=OTP&retriesLeft=1&amount=${request_.amount}&currency=${request_.currency}`;
        const authRes = await fspiopRequest('GET', `${cfg.transactionRequestsUrl}/authorizations/${asked.id}?${query}`, 'authorizations', version,
            undefined, cfg.payer, cfg.payee);
        const otpMsg = authRes.status === 202 ? await payerWatch.next(`otp_${asked.id}`, 10000) : undefined;
        const otpBody = (otpMsg && otpMsg.data && otpMsg.data.body) || {};
        const given = ((await request('GET', `${cfg.payeeBackend}/otps/${asked.id}`)).json || {}).otpValues || [];
        const value = otpBody.authenticationInfo && otpBody.authenticationInfo.authenticationValue;
        check(authRes.status === 202 && otpBody.responseType === 'ENTERED' && value !== undefined && given.includes(value)
            && otpMsg.data.headers['fspiop-source'] === cfg.payee,
        otpWhat, `GET HTTP ${authRes.status} ${short(authRes.raw, 200)}; callback ${short(otpMsg, 300)}; ${cfg.payee}'s backend gave ${JSON.stringify(given)}`);

        if (!quoteOk) {
            fail(transferWhat, 'not attempted: no quote');
            fail(positionsWhat, 'not attempted: no quote');
        } else {
            // The OTP checked (above), the payer's DFSP transfers. The transfer's id is the
            // transaction's (the SDK finds its quote by transferId = the quote's transactionId).
            const transferId = asked.asked.answer.transactionId;
            const prepareRes = await fspiopRequest('POST', `${cfg.transfersUrl}/transfers`, 'transfers', version, {
                transferId, payerFsp: cfg.payer, payeeFsp: cfg.payee,
                amount: quote.transferAmount, ilpPacket: quote.ilpPacket, condition: quote.condition,
                expiration: new Date(Date.now() + 60000).toISOString(),
            }, cfg.payer, cfg.payee, key);
            const tfMsg = prepareRes.status === 202 ? await payerWatch.next(`tf_${transferId}`, 15000) : undefined;
            const fulfil = (tfMsg && tfMsg.data && tfMsg.data.body) || {};
            const committed = tfMsg && tfMsg.type === 'transferFulfil' && fulfil.transferState === 'COMMITTED'
                && fulfilmentMatches(fulfil.fulfilment, quote.condition);
            check(prepareRes.status === 202 && committed, transferWhat,
                `POST /transfers HTTP ${prepareRes.status} ${short(prepareRes.raw, 200)}; callback ${short(tfMsg, 300)}`);
            if (committed) {
                committedCents += cents(amount);
                committedCount += 1;
            }
            const deadline = Date.now() + 10000;
            let after;
            for (;;) {
                after = await positionsNow();
                if ((after.payer - before.payer === cents(amount) && after.payee - before.payee === -cents(amount) && after.payerReserved === 0)
                    || Date.now() > deadline) break;
                await sleep(200);
            }
            check(after.payer - before.payer === cents(amount) && after.payee - before.payee === -cents(amount) && after.payerReserved === 0,
                positionsWhat,
                `${cfg.payer} ${before.payer / 100} -> ${after.payer / 100} (reserved ${after.payerReserved / 100}), ${cfg.payee} ${before.payee / 100} -> ${after.payee / 100}`);
        }
    }

    // The payer's backend rejects a request: the payee hears REJECTED, and nothing is paid.
    await requestToPay(
        `a request to pay ${cfg.payer}'s backend rejects: PUT /transactionRequests/{ID} REJECTED reached ${cfg.payee}'s SDK`,
        cfg.r2pRejectedAmount, 'REJECTED', payeeWatch);
}

// ---------------------------------------------------------------------------------------------
// Bulk payments: the payer's SDK quotes and pays several payees of the payee's DFSP at once (its
// outbound POST /bulkQuotes and POST /bulkTransfers, the legacy synchronous bulk API) through
// the switch's quoting service and ML API adapter; the payee's SDK and backend fulfil the bulk
// transfer. SDK 18.0.2 cannot take part in a bulk quote as the payee (its inbound API has no
// POST /bulkQuotes), so the harness answers the bulk quote as that SDK would, with the SDK's own
// code; and its outbound calls never hear the callbacks that reach its inbound API, which are
// read where the SDK hands them on (its Redis channels). See interop/README.md.

const quietLogger = {
    isDebugEnabled: () => false, isVerboseEnabled: () => false, isInfoEnabled: () => false,
    debug() {}, verbose() {}, info() {}, log() {}, warn() {}, error() {}, push() { return quietLogger; },
};

let sdkCode;
// The SDK's own projections (lib/model/lib/shared.js) and ILP (sdk-standard-components' Ilp,
// with the payee SDK's ILP_SECRET): what its inbound bulk quote handler uses.
function sdk() {
    if (!sdkCode) {
        const path = require('path');
        // eslint-disable-next-line global-require, import/no-dynamic-require
        const shared = require(path.join(cfg.sdkModules, '@mojaloop/sdk-scheme-adapter/src/lib/model/lib/shared.js'));
        // eslint-disable-next-line global-require, import/no-dynamic-require
        const { Ilp } = require(path.join(cfg.sdkModules, '@mojaloop/sdk-standard-components'));
        sdkCode = { shared, ilp: new Ilp({ secret: cfg.payeeIlpSecret, logger: quietLogger }) };
    }
    return sdkCode;
}

const bulkPayer = { idType: 'MSISDN', idValue: '19990000001', displayName: 'SDK Payer', firstName: 'Sdk', lastName: 'Payer' };

// The payer SDK's outbound bulk calls, judged at the end: each waits for its callback up to the
// SDK's REQUEST_PROCESSING_TIMEOUT_SECONDS.
const sdkBulkCalls = [];
function outboundBulkCall(kind, id, count, body) {
    const started = Date.now();
    const promise = request('POST', `${cfg.payerOutbound}/${kind}`, body)
        .then((res) => ({ res, ms: Date.now() - started }))
        .catch((e) => ({ error: e.message, ms: Date.now() - started }));
    sdkBulkCalls.push({ kind, id, count, promise });
}

const sourceOf = (m) => (m && m.data && m.data.headers && m.data.headers['fspiop-source']) || undefined;
const sumCents = (list) => list.reduce((sum, a) => sum + cents(a), 0);

// The payee's SDK's part in a bulk quote, as 18.0.2's InboundTransfersModel.bulkQuoteRequest
// does it with the FSPIOP request `sent`: its backend asked (POST /bulkQuotes, in the SDK's
// internal form), the answer projected to FSPIOP with the SDK's own function, each quote given
// the ILP packet and condition of the SDK's Ilp with the payee's secret; then PUT
// /bulkQuotes/{ID} to the switch, as the payee (signed with its key in the JWS phase).
async function payeeAnswersBulkQuote(sent) {
    const { shared, ilp } = sdk();
    const backend = await request('POST', `${cfg.payeeBackend}/bulkQuotes`, shared.mojaloopBulkQuotesRequestToInternal(sent));
    if (backend.status !== 200) return { why: `${cfg.payee}'s backend answered POST /bulkQuotes with HTTP ${backend.status} ${short(backend.raw, 200)}` };
    const response = backend.json;
    if (!response.expiration) response.expiration = new Date(Date.now() + cfg.expirySeconds * 1000).toISOString();
    const answer = shared.internalBulkQuotesResponseToMojaloop(response);
    for (const quote of sent.individualQuotes) {
        const result = answer.individualQuoteResults.find((r) => r.quoteId === quote.quoteId);
        if (!result) return { why: `${cfg.payee}'s backend left quote ${quote.quoteId} out of its bulk quote` };
        const made = ilp.getQuoteResponseIlp({
            transactionId: quote.transactionId, quoteId: quote.quoteId, payee: quote.payee, payer: sent.payer,
            transactionType: quote.transactionType,
        }, { transferAmount: result.transferAmount, note: result.note || '' });
        result.ilpPacket = made.ilpPacket;
        result.condition = made.condition;
    }
    const res = await fspiopRequest('PUT', `${cfg.quotesUrl}/bulkQuotes/${sent.bulkQuoteId}`, 'bulkQuotes',
        cfg.expectSigned ? '1.1' : '1.0', answer, cfg.payee, cfg.payer, cfg.payeeSigningKey || undefined);
    return { res, answer };
}

// Whether an SDK's log, from byte `from` on, shows a request reaching its inbound API: `method`
// and the exact `path` (quoted, as the SDK logs it: the request's `path` once it has a logger,
// `url` in its JWS check). What SDK 18.0.2 cannot read is seen there only.
function logSize(logPath) {
    try { return fs.statSync(logPath).size; } catch (e) { return 0; }
}
function sdkLogSaw(logPath, method, path, from) {
    let text;
    try {
        const fd = fs.openSync(logPath, 'r');
        try {
            const length = Math.max(0, fs.fstatSync(fd).size - from);
            const buffer = Buffer.alloc(length);
            fs.readSync(fd, buffer, 0, length, from);
            text = buffer.toString('utf8');
        } finally {
            fs.closeSync(fd);
        }
    } catch (e) {
        return false;
    }
    return text.split('\n').some((line) => line.includes('inbound-api') && line.includes(`"${path}"`) && line.includes(`"${method}"`));
}
async function sdkLogShows(logPath, method, path, from, ms = 10000) {
    const deadline = Date.now() + ms;
    for (;;) {
        if (sdkLogSaw(logPath, method, path, from)) return true;
        if (Date.now() > deadline) return false;
        await sleep(200);
    }
}

// A bulk quote: the payer's SDK's outbound POST /bulkQuotes for `payees` ([{msisdn, amount}],
// all at the payee's DFSP); the switch relays it to the payee's SDK (which, 18.0.2, cannot read
// it) and the refusal back to the payer's SDK (which cannot read that either); the payee answers
// as its SDK would; the switch relays the answer to the payer's SDK (which cannot read it).
// Returns { bulkQuoteId, sent, relayWhy (the SDK's request or the refusal did not arrive),
// answerWhy (the answer was not taken or did not arrive), results ([{msisdn, amount, quoteId,
// result}], the payee's quote results, when quoted) }.
async function bulkQuote(payees) {
    const { shared } = sdk();
    const bulkQuoteId = crypto.randomUUID();
    const individualQuotes = payees.map((p) => ({
        quoteId: crypto.randomUUID(),
        to: { idType: 'MSISDN', idValue: p.msisdn, fspId: cfg.payee },
        amountType: 'SEND', currency: cfg.currency, amount: p.amount, transactionType: 'TRANSFER', note: 'sdk interop bulk',
    }));
    const payerLogFrom = logSize(cfg.payerSdkLog);
    const payeeLogFrom = logSize(cfg.payeeSdkLog);
    outboundBulkCall('bulkQuotes', bulkQuoteId, payees.length, {
        homeTransactionId: crypto.randomUUID(), bulkQuoteId, from: bulkPayer, individualQuotes,
    });
    // The FSPIOP request as the SDK's OutboundBulkQuotesModel builds it (transactionId = quoteId).
    const sent = {
        bulkQuoteId,
        payer: shared.internalPartyToMojaloopParty(bulkPayer, cfg.payer),
        individualQuotes: individualQuotes.map((q) => ({
            quoteId: q.quoteId,
            transactionId: q.quoteId,
            payee: shared.internalPartyToMojaloopParty(q.to, q.to.fspId),
            amountType: q.amountType,
            amount: { currency: q.currency, amount: q.amount },
            transactionType: { scenario: q.transactionType, initiator: 'PAYER', initiatorType: 'CONSUMER' },
            note: q.note,
        })),
    };
    const q = { bulkQuoteId, sent, payees };
    const relayed = await sdkLogShows(cfg.payeeSdkLog, 'POST', '/bulkQuotes', payeeLogFrom);
    const refusal = await sdkLogShows(cfg.payerSdkLog, 'PUT', `/bulkQuotes/${bulkQuoteId}/error`, payerLogFrom);
    if (!relayed || !refusal) {
        q.relayWhy = [
            relayed ? '' : `no POST /bulkQuotes reached ${cfg.payee}'s SDK within 10 s (its log)`,
            refusal ? '' : `no PUT /bulkQuotes/${bulkQuoteId}/error reached ${cfg.payer}'s SDK within 10 s (its log)`,
        ].filter(Boolean).join('; ');
    }
    const answerLogFrom = logSize(cfg.payerSdkLog);
    const a = await payeeAnswersBulkQuote(sent);
    if (a.why) {
        q.answerWhy = a.why;
        return q;
    }
    if (a.res.status !== 200) {
        q.answerWhy = `the switch answered ${cfg.payee}'s PUT /bulkQuotes/${bulkQuoteId} with HTTP ${a.res.status} ${short(a.res.raw, 300)}`;
        return q;
    }
    if (!await sdkLogShows(cfg.payerSdkLog, 'PUT', `/bulkQuotes/${bulkQuoteId}`, answerLogFrom)) {
        q.answerWhy = `${cfg.payee}'s PUT /bulkQuotes/${bulkQuoteId} (HTTP 200 at the switch) did not reach ${cfg.payer}'s SDK within 10 s (its log)`;
        return q;
    }
    q.results = payees.map((p, i) => ({
        ...p, quoteId: sent.individualQuotes[i].quoteId,
        result: a.answer.individualQuoteResults.find((x) => x.quoteId === sent.individualQuotes[i].quoteId),
    }));
    return q;
}

// A quoted bulk paid through the payer's SDK's outbound POST /bulkTransfers on the quote's
// terms. SDK 18.0.2 validates that call's body against the schema of its bulk transactions API
// (bulkHomeTransactionID, options, `from` and each `to` a Party) while its model reads the
// documented fields (transferId, amount, ilpPacket, condition, to.fspId, from.fspId): the body
// has both.
// Returns the PUT /bulkTransfers/{ID} the payer's and the payee's SDKs got, what the payee's
// backend was told, and the positions before.
async function bulkTransfer(q, payerWatch, payeeWatch, waitMs) {
    const bulkTransferId = crypto.randomUUID();
    const items = q.results.map((r) => ({ ...r, transferId: crypto.randomUUID() }));
    const party = (idValue, fspId) => ({ partyIdInfo: { partyIdType: 'MSISDN', partyIdentifier: idValue, fspId }, idType: 'MSISDN', idValue, fspId });
    const homeTransactionId = crypto.randomUUID();
    const body = {
        homeTransactionId,
        bulkHomeTransactionID: homeTransactionId,
        options: { autoAcceptParty: { enabled: true }, autoAcceptQuote: { enabled: true }, bulkExpiration: new Date(Date.now() + 60000).toISOString() },
        bulkTransferId,
        bulkQuoteId: q.bulkQuoteId,
        // SDK 18.0.2 sends the POST /bulkTransfers with FSPIOP-Destination = `from.fspId` (not
        // the payee's DFSP): the payer's own id would be signed into its JWS, which the switch,
        // sending the request on with FSPIOP-Destination the payee's DFSP, would break (the
        // payee's SDK refuses it, 3105). So `from.fspId` names the payee's DFSP, as a DFSP
        // using this SDK must (interop/README.md).
        from: { ...party(bulkPayer.idValue, cfg.payer), fspId: cfg.payee },
        individualTransfers: items.map((t) => ({
            homeTransactionId: crypto.randomUUID(),
            transferId: t.transferId,
            to: party(t.msisdn, cfg.payee),
            amountType: 'SEND',
            currency: t.result.transferAmount.currency,
            amount: t.result.transferAmount.amount,
            transactionType: 'TRANSFER',
            ilpPacket: t.result.ilpPacket,
            condition: t.result.condition,
        })),
    };
    const before = await positionsNow();
    const sentAt = Date.now();
    outboundBulkCall('bulkTransfers', bulkTransferId, items.length, body);
    const wanted = (m) => m.type === 'bulkTransferResponse' || m.type === 'bulkTransferResponseError';
    const channel = `bulkTransfer_${bulkTransferId}`;
    const payerPut = await payerWatch.next(channel, waitMs, wanted);
    const ms = Date.now() - sentAt;
    const payeePut = await payeeWatch.next(channel, payerPut ? 5000 : 1000, wanted);
    const told = await request('GET', `${cfg.payeeBackend}/bulkTransfers/${bulkTransferId}`);
    return { bulkTransferId, items, payerPut, payeePut, told: told.status === 200 ? told.json : undefined, before, ms };
}

// What is wrong with a PUT /bulkTransfers/{ID} an SDK got (`msg`, from its Redis channel),
// against `expect`: transferId -> 'fulfilment' or the error code expected for it; transfers
// not in `expect` must not be listed.
function bulkPutProblems(who, msg, items, expect, state = 'COMPLETED') {
    if (!msg) return [`no PUT /bulkTransfers/{ID} reached ${who}'s SDK`];
    const body = (msg.data && msg.data.body) || {};
    const problems = [];
    if (msg.type !== 'bulkTransferResponse') return [`${who}'s SDK got ${msg.type} from ${sourceOf(msg)}: ${short(body, 300)}`];
    if (sourceOf(msg) !== 'Hub') problems.push(`FSPIOP-Source ${sourceOf(msg)}`);
    if (body.bulkTransferState !== state) problems.push(`bulkTransferState ${body.bulkTransferState} where ${state} was expected`);
    const results = Array.isArray(body.individualTransferResults) ? body.individualTransferResults : [];
    const listed = new Map(results.map((r) => [r.transferId, r]));
    for (const t of items) {
        const want = expect.get(t.transferId);
        const r = listed.get(t.transferId);
        if (want === undefined) {
            if (r) problems.push(`lists the transfer of ${t.amount}, which it was not sent`);
        } else if (!r) {
            problems.push(`no result for the transfer of ${t.amount}`);
        } else if (want === 'fulfilment') {
            if (r.errorInformation || !fulfilmentMatches(r.fulfilment, t.result.condition)) problems.push(`the transfer of ${t.amount}: ${short(r, 200)}`);
        } else if (!r.errorInformation || r.errorInformation.errorCode !== want || r.fulfilment) {
            problems.push(`the transfer of ${t.amount}: expected error ${want}, got ${short(r, 200)}`);
        }
    }
    if (results.length !== expect.size) problems.push(`${results.length} results where ${expect.size} were expected`);
    return problems.map((p) => `${who}: ${p}`);
}

// Positions once `deltaCents` moved from the payer to the payee since `before` (read until so,
// up to 10 s); problems if not so, or something is still reserved.
async function positionProblems(before, deltaCents) {
    const deadline = Date.now() + 10000;
    let after;
    for (;;) {
        after = await positionsNow();
        const ok = after.payer - before.payer === deltaCents && after.payee - before.payee === -deltaCents && after.payerReserved === 0;
        if (ok) return [];
        if (Date.now() > deadline) break;
        await sleep(200);
    }
    return [`positions: ${cfg.payer} ${before.payer / 100} -> ${after.payer / 100} (reserved ${after.payerReserved / 100}), ${cfg.payee} ${before.payee / 100} -> ${after.payee / 100}, expected a move of ${deltaCents / 100}`];
}

// Counts what the payer's PUT says committed (for the final position checks).
function countCommitted(t) {
    const results = (t.payerPut && t.payerPut.type === 'bulkTransferResponse' && t.payerPut.data.body.individualTransferResults) || [];
    for (const item of t.items) {
        const r = results.find((x) => x.transferId === item.transferId);
        if (r && r.fulfilment && !r.errorInformation) {
            committedCents += cents(item.amount);
            committedCount += 1;
        }
    }
}

function bulkAmount(i) {
    let a = amountFor(2000 + i);
    if (Number(a) === Number(cfg.refusedBulkTransferAmount)) a = '1.02';
    return a;
}

async function bulkChecks() {
    if (!cfg.sdkModules || !cfg.payeeIlpSecret || !cfg.payerRedis || !cfg.payeeRedis || !cfg.quotesUrl
        || !cfg.payerSdkLog || !cfg.payeeSdkLog || (cfg.expectSigned && !cfg.payeeSigningKey)) {
        fail('bulk payments', 'H_SDK_MODULES, H_PAYEE_ILP_SECRET, H_PAYER_REDIS, H_PAYEE_REDIS, H_QUOTES_URL, H_PAYER_SDK_LOG, H_PAYEE_SDK_LOG (and the payee\'s signing key with JWS) are needed');
        return;
    }
    let payerWatch;
    let payeeWatch;
    try {
        sdk();
        payerWatch = await redisWatch(cfg.payerRedis, ['bulkTransfer_*']);
        payeeWatch = await redisWatch(cfg.payeeRedis, ['bulkTransfer_*']);
    } catch (e) {
        fail('bulk payments', `cannot load the SDK's code or watch the SDKs' callbacks: ${e.message}`);
        if (payerWatch) payerWatch.close();
        return;
    }
    try {
        await bulkFlow(payerWatch, payeeWatch);
    } finally {
        payerWatch.close();
        payeeWatch.close();
    }
    await sdkBulkCallsEnded();
}

async function bulkFlow(payerWatch, payeeWatch) {
    const n = cfg.bulkCount;
    const msisdns = payeeMsisdns();
    const bulkWhat = (what) => `bulk: ${what}`;

    // The main bulk: n payees, quoted and paid.
    const payees = Array.from({ length: n }, (_, i) => ({ msisdn: msisdns[i % msisdns.length], amount: bulkAmount(i) }));
    const q = await bulkQuote(payees);
    const relayWhat = bulkWhat(`POST /bulkQuotes at ${cfg.payer}'s SDK (${n} payees at ${cfg.payee}): the switch relayed it to ${cfg.payee}'s SDK and that SDK's refusal back to ${cfg.payer}'s SDK as PUT /bulkQuotes/{ID}/error (seen arriving in the SDKs' logs: SDK 18.0.2 reads neither, interop/README.md)`);
    check(!q.relayWhy, relayWhat, q.relayWhy);
    const quoteWhat = bulkWhat(`${cfg.payee}'s answer made as its SDK makes it (its backend's quotes, fees 0, ILP from the SDK's code and secret): PUT /bulkQuotes/{ID} with ${n} results ${cfg.expectSigned ? 'signed ' : ''}taken by the switch (200) and relayed to ${cfg.payer}'s SDK (seen arriving in its log)`);
    const quoted = !q.answerWhy && q.results;
    check(quoted, quoteWhat, q.answerWhy);

    const transferWhat = bulkWhat(`POST /bulkTransfers at ${cfg.payer}'s SDK (${n} transfers, the quote's terms): the switch's PUT /bulkTransfers/{ID} COMPLETED with ${n} fulfilments matching the conditions reached ${cfg.payer}'s SDK`);
    const payeeWhat = bulkWhat(`${cfg.payee}'s SDK got the bulk transfer from the switch, its backend was told of the ${n} transfers (POST /bulkTransfers) and accepted them, and the switch's PUT /bulkTransfers/{ID} COMPLETED reached ${cfg.payee}'s SDK`);
    const positionsWhat = bulkWhat(`${cfg.payer}'s position up by the bulk's sum (${(sumCents(payees.map((p) => p.amount)) / 100).toFixed(2)}), ${cfg.payee}'s down by it, nothing reserved`);
    if (!quoted) {
        for (const w of [transferWhat, payeeWhat, positionsWhat]) fail(w, 'not attempted: no bulk quote');
    } else {
        const t = await bulkTransfer(q, payerWatch, payeeWatch, 15000);
        countCommitted(t);
        const all = new Map(t.items.map((i) => [i.transferId, 'fulfilment']));
        const payerProblems = bulkPutProblems(cfg.payer, t.payerPut, t.items, all);
        check(payerProblems.length === 0, transferWhat, payerProblems.join('; '));
        const payeeProblems = bulkPutProblems(cfg.payee, t.payeePut, t.items, all);
        const accepted = (t.told && t.told.accepted) || [];
        if (!t.told) payeeProblems.push(`${cfg.payee}'s backend was not told of bulk transfer ${t.bulkTransferId}`);
        else if (accepted.length !== n || !t.items.every((i) => accepted.includes(i.transferId))) {
            payeeProblems.push(`${cfg.payee}'s backend accepted ${accepted.length} of the ${n} (told of ${short(t.told.request && t.told.request.individualTransfers, 200)})`);
        }
        check(payeeProblems.length === 0, payeeWhat, payeeProblems.join('; '));
        const moved = await positionProblems(t.before, sumCents(payees.map((p) => p.amount)));
        check(moved.length === 0, positionsWhat, moved.join('; '));
    }

    // A bulk transfer one transfer of which the payee's backend refuses (leaves out of its
    // results): the switch aborts it (5100, not in the payee's results) and commits the others.
    const refusedAmount = cfg.refusedBulkTransferAmount;
    const payeeRefusedWhat = bulkWhat(`a bulk transfer of 4 one of which (${refusedAmount}) ${cfg.payee}'s backend refuses: the switch's PUT /bulkTransfers/{ID} to ${cfg.payer}'s SDK has 3 fulfilments and that transfer's 5100, ${cfg.payee}'s SDK gets the same 4 results, positions moved by the 3`);
    {
        const list = [
            { msisdn: msisdns[2], amount: '2.01' },
            { msisdn: msisdns[3], amount: refusedAmount },
            { msisdn: msisdns[4], amount: '3.02' },
            { msisdn: msisdns[5], amount: '4.03' },
        ];
        const r = await bulkQuote(list);
        if (r.relayWhy || r.answerWhy || !r.results) {
            fail(payeeRefusedWhat, `not attempted: bulk quote: ${r.relayWhy || r.answerWhy}`);
        } else {
            const t = await bulkTransfer(r, payerWatch, payeeWatch, 15000);
            countCommitted(t);
            const expect = new Map(t.items.map((i) => [i.transferId, Number(i.amount) === Number(refusedAmount) ? '5100' : 'fulfilment']));
            const problems = bulkPutProblems(cfg.payer, t.payerPut, t.items, expect)
                .concat(bulkPutProblems(cfg.payee, t.payeePut, t.items, expect));
            if (!t.told || (t.told.refused || []).length !== 1) problems.push(`${cfg.payee}'s backend: ${short(t.told, 200)}`);
            const committed = list.filter((p) => Number(p.amount) !== Number(refusedAmount)).map((p) => p.amount);
            problems.push(...await positionProblems(t.before, sumCents(committed)));
            check(problems.length === 0, payeeRefusedWhat, problems.join('; '));
        }
    }

    // A bulk transfer one transfer of which is above the payer's liquidity: the hub refuses it
    // (4001), the payee is sent the others only, which commit. With JWS the body the payee is
    // sent is the hub's cut of the payer's, which no longer carries the payer's signature: the
    // payee's SDK refuses it (3105) and the hub aborts the bulk at once (not at its expiration),
    // REJECTED with the payee's 3105 for the two and the hub's 4001 (interop/README.md).
    const above = String(cfg.payerFunds * 2);
    const signed = Boolean(cfg.expectSigned);
    const hubRefusedWhat = bulkWhat(signed
        ? `a bulk transfer of 3 one of which (${above}) is above ${cfg.payer}'s liquidity: the hub cuts it to 2 (unsigned), ${cfg.payee}'s SDK refuses that (3105), the hub aborts the bulk at once: REJECTED to ${cfg.payer}'s SDK with 3105, 3105 and 4001, to ${cfg.payee}'s SDK with its 2, nothing moved`
        : `a bulk transfer of 3 one of which (${above}) is above ${cfg.payer}'s liquidity: ${cfg.payee}'s SDK is sent the 2 others, which commit; the switch's PUT /bulkTransfers/{ID} to ${cfg.payer}'s SDK has 2 fulfilments and that transfer's 4001, ${cfg.payee}'s SDK gets the 2`);
    {
        const list = [
            { msisdn: msisdns[6], amount: '1.11' },
            { msisdn: msisdns[7], amount: above },
            { msisdn: msisdns[8], amount: '2.22' },
        ];
        const r = await bulkQuote(list);
        if (r.relayWhy || r.answerWhy || !r.results) {
            fail(hubRefusedWhat, `not attempted: bulk quote: ${r.relayWhy || r.answerWhy}`);
        } else {
            // Long enough for the bulk's expiration (the SDK's EXPIRY_SECONDS) and the switch's
            // timeout sweep, should the payee never answer.
            const t = await bulkTransfer(r, payerWatch, payeeWatch, (cfg.expirySeconds + 40) * 1000);
            countCommitted(t);
            const isAbove = (i) => Number(i.amount) === Number(above);
            const taken = signed ? '3105' : 'fulfilment';
            const state = signed ? 'REJECTED' : 'COMPLETED';
            const payerExpect = new Map(t.items.map((i) => [i.transferId, isAbove(i) ? '4001' : taken]));
            const payeeExpect = new Map(t.items.filter((i) => !isAbove(i)).map((i) => [i.transferId, taken]));
            const problems = bulkPutProblems(cfg.payer, t.payerPut, t.items, payerExpect, state)
                .concat(bulkPutProblems(cfg.payee, t.payeePut, t.items, payeeExpect, state));
            const told = (t.told && t.told.request && t.told.request.individualTransfers) || [];
            if (signed) {
                if (t.ms >= cfg.expirySeconds * 1000) problems.push(`the payer heard after ${t.ms} ms, not before the bulk's expiration`);
                if (t.told) problems.push(`${cfg.payee}'s backend was told of ${short(told, 300)}, though its SDK refused the bulk`);
            } else if (!t.told) problems.push(`${cfg.payee}'s backend was not told of the bulk transfer`);
            else if (told.length !== 2 || told.some((i) => Number(i.amount) === Number(above))) problems.push(`${cfg.payee}'s backend was told of ${short(told, 300)}`);
            problems.push(...await positionProblems(t.before, sumCents(signed ? [] : ['1.11', '2.22'])));
            check(problems.length === 0, hubRefusedWhat, problems.join('; '));
        }
    }
}

// The payer SDK's own outbound bulk calls. SDK 18.0.2 never hears the callbacks that reach its
// inbound API for them (checked above), so each must end after its
// REQUEST_PROCESSING_TIMEOUT_SECONDS with 504; a later SDK's calls must complete.
async function sdkBulkCallsEnded() {
    const ended = await Promise.all(sdkBulkCalls.map(async (c) => ({ ...c, ...(await c.promise) })));
    const problems = [];
    let timedOut = 0;
    let completed = 0;
    for (const c of ended) {
        const j = (c.res && c.res.json) || {};
        if (c.error) problems.push(`${c.kind} ${c.id}: ${c.error}`);
        else if (c.res.status === 504 && /Timeout/i.test(j.message || '')) timedOut += 1;
        else if (c.res.status === 200 && j.currentState === 'COMPLETED') completed += 1;
        else problems.push(`${c.kind} ${c.id}: HTTP ${c.res.status} ${short(c.res.raw, 200)} after ${c.ms} ms`);
    }
    if (completed > 0 && timedOut === 0 && problems.length === 0) {
        return fail(`bulk: the payer SDK's outbound POST /bulkQuotes and POST /bulkTransfers`, `a later SDK? all ${completed} completed: the harness should now read their answers`);
    }
    return check(problems.length === 0 && timedOut === ended.length && ended.length > 0,
        `bulk: the payer SDK's own ${ended.length} outbound POST /bulkQuotes and POST /bulkTransfers calls end in 504 after its REQUEST_PROCESSING_TIMEOUT_SECONDS, never hearing the callbacks the switch delivered to its inbound API (SDK 18.0.2, interop/README.md)`,
        problems.join('; ') || `${timedOut} of ${ended.length} timed out, ${completed} completed`);
}

// ---------------------------------------------------------------------------------------------
// Positions against what committed

async function positions() {
    const expected = committedCents / 100;
    // The ledger commits before the payer hears back, but read until stable to be safe.
    const deadline = Date.now() + 10000;
    let payer; let payee;
    for (;;) {
        payer = (await accounts(cfg.payer)).find((a) => a.ledgerAccountType === 'POSITION');
        payee = (await accounts(cfg.payee)).find((a) => a.ledgerAccountType === 'POSITION');
        const settled = payer && payee && money(payer.reservedValue || 0) === 0
            && cents(money(payer.value)) === committedCents && cents(money(payee.value)) === -committedCents;
        if (settled || Date.now() > deadline) break;
        await sleep(200);
    }
    check(payer && cents(money(payer.value)) === committedCents,
        `${cfg.payer} position = sum of its ${committedCount} committed payments (${expected.toFixed(2)})`,
        `position ${payer && payer.value}, expected ${expected.toFixed(2)}`);
    check(payer && money(payer.reservedValue || 0) === 0, `${cfg.payer} has nothing left reserved`, `reservedValue ${payer && payer.reservedValue}`);
    check(payee && cents(money(payee.value)) === -committedCents,
        `${cfg.payee} position = minus that (${(-expected).toFixed(2)})`,
        `position ${payee && payee.value}, expected ${(-expected).toFixed(2)}`);
    const pos = await admin('GET', `${cfg.ledger}/participants/${cfg.payer}/positions?currency=${cfg.currency}`);
    check(pos && cents(money(pos.value)) === committedCents, `GET /participants/${cfg.payer}/positions agrees`, `answered ${short(pos)}`);
    const stats = (await request('GET', `${cfg.payeeBackend}/stats`)).json || {};
    // Single transfers (POST /transfers) and the transfers of bulks it accepted (POST /bulkTransfers).
    const told = (stats.transfers || 0) + (stats.bulkTransferItems || 0);
    const toldCents = Math.round(((stats.transferAmountTotal || 0) + (stats.bulkTransferAmountTotal || 0)) * 100);
    check(told === committedCount && toldCents === committedCents,
        `${cfg.payee}'s backend was told of exactly the committed transfers (${stats.transfers}${stats.bulkTransferItems ? ` and ${stats.bulkTransferItems} in bulks` : ''})`,
        `backend saw ${stats.transfers} transfers and ${stats.bulkTransferItems} in bulks totalling ${toldCents / 100}, committed ${committedCount} totalling ${expected}`);
}

// ---------------------------------------------------------------------------------------------

async function main() {
    let registered;
    try {
        registered = await onboard();
    } catch (e) {
        fail(`onboarding ${cfg.payer} and ${cfg.payee} through the admin APIs`, e.message);
        return;
    }
    pass(`onboarding ${cfg.payer} and ${cfg.payee} through the admin APIs (${callbackEndpoints('x').length} callback endpoints each, ${registered} MSISDNs in the oracle)`);
    // The error paths first: each is one payment on its own, and they do not depend on a
    // payer SDK that a failed concurrent run may have left unable to serve lookups.
    await errorPaths();
    if (cfg.expectSigned) await forgedSignatureRefused();
    const seq = await sequential();
    if (seq === 0) {
        fail(`concurrent payments`, 'not attempted: no sequential payment went through');
    } else if (cfg.concurrentCount > 0) {
        await concurrent();
    }
    if (cfg.r2p) await requestToPayChecks();
    if (cfg.bulk) await bulkChecks();
    await positions();
}

main()
    .then(() => {
        console.log(`     ${phase}: ${passed} passed, ${failed} failed in this phase`);
        process.exit(0);
    })
    .catch((e) => {
        console.log(`FAIL ${phase}: harness error: ${e.stack || e}`);
        process.exit(2);
    });
