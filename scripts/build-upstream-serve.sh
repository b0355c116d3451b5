#!/usr/bin/env bash
# Builds an upstream ZeroBuffer serve (C++ or C#) from a checkout of the upstream sources and
# prints the command line to put in ZEROBUFFER_SERVE_CPP / ZEROBUFFER_SERVE_CSHARP.
#
# Usage: scripts/build-upstream-serve.sh cpp|csharp [SOURCE_DIR]   (default: ../zerobuffer)
#
# The build goes to target/upstream/<platform>/ in this repository; the upstream checkout is
# only read. Exit status: 0 with the command line as the last line of stdout; 1 when the
# build fails or produces no serve; 2 for usage errors and when SOURCE_DIR or the toolchain
# is missing (so CI can tell "nothing to build here" from "the build is broken").
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    echo "usage: $0 cpp|csharp [SOURCE_DIR]" >&2
    exit 2
}

missing() {
    echo "build-upstream-serve: $1" >&2
    exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
platform="$1"
case "$platform" in cpp | csharp) ;; *) usage ;; esac
source_dir="${2:-$root/../zerobuffer}"
[ -d "$source_dir" ] || missing "no upstream checkout at $source_dir"
source_dir="$(cd -- "$source_dir" && pwd)"
out="$root/target/upstream/$platform"

# Exactly one executable file called $2 under $1, or a clear failure.
find_one() {
    local found
    found="$(find "$1" -type f -name "$2" -perm -u+x 2>/dev/null | sort)"
    if [ -z "$found" ]; then
        echo "build-upstream-serve: the build produced no executable named $2 under $1" >&2
        exit 1
    fi
    if [ "$(wc -l <<<"$found")" -ne 1 ]; then
        echo "build-upstream-serve: more than one $2 under $1:" >&2
        while IFS= read -r path; do echo "    $path" >&2; done <<<"$found"
        exit 1
    fi
    echo "$found"
}

case "$platform" in
cpp)
    [ -f "$source_dir/cpp/CMakeLists.txt" ] || missing "no cpp/CMakeLists.txt in $source_dir"
    command -v cmake >/dev/null || missing "cmake is not installed"
    cmake -S "$source_dir/cpp" -B "$out" -DCMAKE_BUILD_TYPE=Release >&2
    cmake --build "$out" --parallel "$(nproc)" >&2
    find_one "$out" zerobuffer-serve
    ;;
csharp)
    project="$source_dir/csharp/ZeroBuffer.Serve"
    [ -d "$project" ] || missing "no csharp/ZeroBuffer.Serve in $source_dir"
    command -v dotnet >/dev/null || missing "dotnet is not installed"
    dotnet build "$project" -c Release -o "$out" >&2
    find_one "$out" ZeroBuffer.Serve
    ;;
esac
