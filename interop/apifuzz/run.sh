#!/usr/bin/env bash
# Schema-driven API fuzzing of the running switch (see interop/apifuzz/README.md).
#
#   interop/apifuzz/run.sh [path to the mojaloop binary]
#
# The binary: the argument, else $MOJALOOP_BIN, else target/release/mojaloop. Starts
# `mojaloop up --dfsps 8 --test-transaction` on its own databases and ports, then drives every
# FSPIOP operation the switch serves with schemathesis from Mojaloop's own API definitions (npm
# @mojaloop/api-snippets, FSPIOP 2.0 and 1.1), service by service, and the admin APIs from
# admin-openapi.yaml. Fails (exit 1) on any
# schemathesis failure, on a service that no longer answers /health, on a switch that died, or
# on a DFSP account whose value changed during the FSPIOP fuzzing (nothing the fuzz sends can
# commit money; see the README).
#
# Settings (environment):
#   APIFUZZ_MAX_EXAMPLES      generated cases per operation (default 50)
#   APIFUZZ_SEED              unset (default): derandomized, the same requests every run;
#                             a number: a seeded random run
#   APIFUZZ_PHASES            default examples,coverage,fuzzing (2.0 definition and admin
#                             APIs) and examples,fuzzing (1.1 definition)
#   APIFUZZ_WORKERS           default 1
#   APIFUZZ_REQUEST_TIMEOUT_S a slower answer is a failure (default 10)
#   APIFUZZ_ONLY              a regex of the runs to do, e.g. 'quoting|als-v20' (default all)
#   APIFUZZ_PORT_OFFSET       default 700
#   DATABASE_URL              default mysql://root@127.0.0.1:3306
#
# Writes to ${XDG_CACHE_HOME:-$HOME/.cache}/mojaloop-ci: apifuzz/ (schemathesis from PyPI and the
# npm package, cached) and apifuzz-last-run/ (this run's logs and reports, replaced each run).
# Every wait is bounded; on exit it stops the switch it started (by PID) and drops the
# databases it created (apifuzz_<run>_*).

set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

SCHEMATHESIS_VERSION=4.32.5
API_SNIPPETS_VERSION=18.4.1
CENTRAL_LEDGER_NPM_VERSION=19.5.5
INSTALL_TIMEOUT_S=600
SWITCH_READY_TIMEOUT_S=180
SERVICE_TIMEOUT_S=300
SETTLE_TIMEOUT_S=60
STOP_TIMEOUT_S=20

BINARY_ARG="${1:-${MOJALOOP_BIN:-$ROOT/target/release/mojaloop}}"
OFFSET="${APIFUZZ_PORT_OFFSET:-700}"
MAX_EXAMPLES="${APIFUZZ_MAX_EXAMPLES:-50}"
SEED="${APIFUZZ_SEED:-}"
WORKERS="${APIFUZZ_WORKERS:-1}"
REQUEST_TIMEOUT_S="${APIFUZZ_REQUEST_TIMEOUT_S:-10}"
PHASES="${APIFUZZ_PHASES:-}"
ONLY="${APIFUZZ_ONLY:-}"
DATABASE_URL="${DATABASE_URL:-mysql://root@127.0.0.1:3306}"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/mojaloop-ci"
TOOLS="$CACHE_DIR/apifuzz"
OUT="$CACHE_DIR/apifuzz-last-run"
DFSPS=(perffsp-1 perffsp-2 perffsp-3 perffsp-4 perffsp-5 perffsp-6 perffsp-7 perffsp-8)

SWITCH_PID=""
CHILD_PID=""
DATABASES=()
RUN_START_S=$SECONDS

