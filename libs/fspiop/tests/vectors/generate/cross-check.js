// Cross-checks the Rust side against Mojaloop's reference SDK, live, in the direction the
// committed vectors cannot cover: requests signed by `mojaloop jws sign` (including ES256,
// whose signatures are randomised) are validated by the SDK's JwsValidator, and ILP packets
// made by `mojaloop ilp prepare` are decoded and re-fulfilled by the SDK.
//
// Usage: node cross-check.js <path to the mojaloop binary>
// Prints one line per case and a closing "N passed, M failed" line; exits 1 on any failure.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { Jws, Ilp } = require('@mojaloop/sdk-standard-components');

const bin = process.argv[2];
if (!bin) {
    console.error('usage: node cross-check.js <mojaloop binary>');
    process.exit(2);
}
const KEYS = path.join(__dirname, '..', 'keys');
const logger = {
    child() { return this; }, push() { return this; },
    log() {}, trace() {}, debug() {}, verbose() {}, info() {}, warn() {}, error() {}, fatal() {},
};
const sorted = (v) => (Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v);
const run = (args, input) => execFileSync(bin, args, { input, encoding: 'utf8' });

let passed = 0;
let failed = 0;
const check = (name, fn) => {
    try {
        fn();
        passed += 1;
        console.log(`ok   ${name}`);
    } catch (e) {
        failed += 1;
        console.log(`FAIL ${name}: ${e && e.message}`);
    }
};

const party = (fsp, id, name) => ({
    partyIdInfo: { partyIdType: 'MSISDN', partyIdentifier: id, fspId: fsp },
    name,
    personalInfo: { complexName: { firstName: name.split(' ')[0], lastName: name.split(' ')[1] } },
});
const quoteRequest = {
    quoteId: '7c23e80c-d078-4077-8263-2c047876fcf6',
    transactionId: '85feac2f-39b2-491b-817e-4a03203d4f14',
    payer: party('perffsp-1', '19012345001', 'Zoë Ångström'),
    payee: party('perffsp-5', '19012345401', '李 小龙'),
    amountType: 'SEND',
    amount: { amount: '1234.56', currency: 'USD' },
    transactionType: { scenario: 'TRANSFER', initiator: 'PAYER', initiatorType: 'CONSUMER' },
};
const quoteResponse = { transferAmount: { amount: '1234.56', currency: 'USD' }, expiration: '2030-01-01T00:00:00.000+02:00', note: 'merci 😀' };

const requests = [
    { method: 'POST', url: 'http://switch:3002/quotes', body: quoteRequest, destination: 'perffsp-5' },
    { method: 'PUT', url: 'https://switch/fspiop/quotes/7c23e80c-d078-4077-8263-2c047876fcf6', body: quoteResponse, destination: 'perffsp-1' },
    { method: 'POST', url: 'http://switch:3000/transfers', body: { transferId: '85feac2f-39b2-491b-817e-4a03203d4f14', payerFsp: 'perffsp-1', payeeFsp: 'perffsp-5', amount: { amount: '1234.56', currency: 'USD' }, ilpPacket: 'AYIBgQAAAAAAAASw', condition: 'GRzLaTP7DJ9t4P-a_BA0WA9wzzlsugf00-Tn6kESAfM', expiration: '2030-01-01T00:00:00.000Z' }, destination: 'perffsp-5' },
    { method: 'PUT', url: 'http://switch:3000/transfers/85feac2f-39b2-491b-817e-4a03203d4f14', body: { fulfilment: 'UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA', completedTimestamp: '2030-01-01T00:00:00.000Z', transferState: 'COMMITTED' } },
    { method: 'PUT', url: 'http://switch:4002/parties/MSISDN/19012345401', body: { party: quoteRequest.payee }, destination: 'perffsp-1' },
];

for (const [alg, privateKey, publicKey] of [['RS256', 'rsa-private.pem', 'rsa-public.pem'], ['ES256', 'ec-private.pem', 'ec-public.pem']]) {
    const validator = new Jws.validator({ validationKeys: { 'perffsp-1': fs.readFileSync(path.join(KEYS, publicKey), 'utf8'), 'perffsp-5': fs.readFileSync(path.join(KEYS, publicKey), 'utf8') }, logger });
    for (const request of requests) {
        const source = request.method === 'POST' ? 'perffsp-1' : 'perffsp-5';
        const headers = { 'content-type': 'application/json', date: 'Thu, 24 Jan 2030 10:00:00 GMT', 'fspiop-source': source };
        if (request.destination) headers['fspiop-destination'] = request.destination;
        check(`${alg} ${request.method} ${request.url}`, () => {
            const signed = JSON.parse(run(['jws', 'sign', '--key', path.join(KEYS, privateKey), '--alg', alg], JSON.stringify({ method: request.method, url: request.url, headers, body: request.body })));
            validator.validate({ headers: signed.headers, body: JSON.parse(signed.body) });
        });
    }
}

for (const version of ['v4', 'v1']) {
    const secret = 'cross-check secret é';
    check(`ILP ${version} packet made by Rust, read and fulfilled by the SDK`, () => {
        const made = JSON.parse(run(['ilp', 'prepare', '--secret', secret, '--ilp-version', version], JSON.stringify({ quoteRequest, quoteResponse })));
        const ilp = Ilp.ilpFactory(Ilp.ILP_VERSIONS[version], { secret, logger });
        const sdkMade = ilp.getQuoteResponseIlp(quoteRequest, quoteResponse);
        if (made.ilpPacket !== sdkMade.ilpPacket) throw new Error('packets differ');
        if (ilp.calculateFulfil(made.ilpPacket) !== made.fulfilment) throw new Error('fulfilments differ');
        if (!ilp.validateFulfil(made.fulfilment, made.condition)) throw new Error('SDK rejects the condition');
        const tx = ilp.getTransactionObject(made.ilpPacket);
        if (JSON.stringify(sorted(tx)) !== JSON.stringify(sorted(made.transactionObject))) throw new Error('transaction objects differ: ' + JSON.stringify(tx).slice(0, 300) + ' vs ' + JSON.stringify(made.transactionObject).slice(0, 300));
    });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
