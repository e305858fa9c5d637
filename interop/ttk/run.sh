#!/usr/bin/env bash
# Mojaloop's Testing Toolkit (TTK) golden path against the switch, on default settings.
#
#   interop/ttk/run.sh <path to the mojaloop binary>
#
# Runs the `std` collections Mojaloop's own CI runs (hub setup, two DFSPs onboarded, a P2P
# payment: party registration, lookup, quote, transfer, every callback asserted) against
# `mojaloop up` started with no settings but fresh databases, once at FSPIOP 2.0 and once at
# FSPIOP 1.1, each on its own fresh databases, with TTK's mock callbacks as TTK makes them.
# Passes only when every assertion of both runs passed (none failed, none skipped).
#
# The collections and the scripts that drive TTK live outside the repository, in
# ../shared/ttk (next to the repository root); they are never copied in. Without that
# directory (a user's clone) the step says so and is skipped (exit 0).
#
# Writes only to the cache directory (${XDG_CACHE_HOME:-$HOME/.cache}/mojaloop-ci): TTK's npm
# install and runtime directory (ttk/), and this run's logs and TTK reports (ttk-last-run/,
# replaced on every run, kept for a look after a failure). ../shared may be read-only.
#
# Needs: node and npm (TTK 18.13.0 from npm, about 2 minutes the first time), python3, curl, a
# MySQL server (DATABASE_URL, default mysql://root@127.0.0.1:3306) and a mariadb or mysql
# client to drop the run's databases; free ports 3000-3002, 3007, 4001-4003 (the switch's
# defaults, where TTK's environment points) and 5050, 4040 (TTK).
#
# Every wait is bounded; on exit it stops what it started (by PID) and drops the databases it
# created (ttk_<run>_*: the default names are left alone, they may hold someone's data).

set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SHARED_TTK="$(cd "$ROOT/.." && pwd)/shared/ttk"

if [[ ! -d "$SHARED_TTK" ]]; then
  echo "TTK step skipped: $SHARED_TTK is absent. It holds Mojaloop's golden-path collections" \
    "and the scripts that drive the Testing Toolkit; they live beside the repository, not in it" \
    "(see interop/ttk/README.md)."
  exit 0
fi

