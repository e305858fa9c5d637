#!/usr/bin/env bash
# The per-payment budget at a fixed rate: CPU of each process (the switch, the simulated DFSPs,
# the load generator, MariaDB) and MariaDB's statements, commits, round trips and log flushes,
# each divided by the payments that succeeded; optionally a CPU profile of the switch by crate.
#
#   perf/budget.sh                       # 300 payments/s for 60 s against what is running
#   RATE=500 DURATION_S=60 PROFILE=1 perf/budget.sh
#
# Start the switch and the simulators as separate processes first, so their CPU is told apart:
#   mojaloop up &                        # the switch, every service in one process
#   mojaloop sim --dfsps 8 --provision & # the simulated DFSPs
# (`mojaloop up --dfsps 8` runs the simulators inside the switch's process; the script then
# reports them together as "switch + simulators".)
#
# Writes budget.txt (and, with PROFILE=1, profile.txt: the switch's CPU samples by crate and
# its 40 hottest functions) into OUT, and the perf run's report beside them.
#
# On the Kafka bus (`mojaloop up --kafka …`): BROKER_PID=<the broker's pid> counts the broker's
# CPU too, and PERF_ARGS="--bus kafka" is passed to `mojaloop perf run`.
set -euo pipefail

RATE=${RATE:-300}
DURATION_S=${DURATION_S:-60}
WARMUP_S=${WARMUP_S:-10}
OUT=${OUT:-perf/results/budget}
PROFILE=${PROFILE:-0}
MOJALOOP=${MOJALOOP:-mojaloop}
MYSQL=(mysql -uroot -h127.0.0.1 -N -B)
HERE=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$OUT"
switch_pid=${SWITCH_PID:-$(pgrep -f -o "mojaloop up" || true)}
sim_pid=${SIM_PID:-$(pgrep -f -o "mojaloop sim" || true)}
broker_pid=${BROKER_PID:-}
read -r -a perf_args <<< "${PERF_ARGS:-}"
mysqld_pid=${MYSQLD_PID:-$(pgrep -x mariadbd || pgrep -x mysqld || true)}
[ -n "$switch_pid" ] || { echo "no 'mojaloop up' process: start the switch first (SWITCH_PID=...)" >&2; exit 2; }
[ -n "$mysqld_pid" ] || { echo "no MariaDB/MySQL server process found (MYSQLD_PID=...)" >&2; exit 2; }

