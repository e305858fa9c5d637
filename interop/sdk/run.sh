#!/usr/bin/env bash
# Mojaloop's own DFSP client, @mojaloop/sdk-scheme-adapter (pinned in package-lock.json), as
# payer and payee paying through `mojaloop up` on its default settings. See interop/README.md.
#
#   bash interop/sdk/run.sh <path to the mojaloop binary>
#
# Two runs of the switch, each on fresh databases:
#   defaults   `mojaloop up` with nothing but its port offset and database names; the SDKs on
#              their default FSPIOP 1.0 content types, without JWS
#   jws-1.1    `mojaloop up --jws-dir DIR`, DIR holding the DFSPs' public keys only and the hub's
#              RSA pair, which `up` makes there itself; the SDKs sign RS256 and
#              validate what they receive, on FSPIOP 1.1 content types
# In each: onboarding through the admin APIs, sequential and concurrent payments, the error
# paths, a request to pay through the transaction requests service (the payer's SDK and backend
# accept or reject it, the payee's give the OTP; see interop/README.md for what SDK 18.0.2
# cannot send itself), bulk quotes and bulk transfers from the payer's SDK (the payee's SDK
# and backend fulfil them; what SDK 18.0.2 cannot do of a bulk quote, the harness does in its
# place), positions against what committed. Prints one line per check and, last, exactly
# `N passed, M failed`; exits non-zero when any check failed.
#
# Needs: MySQL/MariaDB answering as root (DATABASE_URL, default mysql://root@127.0.0.1:3306),
# node and npm, redis-server, openssl (each installed from Debian when missing). The SDK comes
# from npm into ${XDG_CACHE_HOME:-$HOME/.cache}/mojaloop-ci/, keyed by the lockfile's hash.
# Every wait is bounded; on exit it stops what it started and drops its databases.
#
# Settings (environment): SDK_SWITCH_PORT_OFFSET (500), SDK_PORT_BASE (17000: the SDKs, their
# backends and redis use BASE..BASE+99), SDK_DATABASE_PREFIX (sdk_interop), SDK_PHASES
# ("defaults jws-1.1"), SDK_CONCURRENT (400), SDK_PAYER / SDK_PAYEE (perffsp-1 / perffsp-5),
# SDK_KEEP_LOGS=1 keeps the logs directory.

set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

MOJALOOP_BIN="${1:-}"
[[ -n "$MOJALOOP_BIN" ]] || { echo "usage: $0 <path to the mojaloop binary>" >&2; exit 64; }
[[ -x "$MOJALOOP_BIN" ]] || { echo "ERROR: $MOJALOOP_BIN is not an executable" >&2; exit 64; }
MOJALOOP_BIN="$(cd "$(dirname "$MOJALOOP_BIN")" && pwd)/$(basename "$MOJALOOP_BIN")"

OFFSET="${SDK_SWITCH_PORT_OFFSET:-500}"
BASE="${SDK_PORT_BASE:-17000}"
DB_PREFIX="${SDK_DATABASE_PREFIX:-sdk_interop}"
PHASES="${SDK_PHASES:-defaults jws-1.1}"
CONCURRENT="${SDK_CONCURRENT:-400}"
DATABASE_URL="${DATABASE_URL:-mysql://root@127.0.0.1:3306}"

PAYER="${SDK_PAYER:-perffsp-1}"
PAYEE="${SDK_PAYEE:-perffsp-5}"
HOST=127.0.0.1
# The switch's ports (Mojaloop's, plus the offset).
ML_API_PORT=$((3000 + OFFSET))
LEDGER_PORT=$((3001 + OFFSET))
QUOTING_PORT=$((3002 + OFFSET))
ALS_ADMIN_PORT=$((4001 + OFFSET))
ALS_PORT=$((4002 + OFFSET))
ORACLE_PORT=$((4003 + OFFSET))
TRX_REQ_PORT=$((4006 + OFFSET))  # the transaction requests service (Mojaloop's 4003 is the oracle's in `up`)
# Ours: the payer's SDK, the payee's SDK, their backends, a redis-server for each SDK.
PAYER_INBOUND=$((BASE + 0)); PAYER_OUTBOUND=$((BASE + 1)); PAYER_TEST=$((BASE + 2)); PAYER_METRICS=$((BASE + 4))
PAYEE_INBOUND=$((BASE + 10)); PAYEE_OUTBOUND=$((BASE + 11)); PAYEE_TEST=$((BASE + 12)); PAYEE_METRICS=$((BASE + 14))
PAYER_BACKEND=$((BASE + 20)); PAYEE_BACKEND=$((BASE + 21))
PAYER_REDIS=$((BASE + 78)); PAYEE_REDIS=$((BASE + 79))

