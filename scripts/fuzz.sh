#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (cargo-fuzz, libFuzzer) on a stable toolchain.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]  each target SECONDS (default 60) on its corpus,
#                                          then the corpus replayed; new inputs join the corpus
#   scripts/fuzz.sh --replay [TARGET...]   every input of the corpus once, nothing new
#   scripts/fuzz.sh --cmin [TARGET...]     the corpus minimised (same coverage, fewer inputs)
#
# Targets: reader writer serve_wire features (default: all). The corpus is kept in the
# repository (fuzz/corpus/TARGET). A crash leaves its input in fuzz/artifacts/TARGET/ and is
# printed decoded; it then becomes a regression test (crates/zerobuffer/tests/fuzz_regressions.rs
# for the library) before it is fixed. A target that leaves a segment, a semaphore or a lock
# file behind fails. Installs cargo-fuzz if it is missing. Ends with "N passed, N failed".
set -uo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz" || exit 2

CARGO_FUZZ_VERSION=0.13.2
all_targets=(reader writer serve_wire features)
mode=run
seconds=60
case "${1:-}" in
    --replay | --cmin)
        mode="${1#--}"
        shift
        ;;
    '' | *[!0-9]*) ;;
    *)
        seconds="$1"
        shift
        ;;
esac
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
    case " ${all_targets[*]} " in
        *" $target "*) ;;
        *)
            echo "fuzz.sh: no target '$target' (targets: ${all_targets[*]})" >&2
            exit 2
            ;;
    esac
done

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" || exit 2
fi

# --sanitizer none: the way cargo-fuzz builds on a stable toolchain. Without -O, cargo-fuzz
# builds optimised *with* debug assertions and overflow checks, which is what we want here.
fuzz=(cargo fuzz)
build_flags=(--sanitizer none)
# libFuzzer: a run of one input longer than 10 s is a hang; more than 2 GiB is a leak.
libfuzzer_flags=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
    echo "fuzz.sh: FAILED: $*"
    failed=$((failed + 1))
}

# What the fuzz targets' buffers (named zbfuzz_PID_N) left behind once their process is gone,
# removed after saying so. A live PID is another fuzz run's, busy with its buffer: not ours.
leftovers() {
    local path pid left=()
    while IFS= read -r path; do
        [ -n "$path" ] || continue
        pid="$(basename -- "$path" | sed -nE 's/.*zbfuzz_([0-9]+)_.*/\1/p')"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            continue
        fi
        left+=("$path")
    done < <(find /dev/shm /tmp/zerobuffer -maxdepth 2 -name '*zbfuzz_*' 2>/dev/null)
    [ "${#left[@]}" -gt 0 ] || return 1
    printf '%s\n' "${left[@]}"
    rm -f -- "${left[@]}"
}

# Prints each new crash input of $1 decoded, and how to replay it.
show_crashes() {
    local target="$1" input
    for input in artifacts/"$target"/*; do
        [ -f "$input" ] || continue
        echo "--- $target: $input"
        "${fuzz[@]}" fmt "${build_flags[@]}" "$target" "$input" 2>&1 | tail -n 60
        echo "replay: (cd fuzz && cargo fuzz run ${build_flags[*]} $target $input)"
    done
}

# Runs every input of $1's corpus once, adding nothing; further arguments go to cargo fuzz.
replay() {
    local target="$1"
    shift
    "${fuzz[@]}" run "${build_flags[@]}" "$target" "corpus/$target" -- \
        "${libfuzzer_flags[@]}" -runs=0 "$@"
}

# `cargo fuzz build` takes one target or all of them; after the first, only linking is left.
if [ "${#targets[@]}" -eq "${#all_targets[@]}" ]; then
    "${fuzz[@]}" build "${build_flags[@]}" || exit 2
else
    for target in "${targets[@]}"; do
        "${fuzz[@]}" build "${build_flags[@]}" "$target" || exit 2
    done
fi

for target in "${targets[@]}"; do
    corpus="corpus/$target"
    mkdir -p "$corpus" "artifacts/$target"
    rm -f artifacts/"$target"/*
    log="$(mktemp)"
    case "$mode" in
        run)
            echo "=== fuzz $target for ${seconds}s (corpus: $(find "$corpus" -type f | wc -l) inputs)"
            "${fuzz[@]}" run "${build_flags[@]}" "$target" "$corpus" -- \
                "${libfuzzer_flags[@]}" -max_total_time="$seconds" >"$log" 2>&1
            ;;
        replay)
            echo "=== replay the $target corpus ($(find "$corpus" -type f | wc -l) inputs)"
            replay "$target" >"$log" 2>&1
            ;;
        cmin)
            echo "=== minimise the $target corpus ($(du -sh "$corpus" | cut -f1))"
            "${fuzz[@]}" cmin "${build_flags[@]}" "$target" "$corpus" -- \
                "${libfuzzer_flags[@]}" >"$log" 2>&1
            ;;
    esac
    status=$?
    grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|INFO: seed corpus)' "$log"
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log"
        show_crashes "$target"
        fail "$target: libFuzzer exited with $status"
    elif leftovers; then
        fail "$target left shared-memory objects or lock files behind"
    else
        pass
    fi
    leftovers >/dev/null
    rm -f "$log"
    if [ "$mode" = run ]; then
        # The corpus as it now is, including what this run added, replays cleanly.
        if replay "$target" >/dev/null 2>&1; then
            pass
        else
            show_crashes "$target"
            fail "$target: the corpus does not replay cleanly"
        fi
        leftovers >/dev/null
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