ticks() { # user + system CPU of a process, in clock ticks (100 a second)
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
status() {
  "${MYSQL[@]}" -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions','Com_select','Com_insert','Com_update','Com_delete','Com_commit','Com_rollback','Com_begin','Com_stmt_execute','Com_stmt_prepare','Innodb_data_fsyncs','Bytes_received','Bytes_sent','Handler_write','Handler_update','Handler_delete','Handler_read_key','Handler_read_next','Handler_commit','Innodb_buffer_pool_read_requests','Innodb_buffer_pool_write_requests','Innodb_os_log_written')"
}

if [ "${ANALYSE_ONLY:-0}" = 1 ]; then # again from the files of an earlier run (CPU from cpu.ticks)
  read -r ds ms dd bd < "$OUT/cpu.ticks"
else
status > "$OUT/status.before"
s0=$(ticks "$switch_pid"); m0=$(ticks "$mysqld_pid"); d0=$(ticks "$sim_pid"); b0=$(ticks "$broker_pid")
if [ "$PROFILE" = 1 ]; then
  # Sampled after the warm-up, for the measured part only.
  (sleep "$WARMUP_S"; exec perf record -q -F 499 -e cpu-clock -p "$switch_pid" -o "$OUT/perf.data" -- sleep "$DURATION_S") \
    > "$OUT/perf-record.log" 2>&1 &
  recorder=$!
fi
# The load generator's own CPU: perf stat counts its task clock.
perf stat -x, -e task-clock -o "$OUT/loadgen.stat" -- \
  "$MOJALOOP" perf run --rate "$RATE" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" \
  --quiet --out "$OUT" "${perf_args[@]}" > "$OUT/run.txt"
s1=$(ticks "$switch_pid"); m1=$(ticks "$mysqld_pid"); d1=$(ticks "$sim_pid"); b1=$(ticks "$broker_pid")
status > "$OUT/status.after"
[ "$PROFILE" = 1 ] && wait "$recorder" || true
ds=$((s1 - s0)); ms=$((m1 - m0)); dd=$((d1 - d0)); bd=$((b1 - b0))
echo "$ds $ms $dd $bd" > "$OUT/cpu.ticks"
fi

python3 - "$OUT" "$ds" "$ms" "$dd" "${sim_pid:+yes}" "${bd:-0}" "${broker_pid:+yes}" <<'PY'
import json, sys
out, switch, mysqld, sims, separate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "yes"
broker, with_broker = int(sys.argv[6]), sys.argv[7] == "yes"
report = json.load(open(f"{out}/report.json"))
paid = report["counts"]["succeeded"]
# Warm-up payments and the drain count too: per payment, divide by all of them.
total = paid * (report["measured_s"] + report["warmup_s"]) / max(report["measured_s"], 1)
loadgen_ms = next(float(l.split(",")[0]) for l in open(f"{out}/loadgen.stat") if "task-clock" in l)
def read(path):
    return {k: int(v) for k, v in (l.split("\t") for l in open(path) if l.strip())}
before, after = read(f"{out}/status.before"), read(f"{out}/status.after")
lines = [f"Budget at {report['rate_asked_per_s']:.0f} payments/s for {report['measured_s']} s "
         f"(+{report['warmup_s']} s warm-up): {paid} measured payments succeeded, gate "
         f"{'passed' if report.get('gate', {}).get('passed') else 'FAILED'}",
         "", "CPU per payment (ms):"]
rows = [("switch" if separate else "switch + simulators", switch * 10),
        ("simulated DFSPs", sims * 10) if separate else None,
        ("MariaDB", mysqld * 10), ("Kafka broker", broker * 10) if with_broker else None,
        ("load generator", loadgen_ms)]
rows = [r for r in rows if r]
for name, ms in rows:
    lines.append(f"  {name:<22} {ms / total:8.3f}   ({ms / 1000 / (report['measured_s'] + report['warmup_s']) * 100:5.1f} % of a core)")
lines.append(f"  {'all':<22} {sum(ms for _, ms in rows) / total:8.3f}")
lines += ["", "MariaDB per payment (lookup, quote and transfer together):"]
for key in ["Questions", "Com_select", "Com_insert", "Com_update", "Com_delete", "Com_begin", "Com_commit",
            "Com_rollback", "Com_stmt_prepare", "Com_stmt_execute", "Innodb_data_fsyncs",
            "Bytes_received", "Bytes_sent", "Handler_write", "Handler_update", "Handler_delete",
            "Handler_read_key", "Handler_read_next", "Innodb_buffer_pool_read_requests",
            "Innodb_buffer_pool_write_requests", "Innodb_os_log_written"]:
    if key in after and key in before:
        lines.append(f"  {key:<22} {(after[key] - before[key]) / total:10.2f}")
lines.append("  (Questions counts every statement sent, one round trip each; Com_stmt_execute the prepared ones among them;")
lines.append("   Handler_* count rows written, updated, deleted and index reads, Innodb_buffer_pool_*_requests page touches, Innodb_os_log_written redo bytes)")
open(f"{out}/budget.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY

if [ "$PROFILE" = 1 ]; then
  perf report -i "$OUT/perf.data" --no-children --sort sym --stdio -q 2> /dev/null \
    | python3 "$HERE/profile_by_crate.py" > "$OUT/profile.txt"
  cat "$OUT/profile.txt"
fi
