#!/usr/bin/env bash
# Creates .venv-peer at the repository root with the peer's requirements (quixstreams,
# jsonschema). Idempotent: a marker file holding a hash of requirements.txt says the
# venv is complete and current; delete .venv-peer to start over.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv-peer"
requirements="$here/requirements.txt"
marker="$venv/.peer-requirements.sha256"
python="${PYTHON:-python3.11}"

wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -f "$marker" && "$(cat "$marker")" == "$wanted" ]]; then
    echo "peer venv ready: $venv"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
# a local wheel cache is used when present (PIP_FIND_LINKS), else the package index
if [[ -d /opt/wheels && -z "${PIP_FIND_LINKS:-}" ]]; then
    export PIP_FIND_LINKS=/opt/wheels
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$requirements"
"$venv/bin/python" -c "import quixstreams, jsonschema; print('quixstreams', quixstreams.__version__)" 2>/dev/null
# git ignores the whole venv (the root .gitignore names only .venv/)
echo '*' > "$venv/.gitignore"
echo "$wanted" > "$marker"
echo "peer venv ready: $venv"
