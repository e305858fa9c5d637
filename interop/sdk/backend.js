#!/usr/bin/env node
// The DFSP backend the sdk-scheme-adapter's inbound side calls (its "backend API"), as a test
// double: one process per DFSP, plain Node, no dependencies.
//
//   node backend.js --port 17020 --fsp perffsp-5 [--unknown 27710599999,...] [--refuse-amount 13,...]
//                   [--reject-request-amount 6.66,...] [--refuse-bulk-transfer-amount 8.88,...]
//
//   GET  /parties/{idType}/{idValue}[/{subId}]  the party, or 404 {statusCode: "3204"} for an
//                                               --unknown identifier
//   POST /quoterequests                         a quote for the amount asked (no fees), or 400
//                                               {statusCode: "5101"} for a --refuse-amount amount
//   POST /transfers                             accepted: {homeTransactionId}
//   PUT  /transfers/{transferId}                a notification: 200
//   GET  /transfers/{transferId}                what this backend accepted for it, or 404
//   POST /transactionrequests                   a payee's request to pay, as the payer's DFSP sees
//                                               it: RECEIVED with a new transactionId, or REJECTED
//                                               for a --reject-request-amount amount; recorded
//   GET  /transactionrequests/{id}              what it was asked and answered, or 404
//   GET  /otp/{transactionRequestId}            a new OTP (the payee's device, for an authorization)
//   GET  /otps/{transactionRequestId}           the OTPs it gave for that request, or 404
//   POST /bulkQuotes                            a bulk quote: each quote for the amount asked, fees
//                                               0; 404 {statusCode: "3204"} for the whole bulk when
//                                               a payee is --unknown (the SDK's backend API has no
//                                               per-quote error)
//   POST /bulkTransfers                         a bulk transfer: {homeTransactionId,
//                                               individualTransferResults} listing the transfers it
//                                               accepts; one of a --refuse-bulk-transfer-amount
//                                               amount is left out (SDK 18.0.2 makes a fulfilment for
//                                               every result listed, whatever it says, so leaving it
//                                               out is the only refusal it passes on); recorded
//   GET  /bulkTransfers/{bulkTransferId}        what it was told of that bulk and what it accepted
//   GET  /stats                                 how many of each call it answered, and the
//                                               transfers it accepted (sum of their amounts; those
//                                               of bulk transfers counted apart)
//   GET  /health                                200
//
// The SDK maps an error answer's `statusCode` to the FSPIOP error it sends back through the
// switch (`message` becomes the errorDescription).

'use strict';

const http = require('http');
const crypto = require('crypto');

function parseArgs(argv) {
    const args = {
        port: 0, fsp: '', unknown: new Set(), refuseAmounts: new Set(), rejectRequestAmounts: new Set(),
        refuseBulkTransferAmounts: new Set(), host: '127.0.0.1',
    };
    for (let i = 2; i < argv.length; i += 1) {
        const name = argv[i];
        const value = argv[i + 1];
        if (value === undefined) throw new Error(`${name} needs a value`);
        i += 1;
        switch (name) {
        case '--port': args.port = Number(value); break;
        case '--host': args.host = value; break;
        case '--fsp': args.fsp = value; break;
        case '--unknown': value.split(',').filter(Boolean).forEach((v) => args.unknown.add(v)); break;
        case '--refuse-amount': value.split(',').filter(Boolean).forEach((v) => args.refuseAmounts.add(normalAmount(v))); break;
        case '--reject-request-amount': value.split(',').filter(Boolean).forEach((v) => args.rejectRequestAmounts.add(normalAmount(v))); break;
        case '--refuse-bulk-transfer-amount': value.split(',').filter(Boolean).forEach((v) => args.refuseBulkTransferAmounts.add(normalAmount(v))); break;
        default: throw new Error(`unknown argument ${name}`);
        }
    }
    if (!Number.isInteger(args.port) || args.port <= 0 || args.port > 65535) throw new Error('--port is required');
    if (!args.fsp) throw new Error('--fsp is required');
    return args;
}

// "13", "13.0" and "13.00" are the same amount.
function normalAmount(value) {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`not an amount: ${value}`);
    return String(n);
}

const args = parseArgs(process.argv);
const stats = {
    parties: 0, partiesUnknown: 0, quotes: 0, quotesRefused: 0, transfers: 0, notifications: 0, transferAmountTotal: 0,
    transactionRequests: 0, transactionRequestsRejected: 0, otps: 0,
    bulkQuotes: 0, bulkQuotesRefused: 0, bulkTransfers: 0, bulkTransferItems: 0, bulkTransferItemsRefused: 0,
    bulkTransferAmountTotal: 0,
};
const transfers = new Map();
const transactionRequests = new Map(); // transactionRequestId -> { request, answer }
const otps = new Map(); // transactionRequestId -> [otpValue, ...]
const bulkTransfers = new Map(); // bulkTransferId -> { request, accepted: [transferId, ...], refused: [...] }

