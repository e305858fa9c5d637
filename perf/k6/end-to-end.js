// End-to-end payments (lookup → quote → transfer) through the simulated DFSPs' payer API,
// at an open arrival rate. See README.md beside this file.
//
//   k6 run -e SIM_URL=http://127.0.0.1:4100 -e RATE=100 -e DURATION=60s perf/k6/end-to-end.js
//
// Environment:
//   SIM_URL            the simulators' payer API            (default http://127.0.0.1:4100)
//   RATE               payments started per second          (default 100)
//   DURATION           how long to hold RATE                (default 60s)
//   PRE_ALLOCATED_VUS  VUs created before the start         (default max(10, RATE))
//   MAX_VUS            VUs k6 may add when payments are slow (default max(50, 5 × RATE))
//   EXECUTOR           constant-arrival-rate (default) or ramping-arrival-rate
//   RAMP               with ramping-arrival-rate: time to climb from 0 to RATE (default 30s)

import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';

const SIM_URL = (__ENV.SIM_URL || 'http://127.0.0.1:4100').replace(/\/+$/, '');
const RATE = positiveInt(__ENV.RATE, 100);
const DURATION = __ENV.DURATION || '60s';
const PRE_ALLOCATED_VUS = positiveInt(__ENV.PRE_ALLOCATED_VUS, Math.max(10, RATE));
const MAX_VUS = Math.max(PRE_ALLOCATED_VUS, positiveInt(__ENV.MAX_VUS, Math.max(50, 5 * RATE)));
const EXECUTOR = __ENV.EXECUTOR || 'constant-arrival-rate';
const RAMP = __ENV.RAMP || '30s';

// DFSP layout: perffsp-1..4 pay, perffsp-5..8 are paid; perffsp-N owns 19012345{N-1}00..99.
const PAYERS = [1, 2, 3, 4];
const PAYEES = [5, 6, 7, 8];
const ALL_DFSPS = PAYERS.concat(PAYEES);

const lookupMs = new Trend('lookup_ms', true);
const quoteMs = new Trend('quote_ms', true);
const transferMs = new Trend('transfer_ms', true);
const endToEndMs = new Trend('end_to_end_ms', true);
const paymentErrors = new Counter('payment_errors');
const paymentFailed = new Rate('payment_failed');

function positiveInt(text, fallback) {
  const value = parseInt(text, 10);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function scenario() {
  const common = {
    exec: 'pay',
    timeUnit: '1s',
    preAllocatedVUs: PRE_ALLOCATED_VUS,
    maxVUs: MAX_VUS,
  };
  if (EXECUTOR === 'ramping-arrival-rate') {
    return Object.assign(common, {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      stages: [
        { target: RATE, duration: RAMP },
        { target: RATE, duration: DURATION },
      ],
    });
  }
  if (EXECUTOR !== 'constant-arrival-rate') {
    throw new Error(`EXECUTOR must be constant-arrival-rate or ramping-arrival-rate, not ${EXECUTOR}`);
  }
  return Object.assign(common, {
    executor: 'constant-arrival-rate',
    rate: RATE,
    duration: DURATION,
  });
}

export const options = {
  scenarios: { end_to_end: scenario() },
  thresholds: {
    lookup_ms: ['p(99)<1000'],
    quote_ms: ['p(99)<1000'],
    transfer_ms: ['p(99)<1000'],
    end_to_end_ms: ['p(99)<1000'],
    payment_failed: ['rate<0.01'],
  },
  summaryTrendStats: ['count', 'avg', 'med', 'p(95)', 'p(99)', 'max'],
};

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

/** A random MSISDN of perffsp-`n`. */
function msisdnOf(n) {
  const customer = Math.floor(Math.random() * 100);
  return `19012345${n - 1}${customer < 10 ? '0' : ''}${customer}`;
}

/** Stops before the load when a simulated DFSP does not answer. */
export function setup() {
  const missing = ALL_DFSPS.filter((n) => {
    const res = http.get(`${SIM_URL}/perffsp-${n}/health`, { tags: { name: 'health' } });
    return res.status !== 200;
  });
  if (missing.length > 0) {
    exec.test.abort(
      `${SIM_URL} does not simulate ${missing.map((n) => `perffsp-${n}`).join(', ')}: ` +
        'start it with `mojaloop up --dfsps 8` and provision with `mojaloop provision`',
    );
  }
}

function body(res) {
  try {
    return res.json();
  } catch (_) {
    return null;
  }
}

/** The code a failed payment is counted under. */
function errorCode(res, json) {
  if (res.status === 0) return 'network';
  const error = json && json.error;
  if (res.status === 404) return 'unknownPayer';
  if (res.status === 422 && error) {
    if (error.kind === 'fspiop' && error.errorCode) return String(error.errorCode);
    return String(error.kind || 'other');
  }
  return `http_${res.status}`;
}

export function pay() {
  const payer = pick(PAYERS);
  const payee = pick(PAYEES);
  const res = http.post(
    `${SIM_URL}/perffsp-${payer}/pay`,
    JSON.stringify({ payeeMsisdn: msisdnOf(payee), amount: '1', payerMsisdn: msisdnOf(payer) }),
    {
      headers: { 'Content-Type': 'application/json' },
      tags: { name: 'POST /{payer}/pay' },
      // 422 is a payment that stopped, counted below, not a transport failure.
      responseCallback: http.expectedStatuses(200, 422),
    },
  );
  const json = body(res);
  const ok = res.status === 200 && json !== null && typeof json.transferMs === 'number';
  if (ok) {
    lookupMs.add(json.lookupMs);
    quoteMs.add(json.quoteMs);
    transferMs.add(json.transferMs);
    endToEndMs.add(json.lookupMs + json.quoteMs + json.transferMs);
    check(json, { 'transfer committed': (j) => j.transferState === 'COMMITTED' });
  } else {
    const error = json && json.error;
    paymentErrors.add(1, {
      code: errorCode(res, json),
      phase: (error && error.phase) || 'none',
    });
  }
  paymentFailed.add(!ok);
}
