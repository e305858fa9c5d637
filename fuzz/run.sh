#!/usr/bin/env bash
# Builds the fuzz targets and runs each for FUZZ_SECONDS (default 20) with libFuzzer, on
# stable Rust without a sanitizer (fuzz/README.md says why). Exits non-zero when any target
# finds a crash (a panic, a failed round-trip assertion), a hang (-timeout) or runaway memory
# (-rss_limit_mb); the input is kept under fuzz/artifacts/<target>/ and printed.
#
#   fuzz/run.sh                      every target, 20 s each (CI's "Fuzz (short)")
#   FUZZ_SECONDS=600 fuzz/run.sh     the longer run
#   fuzz/run.sh ilp jws              some targets
#   FUZZ_MINIMIZE=1 fuzz/run.sh      then merge what the runs found into fuzz/corpus/<target>
#                                    (libFuzzer's -merge, as cargo fuzz cmin), to commit
#
# The committed corpus (fuzz/corpus/<target>) is read, never written: new inputs go to
# $FUZZ_TARGET_DIR/corpus/<target>, which persists between runs. FUZZ_TARGET_DIR defaults to
# fuzz/target; CI points it into its cache directory.
set -Eeuo pipefail

CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
FUZZ_MAX_LEN="${FUZZ_MAX_LEN:-16384}"
FUZZ_TIMEOUT_S="${FUZZ_TIMEOUT_S:-10}"
FUZZ_RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-1024}"
FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-$FUZZ_DIR/target}"
cd "$FUZZ_DIR"
mkdir -p "$FUZZ_TARGET_DIR"

if [[ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

mapfile -t ALL_TARGETS < <(cargo fuzz list)
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=("${ALL_TARGETS[@]}")

# The lock file is committed: refuse to change it (cargo fuzz has no --locked of its own).
cargo fetch --locked --quiet
# -s none: no sanitizer, so stable Rust builds it; debug assertions and overflow checks stay
# on (cargo fuzz's default). Every target at once (one link step each).
if ! cargo fuzz build -s none --target-dir "$FUZZ_TARGET_DIR" >"$FUZZ_TARGET_DIR/build.log" 2>&1; then
  cat "$FUZZ_TARGET_DIR/build.log"
  echo "ERROR: the fuzz targets do not build" >&2
  exit 1
fi
tail -n 1 "$FUZZ_TARGET_DIR/build.log"

FAILED=()
for target in "${TARGETS[@]}"; do
  found="$FUZZ_TARGET_DIR/corpus/$target"
  seeds="$FUZZ_DIR/corpus/$target"
  mkdir -p "$found" "$seeds" "$FUZZ_DIR/artifacts/$target"
  echo "==> $target: ${FUZZ_SECONDS}s"
  start=$SECONDS
  if timeout $((FUZZ_SECONDS + 300)) cargo fuzz run -s none --target-dir "$FUZZ_TARGET_DIR" \
      "$target" "$found" "$seeds" -- \
      -max_total_time="$FUZZ_SECONDS" -max_len="$FUZZ_MAX_LEN" -timeout="$FUZZ_TIMEOUT_S" \
      -rss_limit_mb="$FUZZ_RSS_LIMIT_MB" -malloc_limit_mb="$FUZZ_RSS_LIMIT_MB" \
      -print_final_stats=1 >"$FUZZ_TARGET_DIR/$target.log" 2>&1; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$FUZZ_TARGET_DIR/$target.log" | grep -o '[0-9]*$' || true)"
    cov="$(grep -o 'cov: [0-9]*' "$FUZZ_TARGET_DIR/$target.log" | tail -1 || true)"
    echo "    ok: ${runs:-?} runs, ${cov:-cov: ?}, $((SECONDS - start)) s"
  else
    FAILED+=("$target")
    echo "    FAILED after $((SECONDS - start)) s; the end of its log:"
    tail -n 60 "$FUZZ_TARGET_DIR/$target.log"
    for artifact in "$FUZZ_DIR/artifacts/$target"/*; do
      [[ -f "$artifact" ]] || continue
      echo "    input $artifact (base64): $(base64 -w0 "$artifact")"
    done
  fi
done

if [[ "${FUZZ_MINIMIZE:-0}" == 1 ]]; then
  # libFuzzer's merge (what `cargo fuzz cmin` runs) over the committed corpus and what the runs
  # found, as a set cover of edges (no hit counters) and at most 4 KiB an input, so the
  # committed corpus stays small.
  for target in "${TARGETS[@]}"; do
    merged="$FUZZ_TARGET_DIR/cmin/$target"
    rm -rf "$merged" && mkdir -p "$merged"
    "$FUZZ_TARGET_DIR/x86_64-unknown-linux-gnu/release/$target" -merge=1 -set_cover_merge=1 \
      -use_counters=0 -max_len=4096 "$merged" \
      "$FUZZ_DIR/corpus/$target" "$FUZZ_TARGET_DIR/corpus/$target" \
      >"$FUZZ_TARGET_DIR/$target.cmin.log" 2>&1 ||
      { echo "ERROR: merging the corpus of $target failed" >&2; tail -20 "$FUZZ_TARGET_DIR/$target.cmin.log"; exit 1; }
    # The hand-made seeds keep their names; the rest of the corpus becomes what the merge kept
    # (named by SHA-1, so a seed it kept is recognised and not copied twice).
    find "$FUZZ_DIR/corpus/$target" -type f ! -name 'seed-*' -delete
    seed_sums="$(find "$FUZZ_DIR/corpus/$target" -type f -exec sha1sum {} + | cut -d' ' -f1)"
    for file in "$merged"/*; do
      [[ -f "$file" ]] || continue
      grep -qx "$(basename "$file")" <<<"$seed_sums" || cp "$file" "$FUZZ_DIR/corpus/$target/"
    done
    echo "==> $target: corpus $(find "$FUZZ_DIR/corpus/$target" -type f | wc -l) files, $(cat "$FUZZ_DIR/corpus/$target"/* | wc -c) bytes"
  done
fi

if [[ ${#FAILED[@]} -gt 0 ]]; then
  echo "fuzzing found problems in: ${FAILED[*]}" >&2
  exit 1
fi
echo "fuzzing: ${#TARGETS[@]} targets, ${FUZZ_SECONDS}s each, no crash"
