#!/usr/bin/env bash
# Builds the rolegate fuzz targets and runs each for SECONDS (default 60), one after another,
# each in a single libFuzzer process (one core). Prints per target the executions reached and
# exits non-zero if any target crashed, went over the RSS limit or hung on an input.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      e.g. fuzz/run.sh 5  (smoke)   fuzz/run.sh 900 decision
#
# Working corpora are fuzz/corpus/<target>/ (git-ignored), topped up from the committed seeds in
# fuzz/seeds/<target>/ on every run; crashes land in fuzz/artifacts/<target>/ with the log of the
# run beside them. Environment: FUZZ_SANITIZER (none|address, default none: safe Rust, and the
# build keeps debug assertions and overflow checks), FUZZ_TIMEOUT (seconds one input may take
# before it counts as a hang, default 60: generous, since a loaded machine stalls a process for
# seconds; the slowest real input takes milliseconds), FUZZ_EXTRA_ARGS (more libFuzzer flags).
# Reproduce a crash: fuzz/target/x86_64-unknown-linux-gnu/release/<target> <crash file>
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ="$ROOT/fuzz"
ALL_TARGETS=(token_parse jwks_parse config_parse shared_documents decision header_pairs rsa_public path_screen)

SECONDS_PER_TARGET=${1:-60}
if ! [[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: fuzz/run.sh [SECONDS] [TARGET...]   (SECONDS: a whole number >= 1)" >&2
    exit 2
fi
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=("${ALL_TARGETS[@]}")
fi
for t in "${TARGETS[@]}"; do
    if [ ! -f "$FUZZ/fuzz_targets/$t.rs" ]; then
        echo "fuzz/run.sh: no target $t (have: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
done

# cargo-fuzz from crates.io when missing.
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# libFuzzer's instrumentation needs nightly flags. Use the nightly toolchain when it is there;
# otherwise let the installed toolchain accept them (this machine kind can fetch no toolchain).
if rustup run nightly rustc --version >/dev/null 2>&1; then
    CARGO=(cargo +nightly)
else
    echo "fuzz/run.sh: no nightly toolchain; using $(rustc --version) with RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
    CARGO=(cargo)
fi

SANITIZER=${FUZZ_SANITIZER:-none}
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
mkdir -p "$FUZZ/artifacts"
echo "fuzz/run.sh: building (${CARGO[*]} fuzz build --sanitizer $SANITIZER)"
# No target named: every target in one cargo call (seconds when nothing changed).
if ! "${CARGO[@]}" fuzz build --sanitizer "$SANITIZER" >"$FUZZ/artifacts/build.log" 2>&1; then
    tail -n 40 "$FUZZ/artifacts/build.log" >&2
    echo "fuzz/run.sh: build failed (fuzz/artifacts/build.log)" >&2
    exit 1
fi

stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

failed=()
SUMMARY="$FUZZ/artifacts/last-summary.txt"
{
    printf '# %s, %s s per target, sanitizer %s, %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        "$SECONDS_PER_TARGET" "$SANITIZER" "$("${CARGO[@]}" --version 2>/dev/null | head -n 1)"
    printf '%-17s %8s %12s %8s %6s %7s %s\n' target seconds executions exec/s new corpus result
} >"$SUMMARY"
cat "$SUMMARY"

for t in "${TARGETS[@]}"; do
    bin="$FUZZ/target/$TRIPLE/release/$t"
    corpus="$FUZZ/corpus/$t"
    artifacts="$FUZZ/artifacts/$t"
    log="$artifacts/last-run.log"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$FUZZ/seeds/$t" ]; then
        cp -n "$FUZZ/seeds/$t"/* "$corpus"/ 2>/dev/null || true
    fi
    dict=()
    if [ -f "$FUZZ/dicts/$t.dict" ]; then
        dict=("-dict=$FUZZ/dicts/$t.dict")
    fi
    start=$(date +%s)
    set +e
    # shellcheck disable=SC2086
    "$bin" "$corpus" "${dict[@]}" \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout="${FUZZ_TIMEOUT:-60}" \
        -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_EXTRA_ARGS:-} >"$log" 2>&1
    rc=$?
    set -e
    elapsed=$(($(date +%s) - start))
    execs=$(stat_of number_of_executed_units "$log")
    rate=$(stat_of average_exec_per_sec "$log")
    new=$(stat_of new_units_added "$log")
    size=$(find "$corpus" -type f | wc -l)
    if [ "$rc" -eq 0 ] && ! grep -qE '^==[0-9]+== ?ERROR|^SUMMARY: libFuzzer' "$log"; then
        result=ok
    else
        result="FAILED (exit $rc; see $log)"
        failed+=("$t")
    fi
    printf '%-17s %8s %12s %8s %6s %7s %s\n' "$t" "$elapsed" "${execs:-?}" "${rate:-?}" \
        "${new:-?}" "$size" "$result" | tee -a "$SUMMARY"
    if [ "$result" != ok ]; then
        grep -E 'panicked at|ERROR|SUMMARY|Test unit written|^Base64' "$log" | head -n 12 | sed 's/^/    /'
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz/run.sh: crashed: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "fuzz/run.sh: all ${#TARGETS[@]} targets ran ${SECONDS_PER_TARGET}s without a crash"