log() { printf '[apifuzz] %s\n' "$*"; }
die() { printf '[apifuzz] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -x "$BINARY_ARG" ]] || die "$BINARY_ARG is not an executable (give the mojaloop binary)"
BINARY="$(cd "$(dirname "$BINARY_ARG")" && pwd)/$(basename "$BINARY_ARG")"
for tool in python3 npm tar curl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done
SQL_CLIENT=""
if command -v mariadb >/dev/null 2>&1; then SQL_CLIENT=mariadb
elif command -v mysql >/dev/null 2>&1; then SQL_CLIENT=mysql
else die "a mariadb or mysql client is needed (databases, the ledger's transfer states)"; fi

if [[ ! "$DATABASE_URL" =~ ^mysql://([^:@/]+)(:([^@/]*))?@([^:/]+)(:([0-9]+))?/?$ ]]; then
  die "DATABASE_URL must look like mysql://user[:password]@host[:port], not $DATABASE_URL"
fi
DB_USER="${BASH_REMATCH[1]}"
DB_PASSWORD="${BASH_REMATCH[3]}"
DB_HOST="${BASH_REMATCH[4]}"
DB_PORT="${BASH_REMATCH[6]:-3306}"

sql() {
  MYSQL_PWD="$DB_PASSWORD" timeout 30 "$SQL_CLIENT" --protocol=TCP -h "$DB_HOST" -P "$DB_PORT" \
    -u "$DB_USER" --connect-timeout=5 -N -B -e "$1"
}

port() { echo $(($1 + OFFSET)); }

stop_switch() {
  local waited=0
  [[ -n "$SWITCH_PID" ]] || return 0
  if kill -0 "$SWITCH_PID" 2>/dev/null; then
    log "stopping the switch (pid $SWITCH_PID)"
    kill -TERM "$SWITCH_PID" 2>/dev/null || true
    while kill -0 "$SWITCH_PID" 2>/dev/null && (( waited < STOP_TIMEOUT_S * 10 )); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$SWITCH_PID" 2>/dev/null; then
      log "the switch did not stop within ${STOP_TIMEOUT_S} s; killing it"
      kill -KILL "$SWITCH_PID" 2>/dev/null || true
    fi
  fi
  wait "$SWITCH_PID" 2>/dev/null || true
  SWITCH_PID=""
}

drop_databases() {
  local db
  for db in "${DATABASES[@]}"; do
    sql "DROP DATABASE IF EXISTS \`$db\`" || log "could not drop database $db"
  done
  DATABASES=()
}

# Runs a command in the background and waits for it, so that a signal to this script is
# handled at once (bash runs traps only between foreground commands); cleanup stops it.
run_child() {
  local status=0
  "$@" &
  CHILD_PID=$!
  wait "$CHILD_PID" || status=$?
  CHILD_PID=""
  return "$status"
}

cleanup() {
  local status=$?
  set +e
  if [[ -n "$CHILD_PID" ]]; then
    kill -TERM "$CHILD_PID" 2>/dev/null
    wait "$CHILD_PID" 2>/dev/null
  fi
  stop_switch
  drop_databases
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sql 'SELECT 1' >/dev/null || die "no MySQL server answers at $DATABASE_URL"
for base in 3000 3001 3002 3007 4001 4002 4003 4006 4100; do
  if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$(port $base)" 2>/dev/null; then
    die "port $(port $base) is in use (port offset $OFFSET); set APIFUZZ_PORT_OFFSET"
  fi
done

# ---- tools (cached) ---------------------------------------------------------------------------
mkdir -p "$TOOLS"
ST_DIR="$TOOLS/python-schemathesis-$SCHEMATHESIS_VERSION"
schemathesis() { PYTHONPATH="$ST_DIR:$HERE" python3 -m schemathesis.cli "$@"; }
if ! schemathesis --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $ST_DIR"
  rm -rf "$ST_DIR" && mkdir -p "$ST_DIR"
  timeout "$INSTALL_TIMEOUT_S" python3 -m pip install --quiet --disable-pip-version-check \
    --no-warn-script-location --root-user-action=ignore --target "$ST_DIR" \
    "schemathesis==$SCHEMATHESIS_VERSION" || { rm -rf "$ST_DIR"; die "pip install schemathesis failed"; }
fi
SNIPPETS="$TOOLS/api-snippets-$API_SNIPPETS_VERSION"
if [[ ! -f "$SNIPPETS/package/docs/fspiop-rest-v2.0-openapi3-snippets.yaml" ]]; then
  log "fetching @mojaloop/api-snippets@$API_SNIPPETS_VERSION from npm"
  rm -rf "$SNIPPETS" && mkdir -p "$SNIPPETS"
  (
    cd "$SNIPPETS"
    timeout "$INSTALL_TIMEOUT_S" npm pack --silent "@mojaloop/api-snippets@$API_SNIPPETS_VERSION" >/dev/null
    tar xzf mojaloop-api-snippets-*.tgz
  ) || { rm -rf "$SNIPPETS"; die "could not fetch @mojaloop/api-snippets from npm"; }
fi
# Mojaloop's central ledger publishes its admin API's Swagger 2.0 description in its npm package.
LEDGER_NPM="$TOOLS/central-ledger-$CENTRAL_LEDGER_NPM_VERSION"
if [[ ! -f "$LEDGER_NPM/package/src/api/interface/swagger.json" ]]; then
  log "fetching @mojaloop/central-ledger@$CENTRAL_LEDGER_NPM_VERSION from npm (its admin API description)"
  rm -rf "$LEDGER_NPM" && mkdir -p "$LEDGER_NPM"
  (
    cd "$LEDGER_NPM"
    timeout "$INSTALL_TIMEOUT_S" npm pack --silent "@mojaloop/central-ledger@$CENTRAL_LEDGER_NPM_VERSION" >/dev/null
    tar xzf mojaloop-central-ledger-*.tgz package/src/api/interface/swagger.json
    rm -f mojaloop-central-ledger-*.tgz
  ) || { rm -rf "$LEDGER_NPM"; die "could not fetch @mojaloop/central-ledger from npm"; }
fi
LEDGER_SWAGGER="$LEDGER_NPM/package/src/api/interface/swagger.json"
DEF_20="$SNIPPETS/package/docs/fspiop-rest-v2.0-openapi3-snippets.yaml"
DEF_11="$SNIPPETS/package/docs/fspiop-rest-v1.1-openapi3-snippets.yaml"
[[ -f "$DEF_11" ]] || die "$DEF_11 is missing from the npm package"

rm -rf "$OUT"
mkdir -p "$OUT"

# ---- the switch -------------------------------------------------------------------------------
run="$(date +%s)_$$"
prefix="apifuzz_${run}"
DATABASES=("${prefix}_cl" "${prefix}_q" "${prefix}_als" "${prefix}_or" "${prefix}_tr")
url() { echo "http://127.0.0.1:$(port "$1")"; }
# The ledger's own check of a prepare's ILP packet (Mojaloop's ledger does not read the packet)
# is off: a fuzzed transfer between two DFSPs of the run is then reserved against its payer's
# position, sent to its payee and refused there (the simulator fulfils only packets it made),
# so the accounts check below sees reservations come and go instead of transfers refused
# before any reservation.
: >"$OUT/switch.log"
env -u MOJALOOP_KAFKA_BROKERS \
  CENTRAL_LEDGER__TRANSFERS__ILP_CHECK=false \
  CENTRAL_LEDGER__DATABASE__NAME="${prefix}_cl" \
  QUOTING_SERVICE__QUOTES_DATABASE__NAME="${prefix}_q" \
  ALS__DATABASE__NAME="${prefix}_als" \
  ORACLE__DATABASE__NAME="${prefix}_or" \
  TRANSACTION_REQUESTS_SERVICE__TRANSACTION_REQUESTS_DATABASE__NAME="${prefix}_tr" \
  MOJALOOP_CENTRAL_LEDGER_DATABASE="${prefix}_cl" \
  DATABASE_URL="$DATABASE_URL" \
  MOJALOOP_ML_API_ADAPTER_URL="$(url 3000)" \
  MOJALOOP_CENTRAL_LEDGER_URL="$(url 3001)" \
  MOJALOOP_CENTRAL_SETTLEMENT_URL="$(url 3007)" \
  MOJALOOP_QUOTING_SERVICE_URL="$(url 3002)" \
  MOJALOOP_ALS_ADMIN_URL="$(url 4001)" \
  MOJALOOP_ALS_URL="$(url 4002)" \
  MOJALOOP_ORACLE_URL="$(url 4003)" \
  MOJALOOP_TRANSACTION_REQUESTS_URL="$(url 4006)" \
  MOJALOOP_SIM_URL="$(url 4100)" \
  MOJALOOP_SIM_CALLBACK_URL="$(url 4100)" \
  NO_COLOR=1 \
  "$BINARY" up --database-url "$DATABASE_URL" --dfsps 8 --port-offset "$OFFSET" \
  --test-transaction >"$OUT/switch.log" 2>&1 &
SWITCH_PID=$!
log "mojaloop up --dfsps 8 --port-offset $OFFSET (pid $SWITCH_PID) on databases ${prefix}_*; log $OUT/switch.log"
waited=0
until grep -q "test transaction committed" "$OUT/switch.log"; do
  kill -0 "$SWITCH_PID" 2>/dev/null || { tail -n 30 "$OUT/switch.log"; die "mojaloop up exited during start-up"; }
  if grep -qE "test transaction failed|could not be onboarded" "$OUT/switch.log"; then
    tail -n 30 "$OUT/switch.log"; die "the switch did not start"
  fi
  (( waited < SWITCH_READY_TIMEOUT_S * 2 )) \
    || { tail -n 30 "$OUT/switch.log"; die "no test transaction within ${SWITCH_READY_TIMEOUT_S} s"; }
  sleep 0.5
  waited=$((waited + 1))
done
log "the switch is up and committed its test transaction after ~$((waited / 2)) s"

HEALTH_PORTS=(3000 3001 3002 3007 4001 4002 4003 4006)
check_health() {
  local base bad=0
  for base in "${HEALTH_PORTS[@]}"; do
    if ! curl -sf -o /dev/null --max-time 5 "$(url "$base")/health"; then
      log "FAILED: /health on port $(port "$base") does not answer OK"
      bad=1
    fi
  done
  return "$bad"
}
check_health || die "the switch is not healthy before fuzzing"

# Every account (type, currency, value) of every DFSP, one line each, sorted.
snapshot() {
  local dfsp
  for dfsp in "${DFSPS[@]}"; do
    curl -sf --max-time 10 "$(url 3001)/participants/$dfsp/accounts" \
      | python3 -c 'import json,sys
for a in json.load(sys.stdin):
    print(sys.argv[1], a["ledgerAccountType"], a["currency"], a["value"], a.get("reservedValue", 0))' "$dfsp" \
      || { echo "$dfsp: accounts unreadable"; }
  done | sort
}
ledger_db="${prefix}_cl"
# Transfers the ledger knows, how many of them were ever RESERVED (the payer's position taken)
# and how many ended COMMITTED.
ledger_counts() {
  sql "SELECT (SELECT COUNT(*) FROM \`$ledger_db\`.transfer),
              (SELECT COUNT(DISTINCT transferId) FROM \`$ledger_db\`.transferStateChange
                WHERE transferStateId = 'RESERVED'),
              (SELECT COUNT(DISTINCT transferId) FROM \`$ledger_db\`.transferStateChange
                WHERE transferStateId = 'COMMITTED')" | tr '\t' ' '
}
snapshot >"$OUT/accounts-before.txt"
read -r transfers_before reserved_before committed_before < <(ledger_counts)
log "before: $(grep -c POSITION "$OUT/accounts-before.txt") DFSP position accounts; the ledger holds $transfers_before transfers, $reserved_before reserved once, $committed_before committed"

# ---- schemathesis -----------------------------------------------------------------------------
export SCHEMATHESIS_HOOKS=hooks
export APIFUZZ_LOG="$OUT/requests.ndjson"
: >"$APIFUZZ_LOG"

# Checks: all built-in ones that judge one response against the definition, and the hooks'
# fspiop_error_body. Left out: positive_data_acceptance (a schema-valid request the switch
# refuses for a business reason, e.g. an unknown payee FSP, is answered 400 with an FSPIOP
# error: right), and the stateful checks use_after_free, ensure_resource_availability,
# ignored_auth and object_level_authorization (the FSPIOP API is asynchronous and has no auth
# scheme in the definition; see the README).
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection,missing_required_header,unsupported_method,fspiop_error_body

# Derandomized (Hypothesis's deterministic mode: every run sends the same requests) unless
# APIFUZZ_SEED asks for a seeded random run.
if [[ -n "$SEED" ]]; then
  GENERATION=(--seed "$SEED" --generation-database none)
else
  GENERATION=(--generation-deterministic)
fi

FAILED=0
RESULTS=()
TOTAL_OPERATIONS=0
# fuzz <label> <definition> <base port> <include-path regex> <phases> [more schemathesis args]
fuzz() {
  local label="$1" definition="$2" base="$3" paths="$4" phases="$5" status=0 start=$SECONDS
  shift 5
  if [[ -n "$ONLY" && ! "$label" =~ $ONLY ]]; then return 0; fi
  log "---- $label: $(url "$base") paths ~ $paths"
  # in $OUT: schemathesis keeps a .schemathesis/ cache in its working directory
  run_child timeout "$SERVICE_TIMEOUT_S" env -C "$OUT" PYTHONPATH="$ST_DIR:$HERE" \
    python3 -m schemathesis.cli run "$definition" \
    --url "$(url "$base")" \
    --include-path-regex "$paths" \
    --phases "$phases" \
    --checks "${FUZZ_CHECKS:-$CHECKS}" \
    --max-examples "$MAX_EXAMPLES" \
    "${GENERATION[@]}" \
    --workers "$WORKERS" \
    --request-timeout "$REQUEST_TIMEOUT_S" \
    --suppress-health-check all \
    --continue-on-failure \
    --no-color \
    --report junit,ndjson \
    --report-junit-path "$OUT/$label.junit.xml" \
    --report-ndjson-path "$OUT/$label.ndjson" \
    "$@" >"$OUT/$label.log" 2>&1 || status=$?
  if (( status == 124 )); then
    log "FAILED: $label did not finish within ${SERVICE_TIMEOUT_S} s"
  fi
  local log_file="$OUT/$label.log" tested cases verdict
  if (( status != 0 )); then
    # the failures, each with the curl line that reproduces it
    sed -n '/^=* \(ERRORS\|FAILURES\) =*$/,/^=* SUMMARY =*$/p' "$log_file" | head -n 200 \
      | sed "s/^/[$label] /"
  fi
  tested="$(sed -n 's/^ *Tested: *\([0-9]*\).*/\1/p' "$log_file" | tail -n 1)"
  cases="$(grep -A1 '^Test cases:' "$log_file" | tail -n 1 | sed 's/^ *//')"
  verdict="$(grep -E '^=+ .* in [0-9.]+s =+$' "$log_file" | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//')"
  RESULTS+=("$(printf '%-21s exit %d %4d s  %3s operations  %s  [%s]' "$label" "$status" \
    $((SECONDS - start)) "${tested:-?}" "${cases:-no test cases}" "${verdict:-no verdict}")")
  log "${RESULTS[-1]}"
  TOTAL_OPERATIONS=$((TOTAL_OPERATIONS + ${tested:-0}))
  (( status == 0 )) || FAILED=1
}

# The FSPIOP operations each service serves. /transfers/{ID} and /fxTransfers/{ID} PATCH are
# the hub's notification to a payee, not a request to the hub: left out.
ALS_PATHS='^/(parties|participants)(/.*)?$'
QUOTES_PATHS='^/(quotes|bulkQuotes|fxQuotes)(/.*)?$'
TRANSFERS_PATHS='^/(transfers|bulkTransfers|fxTransfers)(/.*)?$'
TR_PATHS='^/(transactionRequests|authorizations)(/.*)?$'
FSPIOP_EXCLUDE=(--exclude-method PATCH)

# The coverage phase (schemathesis's deterministic walk of each schema's boundaries, thousands
# of requests for the big bodies) runs on the 2.0 definition; the 1.1 bodies are mostly the same
# schemas, so 1.1 gets the examples and the generated (fuzzing) cases only.
for version in 2.0 1.1; do
  definition="$DEF_20" phases="${PHASES:-examples,coverage,fuzzing}"
  if [[ "$version" == 1.1 ]]; then definition="$DEF_11" phases="${PHASES:-examples,fuzzing}"; fi
  tag="v${version/./}"
  fuzz "als-$tag" "$definition" 4002 "$ALS_PATHS" "$phases" "${FSPIOP_EXCLUDE[@]}"
  fuzz "quoting-$tag" "$definition" 3002 "$QUOTES_PATHS" "$phases" "${FSPIOP_EXCLUDE[@]}"
  fuzz "ml-api-adapter-$tag" "$definition" 3000 "$TRANSFERS_PATHS" "$phases" "${FSPIOP_EXCLUDE[@]}"
  fuzz "tr-$tag" "$definition" 4006 "$TR_PATHS" "$phases" "${FSPIOP_EXCLUDE[@]}"
done

# ---- the ledger after the FSPIOP fuzzing --------------------------------------------------------
# Transfers the fuzz prepared are refused by their payee (it fulfils only packets it made) and
# aborted; give the last of them time to finish, then every DFSP account must be as before and
# no transfer may have committed.
waited=0
while :; do
  snapshot >"$OUT/accounts-after.txt"
  cmp -s "$OUT/accounts-before.txt" "$OUT/accounts-after.txt" && break
  (( waited < SETTLE_TIMEOUT_S )) || break
  sleep 1
  waited=$((waited + 1))
done
read -r transfers_after reserved_after committed_after < <(ledger_counts)
log "after: the fuzz's requests reached the ledger as $((transfers_after - transfers_before)) transfers;" \
  "$((reserved_after - reserved_before)) were reserved, $((committed_after - committed_before)) committed"
if ! cmp -s "$OUT/accounts-before.txt" "$OUT/accounts-after.txt"; then
  log "FAILED: DFSP accounts changed during the FSPIOP fuzzing (before < > after):"
  diff "$OUT/accounts-before.txt" "$OUT/accounts-after.txt" | sed 's/^/[apifuzz]   /' || true
  FAILED=1
else
  log "DFSP accounts as before ($(wc -l <"$OUT/accounts-before.txt") accounts of ${#DFSPS[@]} DFSPs; checked ${waited} s after the last request)"
fi
if (( committed_after != committed_before )); then
  log "FAILED: $((committed_after - committed_before)) transfers committed during the fuzzing"
  FAILED=1
fi

# ---- admin APIs -------------------------------------------------------------------------------
# After the ledger check: the admin API moves money by design (funds in and out), and the fuzz
# may create participants, accounts, models and oracles.
export APIFUZZ_ADMIN=1
fuzz "central-ledger-admin" "$HERE/admin-openapi.yaml" 3001 \
  '^/(participants|settlementModels|ledgerAccountTypes)(/.*)?$' "${PHASES:-examples,coverage,fuzzing}"
# Mojaloop's own description of the central ledger admin API (generated from its routes by
# hapi-swagger): it documents one `default` response, a string, for every operation, not the
# bodies the ledger sends, so the response checks are left out for it; the requests it makes
# (its parameter and body rules) are what it adds to admin-openapi.yaml.
FUZZ_CHECKS="${CHECKS//response_schema_conformance,/}"
FUZZ_CHECKS="${FUZZ_CHECKS//content_type_conformance,/}"
export FUZZ_CHECKS
fuzz "central-ledger-admin-ml" "$LEDGER_SWAGGER" 3001 \
  '^/(participants|settlementModels|ledgerAccountTypes)(/.*)?$' "${PHASES:-examples,coverage,fuzzing}"
unset FUZZ_CHECKS
fuzz "als-admin" "$HERE/admin-openapi.yaml" 4001 '^/oracles(/.*)?$' "${PHASES:-examples,coverage,fuzzing}"

# ---- the switch at the end --------------------------------------------------------------------
if ! kill -0 "$SWITCH_PID" 2>/dev/null; then
  log "FAILED: the switch process died during the fuzzing"; tail -n 30 "$OUT/switch.log"
  FAILED=1
elif ! check_health; then
  FAILED=1
else
  log "the switch is alive and every service answers /health"
fi
if grep -qiE "panicked|thread '.*' panicked" "$OUT/switch.log"; then
  log "FAILED: a panic in the switch's log:"; grep -iE -m5 "panicked" "$OUT/switch.log"
  FAILED=1
fi

# ---- summary ----------------------------------------------------------------------------------
log "==== summary ===="
for line in "${RESULTS[@]}"; do log "$line"; done
log "$TOTAL_OPERATIONS operations tested (FSPIOP 2.0 and 1.1, and the admin APIs)"
python3 - "$APIFUZZ_LOG" <<'PY' | sed 's/^/[apifuzz] /'
import collections, json, sys
ops, statuses, slowest = set(), collections.Counter(), 0.0
count = 0
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    count += 1
    ops.add((r["method"], r["path"]))
    statuses[r["status"]] += 1
    slowest = max(slowest, r["elapsed"])
print(f"{count} requests; slowest answer {slowest:.2f} s")
print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
PY
log "run took $((SECONDS - RUN_START_S)) s; logs and reports in $OUT"
if (( FAILED )); then
  die "API fuzzing found failures (see above and $OUT)"
fi
log "API fuzzing passed"
