#!/usr/bin/env node
// Onboards two DFSPs on a running `mojaloop up` through its admin APIs, then pays through the
// payer's sdk-scheme-adapter outbound API and checks the outcomes (see interop/README.md).
//
//   node harness.js <phase-name>      configuration from the environment (run.sh sets it)
//
// Prints one line per check, `PASS <phase>: <what>` or `FAIL <phase>: <what>: <why>`, and
// exits 0 when it got as far as the end (the checks' verdicts are in those lines), 2 when it
// could not run at all.

'use strict';

const http = require('http');
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
    // The payer's inbound API must be registered where the switch reads it.
    const endpoints = await admin('GET', `${L}/participants/${cfg.payer}/endpoints`);
    if (!Array.isArray(endpoints) || endpoints.length < callbackEndpoints('x').length) {
        throw new Error(`${cfg.payer}'s endpoints were not all recorded: ${short(endpoints)}`);
    }
    return msisdns.length;
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
    pass(`onboarding ${cfg.payer} and ${cfg.payee} through the admin APIs (21 callback endpoints each, ${registered} MSISDNs in the oracle)`);
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