function send(res, status, body) {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
}

function readBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (!text) return resolve(undefined);
            try { resolve(JSON.parse(text)); } catch (e) { reject(new Error(`body is not JSON: ${e.message}`)); }
        });
        req.on('error', reject);
    });
}

function party(idType, idValue, idSubValue) {
    // A name the SDK carries into PUT /parties as personalInfo.complexName and name.
    const suffix = idValue.slice(-4);
    return {
        idType,
        idValue,
        ...(idSubValue ? { idSubValue } : {}),
        displayName: `Payee ${suffix} at ${args.fsp}`,
        firstName: 'Payee',
        lastName: `Number${suffix}`,
        dateOfBirth: '1980-01-01',
    };
}

async function handle(req, res) {
    const url = new URL(req.url, 'http://backend');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method;
    const body = (method === 'POST' || method === 'PUT') ? await readBody(req) : undefined;

    if (method === 'GET' && parts.length === 1 && parts[0] === 'health') return send(res, 200, { status: 'OK' });
    if (method === 'GET' && parts.length === 1 && parts[0] === 'stats') return send(res, 200, stats);

    if (method === 'GET' && parts[0] === 'parties' && (parts.length === 3 || parts.length === 4)) {
        const [, idType, idValue, idSubValue] = parts;
        if (args.unknown.has(idValue)) {
            stats.partiesUnknown += 1;
            return send(res, 404, { statusCode: '3204', message: `${args.fsp} has no party ${idType} ${idValue}` });
        }
        stats.parties += 1;
        return send(res, 200, party(idType, idValue, idSubValue));
    }

    if (method === 'POST' && parts.length === 1 && parts[0] === 'quoterequests') {
        if (!body || !body.quoteId || !body.amount || !body.currency) {
            return send(res, 400, { statusCode: '3100', message: 'quote request without quoteId, amount or currency' });
        }
        if (args.refuseAmounts.has(normalAmount(body.amount))) {
            stats.quotesRefused += 1;
            return send(res, 400, { statusCode: '5101', message: `${args.fsp} refuses to receive ${body.amount} ${body.currency}` });
        }
        stats.quotes += 1;
        // Receive exactly what is sent: no fees, no commission.
        return send(res, 200, {
            quoteId: body.quoteId,
            transactionId: body.transactionId,
            transferAmount: body.amount,
            transferAmountCurrency: body.currency,
            payeeReceiveAmount: body.amount,
            payeeReceiveAmountCurrency: body.currency,
        });
    }

    if (method === 'POST' && parts.length === 1 && parts[0] === 'transfers') {
        if (!body || !body.transferId) return send(res, 400, { statusCode: '3100', message: 'transfer without transferId' });
        const homeTransactionId = crypto.randomUUID();
        if (!transfers.has(body.transferId)) {
            stats.transfers += 1;
            stats.transferAmountTotal += Number(body.amount) || 0;
        }
        transfers.set(body.transferId, { homeTransactionId, amount: body.amount, currency: body.currency });
        return send(res, 200, { homeTransactionId });
    }

    if (method === 'PUT' && parts.length === 2 && parts[0] === 'transfers') {
        stats.notifications += 1;
        return send(res, 200, {});
    }

    if (method === 'GET' && parts.length === 2 && parts[0] === 'transfers') {
        const t = transfers.get(parts[1]);
        if (!t) return send(res, 404, { statusCode: '3208', message: 'transfer not found' });
        return send(res, 200, { transferId: parts[1], ...t, transferState: 'COMMITTED' });
    }

    if (method === 'GET' && parts.length === 2 && parts[0] === 'otp') {
        const otpValue = String(crypto.randomInt(100000, 999999));
        stats.otps += 1;
        otps.set(parts[1], (otps.get(parts[1]) || []).concat([otpValue]));
        return send(res, 200, { otpValue });
    }

    if (method === 'GET' && parts.length === 2 && parts[0] === 'otps') {
        const given = otps.get(parts[1]);
        if (!given) return send(res, 404, { statusCode: '3002', message: `no OTP given for ${parts[1]}` });
        return send(res, 200, { transactionRequestId: parts[1], otpValues: given });
    }

    if (method === 'POST' && parts.length === 1 && parts[0] === 'transactionrequests') {
        if (!body || !body.transactionRequestId || !body.amount || !body.currency) {
            return send(res, 400, { statusCode: '3100', message: 'transaction request without transactionRequestId, amount or currency' });
        }
        const rejected = args.rejectRequestAmounts.has(normalAmount(body.amount));
        const answer = { transactionId: crypto.randomUUID(), transactionRequestState: rejected ? 'REJECTED' : 'RECEIVED' };
        if (!transactionRequests.has(body.transactionRequestId)) {
            stats.transactionRequests += 1;
            if (rejected) stats.transactionRequestsRejected += 1;
        }
        transactionRequests.set(body.transactionRequestId, { request: body, answer });
        return send(res, 200, answer);
    }

    if (method === 'GET' && parts.length === 2 && parts[0] === 'transactionrequests') {
        const t = transactionRequests.get(parts[1]);
        if (!t) return send(res, 404, { statusCode: '3002', message: `no transaction request ${parts[1]}` });
        return send(res, 200, t);
    }

    if (method === 'POST' && parts.length === 1 && parts[0] === 'bulkQuotes') {
        // The SDK's internal form: {bulkQuoteId, from, individualQuotes: [{quoteId, transactionId,
        // to: {idType, idValue, fspId}, amountType, amount, currency, ...}], expiration}.
        const quotes = body && Array.isArray(body.individualQuotes) ? body.individualQuotes : undefined;
        if (!body || !body.bulkQuoteId || !quotes || quotes.length === 0
            || quotes.some((q) => !q || !q.quoteId || !q.amount || !q.currency || !q.to)) {
            return send(res, 400, { statusCode: '3100', message: 'bulk quote without bulkQuoteId or with a quote without quoteId, amount, currency or payee' });
        }
        const unknown = quotes.find((q) => args.unknown.has(q.to.idValue));
        if (unknown) {
            stats.bulkQuotesRefused += 1;
            return send(res, 404, { statusCode: '3204', message: `${args.fsp} has no party ${unknown.to.idType} ${unknown.to.idValue}` });
        }
        stats.bulkQuotes += 1;
        // Receive exactly what is sent: fees 0, no commission.
        return send(res, 200, {
            bulkQuoteId: body.bulkQuoteId,
            individualQuoteResults: quotes.map((q) => ({
                quoteId: q.quoteId,
                transactionId: q.transactionId,
                transferAmount: q.amount,
                transferAmountCurrency: q.currency,
                payeeReceiveAmount: q.amount,
                payeeReceiveAmountCurrency: q.currency,
                payeeFspFeeAmount: '0',
                payeeFspFeeAmountCurrency: q.currency,
            })),
        });
    }

    if (method === 'POST' && parts.length === 1 && parts[0] === 'bulkTransfers') {
        // The SDK's internal form: {bulkTransferId, individualTransfers: [{transferId, amount,
        // currency, ...}], ...}; the answer lists the transfers accepted.
        const items = body && Array.isArray(body.individualTransfers) ? body.individualTransfers : undefined;
        if (!body || !body.bulkTransferId || !items) {
            return send(res, 400, { statusCode: '3100', message: 'bulk transfer without bulkTransferId or individualTransfers' });
        }
        const accepted = [];
        const refused = [];
        for (const t of items) {
            if (!t || !t.transferId) continue; // nothing to answer for
            if (t.amount !== undefined && args.refuseBulkTransferAmounts.has(normalAmount(t.amount))) refused.push(t);
            else accepted.push(t);
        }
        if (!bulkTransfers.has(body.bulkTransferId)) {
            stats.bulkTransfers += 1;
            stats.bulkTransferItems += accepted.length;
            stats.bulkTransferItemsRefused += refused.length;
            stats.bulkTransferAmountTotal += accepted.reduce((sum, t) => sum + (Number(t.amount) || 0), 0);
        }
        const homeTransactionId = crypto.randomUUID();
        bulkTransfers.set(body.bulkTransferId, {
            request: body, homeTransactionId,
            accepted: accepted.map((t) => t.transferId), refused: refused.map((t) => t.transferId),
        });
        return send(res, 200, {
            homeTransactionId,
            individualTransferResults: accepted.map((t) => ({ transferId: t.transferId })),
        });
    }

    if (method === 'GET' && parts.length === 2 && parts[0] === 'bulkTransfers') {
        const b = bulkTransfers.get(parts[1]);
        if (!b) return send(res, 404, { statusCode: '3208', message: `no bulk transfer ${parts[1]}` });
        return send(res, 200, { bulkTransferId: parts[1], ...b });
    }

    return send(res, 404, { statusCode: '3002', message: `${method} ${url.pathname} is not a backend route` });
}

const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
        if (!res.headersSent) send(res, 400, { statusCode: '3100', message: e.message });
    });
});
server.keepAliveTimeout = 65000;
server.listen(args.port, args.host, () => {
    console.log(`backend for ${args.fsp} listening on ${args.host}:${args.port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => server.close(() => process.exit(0)));
}
