#!/usr/bin/env node
// Onboards two DFSPs on a running `mojaloop up` through its admin APIs, then pays through the
// payer's sdk-scheme-adapter outbound API, then has the payee request a payment (request to pay:
// the SDKs' inbound sides and backends answer; what SDK 18.0.2's outbound API cannot send
// validly, the harness sends as those DFSPs) and checks the outcomes (see interop/README.md).
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
            // The first message on `channel`, waiting up to `ms` for it; undefined if none came.
            next(channel, ms) {
                const have = messages.get(channel);
                if (have && have.length) return Promise.resolve(have[0]);
                return new Promise((done) => {
                    const w = { channel, done };
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
                    if (waiters[i].channel === channel) { waiters[i].done(message); waiters.splice(i, 1); }
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
        accept: `application/vnd.interoperability.${resource}+json;version=${version.split('.')[0]}`,
        date, 'fspiop-source': source, 'fspiop-destination': destination,
        'content-length': Buffer.byteLength(text),
    };
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
    check(stats.transfers === committedCount && Math.round(stats.transferAmountTotal * 100) === committedCents,
        `${cfg.payee}'s backend was told of exactly the committed transfers (${stats.transfers})`,
        `backend saw ${stats.transfers} transfers totalling ${stats.transferAmountTotal}, committed ${committedCount} totalling ${expected}`);
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
