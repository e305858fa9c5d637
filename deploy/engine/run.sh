#!/usr/bin/env bash
# docker-compose.yml on a real Docker engine, as an operator runs it (.ci/run's "Compose" phase):
#
#   bash deploy/engine/run.sh path/to/release/mojaloop
#
# 1. The engine: Debian's docker.io and docker-compose (and debootstrap), installed when missing;
#    dockerd started when it does not answer (and stopped again at the end).
# 2. Images no registry gives here, built once and kept by the engine: a Debian 12 base
#    (debootstrap), MariaDB 10.11 from Debian's package and Tansu as stand-ins for the compose
#    defaults (`mariadb:10.11`, `apache/kafka:4.0.0`, chosen through MOJALOOP_MYSQL_IMAGE and
#    MOJALOOP_KAFKA_IMAGE, so users pull the real ones), and the switch image from the
#    Dockerfile's `prebuilt` target with the given binary (rebuilt every run: one layer).
# 3. `docker-compose --profile 8dfsp up -d` on fresh volumes, every container healthy; the
#    topics job made KAFKA_TOPIC_PARTITIONS partitions; the migrate job left no aborted
#    connection; the walk-through inside the compose network (`docker-compose run --rm
#    sim-8dfsp verify-participants | test-transaction | validate`) and from the host
#    (`mojaloop provision` as documented, then the same commands); a short perf-profile run
#    whose validity gate must pass.
# 4. Security switched on over the running deployment (JWS and mTLS, no wipe): every container
#    healthy again, `validate` reports both layers and its payments succeed; switched off again,
#    `validate` passes again.
# 5. `docker-compose down -v`.
#
# Every wait is bounded. The project name is COMPOSE_PROJECT (default mojaloop-ci), so it never
# touches another deployment on the machine.

set -Eeuo pipefail

