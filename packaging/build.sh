#!/usr/bin/env bash
# Build the one-folder desktop bundle dist/musestudio/ (run it, then packaging/smoke.sh).
#
# PyInstaller runs from its own clean venv (build/bundle-venv) holding only the app's runtime
# dependencies, never the dev tools of .venv, so nothing test-only leaks into the bundle.
# The venv is reused while pyproject.toml and this script are unchanged; CLEAN=1 rebuilds it.
#
#   packaging/build.sh            # about 10 minutes on 2 cores the first time
#   CLEAN=1 packaging/build.sh    # fresh venv too
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
VENV=${BUNDLE_VENV:-build/bundle-venv}
# torch stays pinned: a plain `pip install torch` may pull a multi-GB CUDA build.  Where pip would
# resolve a CUDA wheel, point PIP_EXTRA_INDEX_URL (or PIP_FIND_LINKS) at the CPU wheels first.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PYINSTALLER_SPEC=${PYINSTALLER_SPEC:-pyinstaller==6.22.3}
NICE=${NICE:-nice -n 5}

start=$(date +%s)
log() { printf 'build: [%4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

if [ "${CLEAN:-0}" = 1 ]; then
  log "removing $VENV"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  log "creating clean venv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.bundle-deps"
want=$(cat pyproject.toml packaging/build.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing runtime dependencies into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "$TORCH_SPEC"
  # The [project] dependencies of pyproject.toml, without the package itself (PyInstaller
  # takes musestudio from this checkout) and without the dev/train extras.
  mapfile -t deps < <("$VENV/bin/python" - <<'PY'
import tomllib
with open("pyproject.toml", "rb") as fh:
    for dep in tomllib.load(fh)["project"]["dependencies"]:
        print(dep)
PY
)
  "$VENV/bin/python" -m pip install -q "${deps[@]}" "$PYINSTALLER_SPEC"
  if "$VENV/bin/python" -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
    echo "build: error: CUDA packages ended up in $VENV; install a CPU torch (see TORCH_SPEC)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
log "torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)')"

if [ ! -f resources/icons/musestudio-256.png ]; then
  log "rendering icons"
  QT_QPA_PLATFORM=offscreen "$VENV/bin/python" packaging/make_icons.py
fi
if [ -d models ] && [ ! -f models/manifest.json ]; then
  echo "build: warning: models/ has no manifest.json; the bundle's models cannot be verified" >&2
fi

log "running PyInstaller"
rm -rf dist/musestudio
OMP_NUM_THREADS=1 $NICE "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/musestudio.spec

bundle="$ROOT/dist/musestudio"
[ -x "$bundle/musestudio" ] || { echo "build: error: $bundle/musestudio was not produced" >&2; exit 1; }
size=$(du -sh "$bundle" | cut -f1)
log "done: $bundle ($size, $(find "$bundle" -type f | wc -l) files) in $(( $(date +%s) - start )) s"
