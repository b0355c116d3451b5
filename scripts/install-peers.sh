#!/usr/bin/env bash
# Install the Python ZeroBuffer peer (PyPI zerobuffer-ipc) into <repo>/.venv for interop tests.
# Idempotent: does nothing if the exact version is already importable.
set -euo pipefail

PEER_PKG="zerobuffer-ipc"
PEER_VERSION="1.3.0"

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
PYTHON3="${PYTHON3:-python3}"

created=""
if [ ! -x "$PY" ]; then
    if ! command -v "$PYTHON3" >/dev/null 2>&1; then
        echo "install-peers: error: $PYTHON3 not found; install Python 3 (e.g. apt-get install python3 python3-venv)" >&2
        exit 1
    fi
    rm -rf "$VENV"
    if ! venv_err="$("$PYTHON3" -m venv "$VENV" 2>&1)"; then
        rm -rf "$VENV"
        echo "$venv_err" >&2
        if printf '%s' "$venv_err" | grep -qi 'ensurepip'; then
            echo "install-peers: error: python3 -m venv failed because ensurepip is missing; run: apt-get install -y python3-venv" >&2
        else
            echo "install-peers: error: '$PYTHON3 -m venv $VENV' failed (on Debian/Ubuntu: apt-get install -y python3-venv)" >&2
        fi
        exit 1
    fi
    created="created $VENV; "
fi

peer_ok() {
    "$PY" - "$PEER_PKG" "$PEER_VERSION" >/dev/null 2>&1 <<'PYEOF'
import sys
from importlib.metadata import version
import zerobuffer, zerobuffer_serve  # noqa: F401
sys.exit(0 if version(sys.argv[1]) == sys.argv[2] else 1)
PYEOF
}

if peer_ok; then
    echo "install-peers: ${created}${PEER_PKG}==${PEER_VERSION} already installed in $VENV"
    exit 0
fi

"$PY" -m pip install -q --disable-pip-version-check "${PEER_PKG}[linux]==${PEER_VERSION}"

if ! peer_ok; then
    echo "install-peers: error: installed ${PEER_PKG}==${PEER_VERSION} but 'import zerobuffer, zerobuffer_serve' still fails in $VENV" >&2
    exit 1
fi
echo "install-peers: ${created}installed ${PEER_PKG}[linux]==${PEER_VERSION} into $VENV"
