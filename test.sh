#!/usr/bin/env bash
# Runs the shared Gherkin suite (features/).
#
#   ./test.sh                     every scenario, in this process (reader and writer in one World)
#   ./test.sh 1.1                 exactly Test 1.1 (not 1.10)
#   ./test.sh "13.*"              a group;  ./test.sh 1.1,4.2  a list
#   ./test.sh --features DIR [FILTER]   another directory of feature files in the same vocabulary
#   ./test.sh -v ...              show step logs (tracing at debug level, on stderr)
#
# Builds what it needs first; exits non-zero if any scenario fails. The last line is
# "N passed, N failed, N skipped". JUnit XML goes to target/bdd/junit.xml.
# Durations of @long-running and @benchmark scenarios scale with ZEROBUFFER_SUITE_SCALE
# (default 0.001; 1 runs them as written).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")"

args=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help)
            sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
            exit 0 ;;
        --features)
            [ $# -ge 2 ] || { echo "test.sh: --features needs a directory" >&2; exit 2; }
            args+=("--features" "$(cd "$2" && pwd)"); shift 2 ;;
        -v|--verbose)
            args+=("-v"); shift ;;
        [0-9]*)
            args+=("$1"); shift ;;
        [a-z]*)
            echo "test.sh: '$1': cross-process runs (PLATFORM[_PLATFORM]) need the harmony orchestrator, which is not built yet; run ./test.sh [FILTER] for the in-process suite" >&2
            exit 2 ;;
        *)
            echo "test.sh: unknown argument '$1' (see ./test.sh --help)" >&2
            exit 2 ;;
    esac
done

cargo build --quiet -p zerobuffer-steps --tests
exec cargo test --quiet -p zerobuffer-steps --test bdd -- "${args[@]}"