[[ $# -eq 1 ]] || { echo "usage: $0 <path to the mojaloop binary>" >&2; exit 2; }
BINARY="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[[ -x "$BINARY" ]] || { echo "ERROR: $1 is not an executable" >&2; exit 2; }

VERSIONS=(2.0 1.1)
INSTALL_TIMEOUT_S=900
SWITCH_READY_TIMEOUT_S=120
COLLECTION_TIMEOUT_S=900
STOP_TIMEOUT_S=20
SWITCH_PORTS=(3000 3001 3002 3007 4001 4002 4003)
TTK_PORTS=(5050 4040)

DATABASE_URL="${DATABASE_URL:-mysql://root@127.0.0.1:3306}"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/mojaloop-ci"
export TTK_ROOT="$CACHE_DIR/ttk"
OUT="$CACHE_DIR/ttk-last-run"

SWITCH_PID=""
CHILD_PID=""
TTK_STARTED=""
DATABASES=()

log() { printf '[ttk] %s\n' "$*"; }
die() { printf '[ttk] ERROR: %s\n' "$*" >&2; exit 1; }

for tool in node npm python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed to run the Testing Toolkit"
done
SQL_CLIENT=""
if command -v mariadb >/dev/null 2>&1; then SQL_CLIENT=mariadb
elif command -v mysql >/dev/null 2>&1; then SQL_CLIENT=mysql
else die "a mariadb or mysql client is needed to drop the run's databases"; fi

# mysql://user[:password]@host[:port][/...]
if [[ ! "$DATABASE_URL" =~ ^mysql://([^:@/]+)(:([^@/]*))?@([^:/]+)(:([0-9]+))?/?$ ]]; then
  die "DATABASE_URL must look like mysql://user[:password]@host[:port], not $DATABASE_URL"
fi
DB_USER="${BASH_REMATCH[1]}"
DB_PASSWORD="${BASH_REMATCH[3]}"
DB_HOST="${BASH_REMATCH[4]}"
DB_PORT="${BASH_REMATCH[6]:-3306}"

sql() {
  MYSQL_PWD="$DB_PASSWORD" timeout 30 "$SQL_CLIENT" --protocol=TCP -h "$DB_HOST" -P "$DB_PORT" \
    -u "$DB_USER" --connect-timeout=5 -e "$1"
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

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

stop_ttk() {
  [[ -n "$TTK_STARTED" ]] || return 0
  timeout 30 bash "$SHARED_TTK/down.sh" || true
  TTK_STARTED=""
}

drop_databases() {
  local db
  for db in "${DATABASES[@]}"; do
    sql "DROP DATABASE IF EXISTS \`$db\`" || log "could not drop database $db"
  done
  DATABASES=()
}

# Runs a command in the background with its output to file $1 and waits for it, so that a
# signal to this script is handled at once (bash runs traps only between foreground commands);
# cleanup stops it.
run_child() {
  local status=0 output="$1"
  shift
  "$@" >"$output" 2>&1 &
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
  stop_ttk
  stop_switch
  drop_databases
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for port in "${SWITCH_PORTS[@]}" "${TTK_PORTS[@]}"; do
  if port_open "$port"; then
    die "port $port is in use: TTK's environment expects the switch on its default ports" \
      "(3000-3002, 3007, 4001-4003) and TTK on 5050 and 4040; stop what listens there"
  fi
done
sql 'SELECT 1' >/dev/null || die "no MySQL server answers at $DATABASE_URL"

rm -rf "$OUT"
mkdir -p "$OUT" "$TTK_ROOT"
log "installing TTK 18.13.0 into $TTK_ROOT (cached after the first run)"
run_child "$OUT/install.log" timeout "$INSTALL_TIMEOUT_S" bash "$SHARED_TTK/install.sh" \
  || { tail -n 30 "$OUT/install.log"; die "TTK install failed (log: $OUT/install.log)"; }
tail -n 1 "$OUT/install.log"
# TTK itself reads the environment variable TTK_ROOT too, as the directory its spec_files/ and
# examples/ are in (default: its working directory, the runtime dir install.sh lays out).
# up.sh passes our TTK_ROOT (the install root) on to it, so the install root gets links to the
# runtime dir's files.
for entry in spec_files examples; do
  ln -sfn "run/$entry" "$TTK_ROOT/$entry"
done

# Starts `mojaloop up` (defaults; only the database names are this run's) and waits until
# every service answers /health.
start_switch() {
  local run="$1" log_file="$2" waited=0 port ready
  local prefix="ttk_${run}"
  DATABASES+=("${prefix}_cl" "${prefix}_q" "${prefix}_als" "${prefix}_orc")
  CENTRAL_LEDGER__DATABASE__NAME="${prefix}_cl" \
    QUOTING_SERVICE__QUOTES_DATABASE__NAME="${prefix}_q" \
    ALS__DATABASE__NAME="${prefix}_als" \
    ORACLE__DATABASE__NAME="${prefix}_orc" \
    "$BINARY" up --database-url "$DATABASE_URL" >"$log_file" 2>&1 &
  SWITCH_PID=$!
  log "mojaloop up (pid $SWITCH_PID) on databases ${prefix}_*; log $log_file"
  while :; do
    kill -0 "$SWITCH_PID" 2>/dev/null \
      || { tail -n 30 "$log_file"; die "mojaloop up exited during start-up"; }
    ready=1
    for port in "${SWITCH_PORTS[@]}"; do
      curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/health" || { ready=0; break; }
    done
    (( ready )) && break
    (( waited < SWITCH_READY_TIMEOUT_S * 2 )) \
      || { tail -n 30 "$log_file"; die "the switch was not healthy within ${SWITCH_READY_TIMEOUT_S} s"; }
    sleep 0.5
    waited=$((waited + 1))
  done
  log "the switch is healthy after ~$((waited / 2)) s"
}

# Every assertion of a TTK report: "passed failed skipped".
count_assertions() {
  python3 - "$1" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
counts = {"SUCCESS": 0, "FAILED": 0, "SKIPPED": 0}
for case in report.get("test_cases", []):
    for item in case.get("requests", []):
        request = item.get("request") or {}
        for assertion in (request.get("tests") or {}).get("assertions") or []:
            status = (assertion.get("resultStatus") or {}).get("status") or "UNKNOWN"
            if status == "SUCCESS":
                counts["SUCCESS"] += 1
            elif status == "SKIPPED":
                counts["SKIPPED"] += 1
            else:
                counts["FAILED"] += 1
print(counts["SUCCESS"], counts["FAILED"], counts["SKIPPED"])
PY
}

RESULTS=()
FAILED=0
for version in "${VERSIONS[@]}"; do
  run="$(date +%s)_${version//./}_$$"
  log "==== FSPIOP $version ===="
  start_switch "$run" "$OUT/switch-$version.log"
  run_child "$OUT/ttk-up-$version.log" \
    env FSPIOP_VERSION="$version" timeout 90 bash "$SHARED_TTK/up.sh" switch || { cat "$OUT/ttk-up-$version.log"; die "TTK did not start"; }
  TTK_STARTED=1
  status=0
  log "running $SHARED_TTK/collections/std (about a minute)"
  run_child "$OUT/run-$version.log" timeout "$COLLECTION_TIMEOUT_S" python3 "$SHARED_TTK/run.py" \
    "$SHARED_TTK/collections/std" --timeout "$COLLECTION_TIMEOUT_S" \
    --report "$OUT/report-$version.json" || status=$?
  cat "$OUT/run-$version.log"
  cp -f "$TTK_ROOT/ttk.log" "$OUT/ttk-$version.log" 2>/dev/null || true
  stop_ttk
  stop_switch
  drop_databases
  if [[ -f "$OUT/report-$version.json" ]]; then
    read -r passed failed skipped < <(count_assertions "$OUT/report-$version.json")
  else
    passed=0 failed=0 skipped=0
  fi
  summary="FSPIOP $version: $passed assertions passed, $failed failed, $skipped skipped (run.py exit $status)"
  RESULTS+=("$summary")
  if (( status != 0 || failed != 0 || skipped != 0 || passed == 0 )); then
    FAILED=1
    log "FAILED: $summary; logs and report in $OUT"
  else
    log "$summary"
  fi
done

log "==== summary ===="
for line in "${RESULTS[@]}"; do log "$line"; done
if (( FAILED )); then
  die "TTK golden path failed; logs and reports in $OUT"
fi
log "TTK golden path passed at FSPIOP ${VERSIONS[*]}"
