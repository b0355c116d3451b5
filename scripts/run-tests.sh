#!/usr/bin/env bash
# Runs every test of the workspace (unit, integration, interop with the Python peer, doc tests)
# and ends with the plain line "N passed, N failed" summed over all test binaries.
# Usage: scripts/run-tests.sh [extra cargo test args...]
# The Python peer must be installed first (scripts/install-peers.sh); under CI=true a missing
# peer fails the interop tests instead of skipping them.
set -uo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

cargo test --workspace --all-targets --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Doc tests are not part of --all-targets.
cargo test --workspace --doc --no-fail-fast "$@" 2>&1 | tee -a "$log"
doc_status=${PIPESTATUS[0]}

read -r passed failed < <(
    awk '/^test result:/ {
            for (i = 1; i <= NF; i++) {
                if ($(i+1) ~ /^passed/) p += $i
                if ($(i+1) ~ /^failed/) f += $i
            }
         }
         # The Gherkin suite (harness = false) prints its own plain line.
         /^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$/ { p += $1; f += $3 }
         END { print p + 0, f + 0 }' "$log"
)
if [ "$status" -ne 0 ] || [ "$doc_status" -ne 0 ]; then
    # A build failure or crash leaves no "test result" line: count it as a failure.
    [ "$failed" -eq 0 ] && failed=1
fi
# Every test must remove what it created; anything named like a test buffer is a leak
# (zbtest_: zerobuffer_test_support::unique_name; zb_bench_, zbbench-: the benchmarks).
leaks="$(find /dev/shm /tmp/zerobuffer -mindepth 1 2>/dev/null \
    | grep -E '/(sem\.sem-[rw]-)?(zbtest_|zb_bench_|zbbench-)' || true)"
if [ -n "$leaks" ]; then
    echo "tests left shared-memory objects or lock files behind:"
    while IFS= read -r leak; do echo "    $leak"; done <<<"$leaks"
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