NPM_TIMEOUT_S=900
APT_TIMEOUT_S=600
SWITCH_READY_TIMEOUT_S=180
SDK_READY_TIMEOUT_S=60
REDIS_READY_TIMEOUT_S=20
PHASE_TIMEOUT_S=300
STOP_TIMEOUT_S=15

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/mojaloop-ci"
STATE="$(mktemp -d "${TMPDIR:-/tmp}/mojaloop-sdk-interop.XXXXXX")"
LOGS="$STATE/logs"
mkdir -p "$LOGS"
RESULTS="$STATE/results"
: >"$RESULTS"
STARTED_PIDS=()
RUN_START_S=$SECONDS
MYSQL_CLIENT=""

log() { printf '[sdk] %s\n' "$*"; }
die() { printf '[sdk] ERROR: %s\n' "$*" >&2; printf 'FAIL setup: %s\n' "$*" | tee -a "$RESULTS"; exit 1; }

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
APT_UPDATED=""
apt_install() {
  log "apt-get install $*"
  if [[ -z "$APT_UPDATED" ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive timeout "$APT_TIMEOUT_S" apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive timeout "$APT_TIMEOUT_S" \
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# A check run.sh itself makes (the harness prints its own).
result() {  # result PASS|FAIL "what" ["why"]
  if [[ "$1" == PASS ]]; then printf 'PASS %s\n' "$2" | tee -a "$RESULTS"
  else printf 'FAIL %s: %s\n' "$2" "${3:-}" | tee -a "$RESULTS"; fi
}

stop_pid() {
  local pid="$1" name="$2" waited=0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && (( waited < STOP_TIMEOUT_S * 10 )); do sleep 0.1; waited=$((waited + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) did not stop within ${STOP_TIMEOUT_S} s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Starts a background process, logged to $LOGS/<name>.log; sets LAST_PID.
LAST_PID=""
start_bg() {
  local name="$1"; shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID:$name")
}

stop_started() {  # stops every process started since index $1, newest first
  local from="${1:-0}" i entry
  for (( i = ${#STARTED_PIDS[@]} - 1; i >= from; i-- )); do
    entry="${STARTED_PIDS[$i]}"
    [[ -n "$entry" ]] || continue
    stop_pid "${entry%%:*}" "${entry#*:}"
    STARTED_PIDS[i]=""
  done
}

drop_databases() {
  local phase db sql=""
  for phase in $PHASES; do
    for db in cl q als or tr; do sql+="DROP DATABASE IF EXISTS \`$(db_name "$phase" "$db")\`;"; done
  done
  mysql_exec "$sql"
}

cleanup() {
  local status=$?
  set +e
  trap - EXIT
  stop_started 0
  [[ -n "$MYSQL_CLIENT" ]] && drop_databases >/dev/null 2>&1
  local summary=""
  [[ -f "$RESULTS" ]] && summary="$(grep -c '^PASS ' "$RESULTS") passed, $(grep -c '^FAIL ' "$RESULTS") failed"
  if (( status != 0 )) || [[ "${SDK_KEEP_LOGS:-}" == 1 ]]; then
    log "logs kept in $LOGS"
    rm -rf "$STATE/keys" "$STATE"/switch-keys-*/private
  else
    rm -rf "$STATE"
  fi
  log "took $((SECONDS - RUN_START_S)) s"
  # The last line: the count of every check (run.sh's own and the harness's).
  if [[ -n "$summary" ]]; then echo; echo "$summary"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_until() {  # wait_until <seconds> <description> <pid to watch or ""> <command...>
  local limit="$1" what="$2" pid="$3" waited=0; shift 3
  until "$@" >/dev/null 2>&1; do
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      log "$what: the process exited"; return 1
    fi
    (( waited < limit * 5 )) || { log "$what: not within $limit s"; return 1; }
    sleep 0.2
    waited=$((waited + 1))
  done
}

http_ok() { curl -fsS -m 3 -o /dev/null "$1"; }

# ---------------------------------------------------------------------------------------------
# Tools

command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
command -v openssl >/dev/null 2>&1 || apt_install openssl
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then apt_install nodejs npm; fi
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then apt_install redis-server; fi
if command -v mariadb >/dev/null 2>&1; then MYSQL_CLIENT=mariadb
elif command -v mysql >/dev/null 2>&1; then MYSQL_CLIENT=mysql
else apt_install mariadb-client; MYSQL_CLIENT=mariadb; fi
log "node $(node --version), npm $(npm --version), $(redis-server --version | cut -d' ' -f1-3)"

# mysql://user[:password]@host[:port] → client arguments
mysql_args() {
  local rest="${DATABASE_URL#mysql://}" creds hostport user pass host port
  rest="${rest%%/*}"
  if [[ "$rest" == *@* ]]; then creds="${rest%@*}"; hostport="${rest##*@}"; else creds=root; hostport="$rest"; fi
  user="${creds%%:*}"; pass=""; [[ "$creds" == *:* ]] && pass="${creds#*:}"
  host="${hostport%%:*}"; port=3306; [[ "$hostport" == *:* ]] && port="${hostport##*:}"
  printf '%s\n' --protocol=TCP -h "$host" -P "$port" -u "$user"
  [[ -n "$pass" ]] && printf '%s\n' "-p$pass"
  return 0
}
mysql_exec() {
  local args=()
  mapfile -t args < <(mysql_args)
  timeout 30 "$MYSQL_CLIENT" "${args[@]}" --connect-timeout=5 -e "$1"
}
db_name() { printf '%s_%s_%s' "$DB_PREFIX" "${1//[^a-z0-9]/_}" "$2"; }

mysql_exec 'SELECT 1' >/dev/null || die "MySQL does not answer at $DATABASE_URL"

for port in $ML_API_PORT $LEDGER_PORT $QUOTING_PORT $ALS_ADMIN_PORT $ALS_PORT $ORACLE_PORT $TRX_REQ_PORT \
  $PAYER_INBOUND $PAYER_OUTBOUND $PAYER_METRICS $PAYEE_INBOUND $PAYEE_OUTBOUND $PAYEE_METRICS \
  $PAYER_BACKEND $PAYEE_BACKEND $PAYER_REDIS $PAYEE_REDIS; do
  port_open "$HOST" "$port" && die "port $port is taken (set SDK_SWITCH_PORT_OFFSET / SDK_PORT_BASE)"
done

# ---------------------------------------------------------------------------------------------
# The SDK from npm, cached by the lockfile's hash

LOCK_HASH="$(cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -c1-16)"
SDK_DIR="$CACHE_ROOT/sdk-scheme-adapter-$LOCK_HASH"
if [[ -f "$SDK_DIR/.installed" && -f "$SDK_DIR/node_modules/@mojaloop/sdk-scheme-adapter/src/index.js" ]]; then
  log "sdk-scheme-adapter from the cache: $SDK_DIR"
else
  log "npm ci into $SDK_DIR (the first time takes a few minutes)"
  npm_start=$SECONDS
  rm -rf "$SDK_DIR"
  mkdir -p "$SDK_DIR"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$SDK_DIR/"
  (cd "$SDK_DIR" && timeout "$NPM_TIMEOUT_S" npm ci --no-audit --no-fund --loglevel=error) \
    || { rm -rf "$SDK_DIR"; die "npm ci failed"; }
  touch "$SDK_DIR/.installed"
  log "npm ci took $((SECONDS - npm_start)) s"
fi
SDK_MAIN="$SDK_DIR/node_modules/@mojaloop/sdk-scheme-adapter/src/index.js"
SDK_VERSION="$(node -p "require('$SDK_DIR/node_modules/@mojaloop/sdk-scheme-adapter/package.json').version")"
log "@mojaloop/sdk-scheme-adapter $SDK_VERSION"

# ---------------------------------------------------------------------------------------------
# Redis (private: own port, own directory, nothing saved)

# One server per SDK, as each DFSP has its own: Redis pub/sub channels are server-wide (not per
# database), and the SDK names them after the resource (`qt_<quoteId>`), so two SDKs on one
# server hear each other's callbacks (the payee's copy of a hub error for a quote reaches the
# payer's subscriber first).
start_redis() {  # start_redis <name> <port>
  mkdir -p "$STATE/redis-$1"
  start_bg "redis-$1" redis-server --port "$2" --bind "$HOST" --dir "$STATE/redis-$1" \
    --save "" --appendonly no --daemonize no --protected-mode yes
  local pid=$LAST_PID
  wait_until "$REDIS_READY_TIMEOUT_S" "redis on $2" "$pid" \
    bash -c "[[ \$(redis-cli -h $HOST -p $2 ping) == PONG ]]" \
    || { tail -n 20 "$LOGS/redis-$1.log"; die "redis for $1 did not start"; }
  log "redis-server for $1 (pid $pid) on $HOST:$2"
}
start_redis "$PAYER" "$PAYER_REDIS"
start_redis "$PAYEE" "$PAYEE_REDIS"

# ---------------------------------------------------------------------------------------------
# Keys: each DFSP's RSA pair (the SDK signs RS256); the switch gets the public halves only.

KEYS="$STATE/keys"
mkdir -p "$KEYS"
for fsp in "$PAYER" "$PAYEE"; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEYS/$fsp-private.pem" 2>/dev/null
  openssl pkey -in "$KEYS/$fsp-private.pem" -pubout -out "$KEYS/$fsp.pem" 2>/dev/null
done

# ---------------------------------------------------------------------------------------------

# The switch runs on its defaults: no setting of any service comes in from the environment.
SWITCH_UNSET=()
for name in $(compgen -e); do
  if [[ "$name" =~ ^(CENTRAL_LEDGER|CENTRAL_SETTLEMENT|ML_API_ADAPTER|QUOTING_SERVICE|ALS|ORACLE|TRANSACTION_REQUESTS_SERVICE|MOJALOOP)_ ]]; then
    SWITCH_UNSET+=(-u "$name")
  fi
done
# For developing the harness only: settings given to the switch anyway. Such a run never
# passes (a FAIL line says which settings were not the defaults).
SWITCH_DEV_ENV=()
if [[ -n "${SDK_DEV_SWITCH_ENV:-}" ]]; then read -r -a SWITCH_DEV_ENV <<<"$SDK_DEV_SWITCH_ENV"; fi

SWITCH_PID=""
start_switch() {  # start_switch <phase> [extra up args...]
  local phase="$1"; shift
  drop_databases >/dev/null
  if (( ${#SWITCH_DEV_ENV[@]} )); then
    result FAIL "$phase: the switch on its default settings" "SDK_DEV_SWITCH_ENV gave it ${SWITCH_DEV_ENV[*]}"
  fi
  start_bg "switch-$phase" env "${SWITCH_UNSET[@]}" \
    NO_COLOR=1 \
    "${SWITCH_DEV_ENV[@]}" \
    CENTRAL_LEDGER__DATABASE__NAME="$(db_name "$phase" cl)" \
    QUOTING_SERVICE__QUOTES_DATABASE__NAME="$(db_name "$phase" q)" \
    ALS__DATABASE__NAME="$(db_name "$phase" als)" \
    ORACLE__DATABASE__NAME="$(db_name "$phase" or)" \
    TRANSACTION_REQUESTS_SERVICE__TRANSACTION_REQUESTS_DATABASE__NAME="$(db_name "$phase" tr)" \
    "$MOJALOOP_BIN" up --database-url "$DATABASE_URL" --port-offset "$OFFSET" "$@"
  SWITCH_PID=$LAST_PID
  local ok=1 url
  for url in "http://$HOST:$LEDGER_PORT/health" "http://$HOST:$ML_API_PORT/health" \
    "http://$HOST:$QUOTING_PORT/health" "http://$HOST:$ALS_PORT/health" "http://$HOST:$ORACLE_PORT/health" \
    "http://$HOST:$TRX_REQ_PORT/health"; do
    wait_until "$SWITCH_READY_TIMEOUT_S" "$url" "$SWITCH_PID" http_ok "$url" || { ok=0; break; }
  done
  # The ALS learns the MSISDN oracle from `up` once the services are up.
  if (( ok )); then
    wait_until 30 "the MSISDN oracle registered with the ALS" "$SWITCH_PID" \
      bash -c "curl -fsS -m 3 http://$HOST:$ALS_ADMIN_PORT/oracles | grep -q MSISDN" || ok=0
  fi
  if (( ok )); then
    result PASS "$phase: mojaloop up${*:+ $*} healthy (ledger, adapter, quoting, ALS, oracle, transaction requests)"
  else
    result FAIL "$phase: mojaloop up${*:+ $*}" "not healthy; last lines of its log:"
    tail -n 30 "$LOGS/switch-$phase.log" | sed 's/^/    /'
    return 1
  fi
}

# start_sdk <phase> <fsp> <inbound> <outbound> <test> <metrics> <backend port> <redis port> <redis db> [VAR=value...]
start_sdk() {
  local phase="$1" fsp="$2" inbound="$3" outbound="$4" testport="$5" metrics="$6" backend="$7" redis="$8" db="$9"
  shift 9
  local dir="$STATE/sdk-$phase-$fsp"
  mkdir -p "$dir"
  # cwd with no .env (the SDK reads one); every setting explicit. PEER_ENDPOINT is the fallback
  # for a resource without its own endpoint: here, what SDK 18.0.2's outbound request-to-pay
  # models send (POST /transactionRequests, GET /authorizations: they ignore
  # TRANSACTION_REQUESTS_ENDPOINT), so it is the transaction requests service (interop/README.md).
  start_bg "sdk-$phase-$fsp" bash -c 'cd "$1" && shift && exec env "$@"' _ "$dir" \
    DFSP_ID="$fsp" \
    INBOUND_LISTEN_PORT="$inbound" OUTBOUND_LISTEN_PORT="$outbound" \
    TEST_LISTEN_PORT="$testport" METRICS_SERVER_LISTEN_PORT="$metrics" \
    ALS_ENDPOINT="$HOST:$ALS_PORT" \
    QUOTES_ENDPOINT="$HOST:$QUOTING_PORT" \
    TRANSFERS_ENDPOINT="$HOST:$ML_API_PORT" \
    TRANSACTION_REQUESTS_ENDPOINT="$HOST:$TRX_REQ_PORT" \
    BULK_QUOTES_ENDPOINT="$HOST:$QUOTING_PORT" \
    BULK_TRANSFERS_ENDPOINT="$HOST:$ML_API_PORT" \
    PEER_ENDPOINT="$HOST:$TRX_REQ_PORT" \
    BACKEND_ENDPOINT="$HOST:$backend" \
    CACHE_URL="redis://$HOST:$redis/$db" \
    ILP_SECRET="$(ilp_secret "$fsp" "$phase")" \
    AUTO_ACCEPT_PARTY=true AUTO_ACCEPT_QUOTES=true \
    REQUEST_PROCESSING_TIMEOUT_SECONDS=20 \
    LOG_INDENT=0 \
    "$@" \
    node "$SDK_MAIN"
  local pid=$LAST_PID
  wait_until "$SDK_READY_TIMEOUT_S" "$fsp's SDK outbound API" "$pid" http_ok "http://$HOST:$outbound/" \
    && wait_until "$SDK_READY_TIMEOUT_S" "$fsp's SDK inbound API" "$pid" port_open "$HOST" "$inbound" \
    || { tail -n 30 "$LOGS/sdk-$phase-$fsp.log" | sed 's/^/    /'; return 1; }
}

ilp_secret() { printf 'sdk-interop-secret-%s-%s' "$1" "$2"; }  # ilp_secret <fsp> <phase>

start_backend() {  # start_backend <phase> <fsp> <port> [args...]
  local phase="$1" fsp="$2" port="$3"; shift 3
  start_bg "backend-$phase-$fsp" node "$HERE/backend.js" --fsp "$fsp" --port "$port" --host "$HOST" "$@"
  wait_until 15 "$fsp's backend" "$LAST_PID" http_ok "http://$HOST:$port/health"
}

run_phase() {  # run_phase <phase> <redis db>
  local phase="$1" db="$2" mark=${#STARTED_PIDS[@]}
  local up_args=() sdk_env=() concurrent="$CONCURRENT" expect_signed=0
  local phase_start=$SECONDS
  log "==== phase $phase ===="
  case "$phase" in
    defaults)
      # The SDK's own defaults sign and validate; without keys on the switch, neither.
      sdk_env=(JWS_SIGN=false VALIDATE_INBOUND_JWS=false)
      ;;
    jws-1.1)
      local sw="$STATE/switch-keys-$phase" sdkkeys="$STATE/sdk-keys-$phase"
      mkdir -p "$sw" "$sdkkeys"
      cp "$KEYS/$PAYER.pem" "$KEYS/$PAYEE.pem" "$sw/"  # public keys only, as DFSPs hand them in
      # The hub's own pair is left to `up --jws-dir`, which makes it RSA (Mojaloop's SDK
      # verifies RS256 only); checked once the switch is up.
      up_args=(--jws-dir "$sw")
      expect_signed=1
      concurrent=$(( CONCURRENT / 2 ))
      ;;
    *) die "unknown phase $phase" ;;
  esac

  if ! start_switch "$phase" "${up_args[@]}"; then
    stop_started "$mark"; return 0
  fi

  if [[ "$phase" == jws-1.1 ]]; then
    local fsp same=1
    for fsp in "$PAYER" "$PAYEE"; do
      if ! cmp -s "$KEYS/$fsp.pem" "$sw/$fsp.pem"; then same=0; fi
    done
    if (( same )); then
      result PASS "$phase: up --jws-dir kept the DFSPs' public keys"
    else
      result FAIL "$phase: up --jws-dir kept the DFSPs' public keys" "$sw/$PAYER.pem or $PAYEE.pem was replaced: every signed request will fail 3105"
    fi
    [[ -f "$sw/Hub.pem" ]] || { result FAIL "$phase: the hub's public key" "up --jws-dir made no $sw/Hub.pem"; stop_started "$mark"; return 0; }
    if openssl pkey -pubin -in "$sw/Hub.pem" -noout -text 2>/dev/null | grep -q "Public-Key: (2048 bit)" \
      && openssl pkey -pubin -in "$sw/Hub.pem" -noout -text 2>/dev/null | grep -qi "modulus"; then
      result PASS "$phase: up --jws-dir made the hub an RSA key pair (RS256, what the SDK verifies)"
    else
      result FAIL "$phase: the hub's key" "$sw/Hub.pem is not a 2048-bit RSA public key"
    fi
    cp "$KEYS/$PAYER.pem" "$KEYS/$PAYEE.pem" "$sw/Hub.pem" "$sdkkeys/"
    sdk_env=(JWS_SIGN=true VALIDATE_INBOUND_JWS=true
      JWS_VERIFICATION_KEYS_DIRECTORY="$sdkkeys"
      RESOURCE_VERSIONS="parties=1.1,participants=1.1,quotes=1.1,transfers=1.1,transactionRequests=1.1,authorizations=1.1,bulkQuotes=1.1,bulkTransfers=1.1")
  fi

  # The payee's SDK 18.0.2 cannot take a POST /bulkQuotes (its inbound API has no such route), so
  # it never holds the bulk quote its bulk transfer handler looks for: it fulfils a bulk
  # transfer from the ILP packet and its secret instead, as ALLOW_TRANSFER_WITHOUT_QUOTE lets it
  # (interop/README.md).
  local payer_env=("${sdk_env[@]}") payee_env=("${sdk_env[@]}" ALLOW_TRANSFER_WITHOUT_QUOTE=true) payee_key="" payer_key=""
  if [[ "$phase" == jws-1.1 ]]; then
    payer_env+=(JWS_SIGNING_KEY_PATH="$KEYS/$PAYER-private.pem")
    payee_env+=(JWS_SIGNING_KEY_PATH="$KEYS/$PAYEE-private.pem")
    # The harness signs what it sends as the payee (POST /transactionRequests) and as the payer
    # (POST /quotes, POST /transfers of a request to pay) with their keys.
    payee_key="$KEYS/$PAYEE-private.pem" payer_key="$KEYS/$PAYER-private.pem"
  fi

  # The payee's MSISDNs: 40 from 27710500000; 27710599999 is registered but its backend does not
  # know it; 27710588888 is in no oracle; the payee's backend refuses to quote 7.77. The payer's
  # customer 27710400001 is asked to pay 12.34 (request to pay), and its backend rejects a
  # request for 6.66. In a bulk transfer, the payee's backend refuses a transfer of 8.88.
  if ! start_backend "$phase" "$PAYER" "$PAYER_BACKEND" --reject-request-amount 6.66 \
     || ! start_backend "$phase" "$PAYEE" "$PAYEE_BACKEND" --unknown 27710599999 --refuse-amount 7.77 --refuse-bulk-transfer-amount 8.88 \
     || ! start_sdk "$phase" "$PAYER" "$PAYER_INBOUND" "$PAYER_OUTBOUND" "$PAYER_TEST" "$PAYER_METRICS" "$PAYER_BACKEND" "$PAYER_REDIS" "$db" "${payer_env[@]}" \
     || ! start_sdk "$phase" "$PAYEE" "$PAYEE_INBOUND" "$PAYEE_OUTBOUND" "$PAYEE_TEST" "$PAYEE_METRICS" "$PAYEE_BACKEND" "$PAYEE_REDIS" "$db" "${payee_env[@]}"; then
    result FAIL "$phase: the SDKs and their backends started" "see above"
    stop_started "$mark"; return 0
  fi
  result PASS "$phase: two sdk-scheme-adapter $SDK_VERSION instances and their backends started"

  # In the background, so that a signal to this script is handled at once (bash runs traps
  # only between foreground commands) and the harness is stopped with everything else.
  local status=0
  H_LEDGER_URL="http://$HOST:$LEDGER_PORT" \
  H_ORACLE_URL="http://$HOST:$ORACLE_PORT" \
  H_PAYER="$PAYER" H_PAYEE="$PAYEE" \
  H_PAYER_OUTBOUND_URL="http://$HOST:$PAYER_OUTBOUND" \
  H_PAYER_INBOUND_URL="http://$HOST:$PAYER_INBOUND" \
  H_PAYEE_INBOUND_URL="http://$HOST:$PAYEE_INBOUND" \
  H_PAYEE_BACKEND_URL="http://$HOST:$PAYEE_BACKEND" \
  H_PAYEE_OUTBOUND_URL="http://$HOST:$PAYEE_OUTBOUND" \
  H_PAYER_BACKEND_URL="http://$HOST:$PAYER_BACKEND" \
  H_PAYEE_REDIS="$HOST:$PAYEE_REDIS" \
  H_PAYER_REDIS="$HOST:$PAYER_REDIS" H_TRANSFERS_URL="http://$HOST:$ML_API_PORT" \
  H_TRANSACTION_REQUESTS_URL="http://$HOST:$TRX_REQ_PORT" \
  H_PAYEE_SIGNING_KEY="$payee_key" H_PAYER_SIGNING_KEY="$payer_key" \
  H_PAYER_MSISDN=27710400001 H_R2P_AMOUNT=12.34 H_R2P_REJECTED_AMOUNT=6.66 \
  H_MSISDN_BASE=27710500000 H_MSISDN_COUNT=40 \
  H_UNREGISTERED_MSISDN=27710588888 H_BACKEND_UNKNOWN_MSISDN=27710599999 H_REFUSED_AMOUNT=7.77 \
  H_SEQUENTIAL=20 H_CONCURRENT="$concurrent" H_CONCURRENCY=8 H_CONCURRENT_MSISDNS=32 \
  H_EXPECT_SIGNED="$expect_signed" H_QUOTES_URL="http://$HOST:$QUOTING_PORT" \
  H_SDK_MODULES="$SDK_DIR/node_modules" H_PAYEE_ILP_SECRET="$(ilp_secret "$PAYEE" "$phase")" \
  H_BULK_COUNT=10 H_REFUSED_BULK_TRANSFER_AMOUNT=8.88 \
  H_PAYER_SDK_LOG="$LOGS/sdk-$phase-$PAYER.log" H_PAYEE_SDK_LOG="$LOGS/sdk-$phase-$PAYEE.log" \
    timeout "$PHASE_TIMEOUT_S" node "$HERE/harness.js" "$phase" >"$STATE/harness-$phase.out" 2>&1 &
  local harness=$!
  STARTED_PIDS+=("$harness:harness")
  log "$phase: onboarding and payments through the SDKs (at most ${PHASE_TIMEOUT_S} s)"
  wait "$harness" || status=$?
  tee -a "$RESULTS" <"$STATE/harness-$phase.out"
  if (( status != 0 )); then
    result FAIL "$phase: the harness finished" "exit status $status (124: not within ${PHASE_TIMEOUT_S} s)"
  fi
  if grep -q "^FAIL $phase" "$RESULTS"; then
    log "$phase: the switch's warnings, errors and refusals (last 15):"
    grep -E ' (WARN|ERROR) |rejected|refused|failed' "$LOGS/switch-$phase.log" | tail -n 15 | cut -c1-400 | sed 's/^/    /' || true
  fi
  stop_started "$mark"
  log "phase $phase took $((SECONDS - phase_start)) s"
}

redis_db=0
for phase in $PHASES; do
  run_phase "$phase" "$redis_db"
  redis_db=$((redis_db + 1))
done

# cleanup prints the count as the last line.
grep -q '^PASS ' "$RESULTS" && ! grep -q '^FAIL ' "$RESULTS"
