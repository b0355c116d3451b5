#!/usr/bin/env bash
# Runs the shared Gherkin suite (features/).
#
#   ./test.sh                     every scenario, in this process (reader and writer in one World)
#   ./test.sh 1.1                 exactly Test 1.1 (not 1.10)
#   ./test.sh "13.*"              a group;  ./test.sh 1.1,4.2  a list
#   ./test.sh --features DIR [FILTER]   another directory of feature files in the same vocabulary
#                                 (also cross-process: ./test.sh rust --features DIR [FILTER])
#   ./test.sh --expected-failures FILE ...   known failures (harmony's format; in-process
#                                 entries use combination "in-process")
#   ./test.sh -v ...              show step logs (tracing at debug level, on stderr)
#   ./test.sh --dry-run [FILTER]  parse and route the selected scenarios, list undefined steps
#                                 with the nearest lines of the vocabulary, run nothing (also
#                                 ./test.sh rust --dry-run ..., ./test.sh --features DIR --dry-run)
#   ./test.sh rust_python [FILTER]   cross-process, through harmony: one serve process per role,
#                                 roles sorted (reader/client first) take the platforms in order
#   ./test.sh rust [FILTER]       two Rust serve processes;  ./test.sh all [FILTER]  every
#                                 available combination (harmony-config.json; cpp and csharp
#                                 need ZEROBUFFER_SERVE_CPP / ZEROBUFFER_SERVE_CSHARP)
#
# Builds what it needs first; exits non-zero if any scenario fails or is undefined (a step
# no binding matches: the scenario does not run, counts as failed, and each distinct
# undefined step is listed with suggestions). The last line is "N passed, N failed,
# N skipped"; a dry run counts as passed the scenarios whose every step is defined, as
# failed the undefined ones. JUnit XML goes to target/bdd/junit.xml.
# Durations of @long-running and @benchmark scenarios scale with ZEROBUFFER_SUITE_SCALE
# (default 0.001; 1 runs them as written).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")"

args=()
combination=""
dry_run=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help)
            sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
            exit 0 ;;
        --features)
            [ $# -ge 2 ] || { echo "test.sh: --features needs a directory" >&2; exit 2; }
            args+=("--features" "$(cd "$2" && pwd)"); shift 2 ;;
        --expected-failures)
            [ $# -ge 2 ] || { echo "test.sh: --expected-failures needs a file" >&2; exit 2; }
            args+=("--expected-failures" "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
        -v|--verbose)
            args+=("-v"); shift ;;
        --dry-run)
            args+=("--dry-run"); dry_run=1; shift ;;
        [0-9]*)
            args+=("$1"); shift ;;
        [a-z]*)
            [ -z "$combination" ] || { echo "test.sh: one PLATFORM[_PLATFORM] at a time" >&2; exit 2; }
            combination="$1"; shift ;;
        *)
            echo "test.sh: unknown argument '$1' (see ./test.sh --help)" >&2
            exit 2 ;;
    esac
done

if [ -n "$combination" ]; then
    harmony_args=("$combination")
    verbose=""
    for a in "${args[@]}"; do
        case "$a" in
            -v) verbose="-v" ;;
            --dry-run) harmony_args+=("--dry-run") ;;
            --features|--expected-failures) option="$a" ;;
            *) if [ -n "${option:-}" ]; then
                   harmony_args+=("$option" "$a"); option=""
               else
                   harmony_args+=("--filter" "$a")
               fi ;;
        esac
    done
    if [ -n "$dry_run" ]; then
        # A dry run starts no serve: harmony alone.
        cargo build --quiet --release -p harmony
    else
        # Cross-process: our serve in release, the Python peer on demand, then harmony.
        cargo build --quiet --release -p harmony -p zerobuffer-serve
        case "_${combination}_" in
            *_python_*|*-python-*|*_python-*|*-python_*) bash scripts/install-peers.sh >&2 ;;
            _all_) bash scripts/install-peers.sh >&2 || echo "test.sh: the Python peer is not available; 'all' runs without it" >&2 ;;
        esac
    fi
    exec target/release/harmony ${verbose:+"$verbose"} "${harmony_args[@]}"
fi

cargo build --quiet -p zerobuffer-steps --tests
exec cargo test --quiet -p zerobuffer-steps --test bdd -- "${args[@]}"