BINARY="$(readlink -f "${1:?usage: run.sh path/to/mojaloop}")"
[[ -x "$BINARY" ]] || { echo "not executable: $BINARY" >&2; exit 1; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/engine"
cd "$ROOT"

PROJECT="${COMPOSE_PROJECT:-mojaloop-ci}"
BASE_IMAGE=mojaloop-ci/debian:bookworm
MARIADB_IMAGE=mojaloop-ci/mariadb:10.11
KAFKA_IMAGE=mojaloop-ci/kafka:tansu
HEALTHY_TIMEOUT_S="${HEALTHY_TIMEOUT_S:-300}"
ENGINE_TIMEOUT_S=60
APT_TIMEOUT_S=600
STATE_DIR="$(mktemp -d "${TMPDIR:-/var/tmp}/mojaloop-compose.XXXXXX")"
STARTED_DOCKERD_PID=""

log() { printf '%s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# The compose file as the CI runs it: stand-in images, the host's MySQL and Kafka ports left to
# the servers CI already runs there, more partitions than the default (to see them arrive),
# and a short perf run.
export MOJALOOP_MYSQL_IMAGE="$MARIADB_IMAGE" MOJALOOP_KAFKA_IMAGE="$KAFKA_IMAGE"
export MOJALOOP_MYSQL_PORT="${MOJALOOP_MYSQL_PORT:-13306}" MOJALOOP_KAFKA_PORT="${MOJALOOP_KAFKA_PORT:-19092}"
export KAFKA_TOPIC_PARTITIONS="${KAFKA_TOPIC_PARTITIONS:-4}"
export PERF_RATE="${PERF_RATE:-100}" PERF_DURATION_S="${PERF_DURATION_S:-20}"
unset MOJALOOP_JWS MOJALOOP_JWS_DIR MOJALOOP_TLS MOJALOOP_TLS_DIR

compose() { docker-compose -p "$PROJECT" -f "$ROOT/docker-compose.yml" "$@"; }

cleanup() {
  local status=$?
  set +e
  if (( status != 0 )) && docker info > /dev/null 2>&1; then
    log "--- docker-compose ps"
    compose --profile 8dfsp --profile perf ps 2>&1 | tail -n 40
    log "--- last log lines of each container"
    compose --profile 8dfsp --profile perf logs --no-color --tail 15 2>&1 | tail -n 300
  fi
  if docker info > /dev/null 2>&1; then
    compose --profile 8dfsp --profile perf down -v --remove-orphans > "$STATE_DIR/down.log" 2>&1 \
      || { log "docker-compose down failed:"; tail -n 20 "$STATE_DIR/down.log"; }
  fi
  if [[ -n "$STARTED_DOCKERD_PID" ]]; then
    log "stopping dockerd (pid $STARTED_DOCKERD_PID)"
    kill -TERM "$STARTED_DOCKERD_PID" 2> /dev/null
    for _ in $(seq 1 300); do kill -0 "$STARTED_DOCKERD_PID" 2> /dev/null || break; sleep 0.1; done
    kill -0 "$STARTED_DOCKERD_PID" 2> /dev/null && { log "dockerd did not stop within 30 s; killing it"; kill -KILL "$STARTED_DOCKERD_PID"; }
  fi
  rm -rf "$STATE_DIR"
  exit "$status"
}
trap cleanup EXIT

# --- 1. The engine ---------------------------------------------------------------------------
missing=()
command -v dockerd > /dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose > /dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap > /dev/null 2>&1 || missing+=(debootstrap)
if (( ${#missing[@]} > 0 )); then
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive timeout "$APT_TIMEOUT_S" apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive timeout "$APT_TIMEOUT_S" \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
# Debian's docker CLI (the engine's own version); another `docker` earlier on PATH may be newer
# than this engine's API.
docker() { /usr/bin/docker "$@"; }
if ! docker info > /dev/null 2>&1; then
  log "starting dockerd"
  # Started directly (not through a shell function) so $! is dockerd itself (or sudo, which
  # passes our TERM on).
  if [[ $(id -u) -eq 0 ]]; then
    dockerd > "$STATE_DIR/dockerd.log" 2>&1 &
  else
    sudo dockerd > "$STATE_DIR/dockerd.log" 2>&1 &
  fi
  STARTED_DOCKERD_PID=$!
  for _ in $(seq 1 $((ENGINE_TIMEOUT_S * 10))); do
    docker info > /dev/null 2>&1 && break
    kill -0 "$STARTED_DOCKERD_PID" 2> /dev/null || { tail -n 30 "$STATE_DIR/dockerd.log"; die "dockerd exited"; }
    sleep 0.1
  done
  docker info > /dev/null 2>&1 || { tail -n 30 "$STATE_DIR/dockerd.log"; die "dockerd not answering within ${ENGINE_TIMEOUT_S} s"; }
fi
log "engine: $(docker version --format 'Docker {{.Server.Version}}'); $(docker-compose version --short 2> /dev/null | head -n 1 | sed 's/^/compose /')"

# --- 2. Images -------------------------------------------------------------------------------
have_image() { docker image inspect "$1" > /dev/null 2>&1; }
export DOCKER_BUILDKIT=1

if ! have_image "$BASE_IMAGE"; then
  log "building $BASE_IMAGE with debootstrap"
  rootfs="$STATE_DIR/rootfs"
  as_root timeout "$APT_TIMEOUT_S" debootstrap --variant=minbase --include=ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian > "$STATE_DIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$STATE_DIR/debootstrap.log"; die "debootstrap failed"; }
  as_root rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  as_root tar -C "$rootfs" -c . | docker import - "$BASE_IMAGE" > /dev/null
  as_root rm -rf "$rootfs"
fi
if ! have_image "$MARIADB_IMAGE"; then
  log "building $MARIADB_IMAGE"
  docker build -q --build-arg BASE="$BASE_IMAGE" -t "$MARIADB_IMAGE" -f "$HERE/mariadb.Dockerfile" "$HERE" > /dev/null
fi
if ! have_image "$KAFKA_IMAGE"; then
  log "building $KAFKA_IMAGE"
  [[ -x "${TANSU_BIN:-}" ]] || die "TANSU_BIN is not set to the Tansu binary (.ci/run exports it)"
  mkdir -p "$STATE_DIR/kafka" && cp "$TANSU_BIN" "$STATE_DIR/kafka/tansu"
  docker build -q --build-arg BASE="$BASE_IMAGE" -t "$KAFKA_IMAGE" -f "$HERE/kafka.Dockerfile" "$STATE_DIR/kafka" > /dev/null
fi
log "building mojaloop-rs:latest (Dockerfile target prebuilt) with $BINARY"
mkdir -p "$STATE_DIR/switch" && cp "$BINARY" "$STATE_DIR/switch/mojaloop"
docker build -q --target prebuilt --build-arg RUNTIME_BASE="$BASE_IMAGE" -t mojaloop-rs:latest \
  -f "$ROOT/Dockerfile" "$STATE_DIR/switch" > /dev/null
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^(mojaloop-rs|mojaloop-ci/)' | sed 's/^/  /'

# --- 3. Up, healthy, walk-through, perf ------------------------------------------------------
# Waits until every running container of the project is healthy (the one-shot jobs exited 0).
wait_healthy() {
  local waited=0 states bad
  while true; do
    # "<service> <status>" of each container of the project but one-off `run`s.
    states="$(docker ps -a --filter "label=com.docker.compose.project=$PROJECT" \
      --filter "label=com.docker.compose.oneoff=False" \
      --format '{{.Label "com.docker.compose.service"}} {{.Status}}')"
    bad="$(grep -v -E '^[a-z0-9-]+ (Up .*\(healthy\)|Exited \(0\))' <<< "$states" || true)"
    [[ -z "$bad" && -n "$states" ]] && break
    if grep -q -E ' Exited \([1-9]' <<< "$bad"; then
      log "$states"; die "a container exited with an error"
    fi
    (( waited < HEALTHY_TIMEOUT_S )) || { log "$states"; die "not healthy within ${HEALTHY_TIMEOUT_S} s"; }
    sleep 2
    waited=$((waited + 2))
  done
  log "every container healthy after ~${waited} s ($(wc -l <<< "$states") containers)"
}

# `mojaloop <args>` inside the compose network (the documented way), output kept in $STATE_DIR/out.
inside() {
  compose run --rm --no-deps -T sim-8dfsp "$@" > "$STATE_DIR/out" 2>&1 \
    || { cat "$STATE_DIR/out"; die "inside the network: mojaloop $* failed"; }
  cat "$STATE_DIR/out"
}
# `mojaloop <args>` from the host, against the published ports.
outside() {
  "$BINARY" "$@" > "$STATE_DIR/out" 2>&1 || { cat "$STATE_DIR/out"; die "from the host: mojaloop $* failed"; }
  cat "$STATE_DIR/out"
}
expect() {
  grep -q -F -- "$1" "$STATE_DIR/out" || die "expected \"$1\" in the output above"
}

log "docker-compose --profile 8dfsp up -d"
compose --profile 8dfsp up -d --no-build > "$STATE_DIR/up.log" 2>&1 || { cat "$STATE_DIR/up.log"; die "up failed"; }
wait_healthy

compose logs --no-color kafka-topics > "$STATE_DIR/out" 2>&1
expect "topics with at least $KAFKA_TOPIC_PARTITIONS partitions on kafka:29092"
log "✅ kafka-topics: every topic with $KAFKA_TOPIC_PARTITIONS partitions (KAFKA_TOPIC_PARTITIONS)"
compose logs --no-color migrate > "$STATE_DIR/out" 2>&1
expect "transaction_requests: migrated"
if compose logs --no-color mysql 2>&1 | grep -F "Aborted connection"; then
  die "the database logged aborted connections (above)"
fi
log "✅ migrate: databases migrated, no aborted connection in the database's log"

log "--- the walk-through inside the compose network"
inside verify-participants
expect "Total: 800 test accounts ready"
inside test-transaction --from perffsp-1 --to perffsp-5 --amount 100
expect "Status: SUCCESS"
inside validate

log "--- the walk-through from the host (the published ports)"
# The host's own MySQL answers on 3306 in CI; the deployment's is published on MOJALOOP_MYSQL_PORT.
export DATABASE_URL="mysql://root@127.0.0.1:$MOJALOOP_MYSQL_PORT"
outside provision
expect "Callbacks stay where perffsp-1's go now: http://perffsp-1:4100"
outside verify-participants
expect "Total: 800 test accounts ready"
outside test-transaction --from perffsp-2 --to perffsp-6 --amount 50
expect "Status: SUCCESS"
outside validate

log "--- the perf profile: ${PERF_DURATION_S} s at ${PERF_RATE}/s"
mkdir -p perf/results/compose
compose --profile perf run --rm --no-deps -T perf > "$STATE_DIR/out" 2>&1 \
  || { tail -n 60 "$STATE_DIR/out"; die "the perf run failed"; }
tail -n 25 "$STATE_DIR/out"

# --- 4. Security switched on over the running deployment, then off ----------------------------
log "--- JWS and mTLS switched on over the running deployment"
export MOJALOOP_JWS=true MOJALOOP_JWS_DIR=/secrets/jws MOJALOOP_TLS=true MOJALOOP_TLS_DIR=/secrets/tls
compose --profile 8dfsp up -d --no-build > "$STATE_DIR/up.log" 2>&1 || { cat "$STATE_DIR/up.log"; die "up (secured) failed"; }
wait_healthy
inside test-transaction --from perffsp-3 --to perffsp-7 --amount 20
expect "Status: SUCCESS"
inside validate
expect "✅ mTLS"
expect "✅ JWS"

log "--- switched off again"
unset MOJALOOP_JWS MOJALOOP_JWS_DIR MOJALOOP_TLS MOJALOOP_TLS_DIR
compose --profile 8dfsp up -d --no-build > "$STATE_DIR/up.log" 2>&1 || { cat "$STATE_DIR/up.log"; die "up (plain) failed"; }
wait_healthy
inside validate

log "compose on a real engine: every step passed"
