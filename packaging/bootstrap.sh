#!/usr/bin/env bash
# Create or update the virtual environment and install every dependency,
# Debian packages included.  Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

DEBS=(
  fluidsynth                          # SoundFont renderer: playback, WAV export, training renders
  fluid-soundfont-gm                  # FluidR3 GM piano (default playback)
  musescore-general-soundfont-small   # second piano, used in training renders
  timgm6mb-soundfont                  # third piano, held out for transcription tests
  fluidr3mono-gm-soundfont            # FluidR3 re-cut in mono: one more piano for palette-v2 training renders
  libportaudio2                       # sounddevice
  chromium chromium-driver            # headless browser test of the listening-test HTML page (tests/listening)
  desktop-file-utils appstream        # validate the .desktop entry and AppStream metainfo (tests/packaging)
  libegl1 libgl1 libfontconfig1 libxkbcommon0 libdbus-1-3   # Qt (offscreen too)
  xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0
  libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0  # real windows under Xvfb
)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for d in "${DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
      echo "bootstrap: warning: not root and no sudo; install these by hand: ${missing[*]}" >&2; missing=(); fi
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || true
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || echo "bootstrap: warning: some Debian packages could not be installed" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.musestudio-installed"
want=$(cat pyproject.toml packaging/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # torch is pinned to the local CPU build; installing it first keeps pip from
  # resolving a CUDA build for anything that depends on torch.
  "$VENV/bin/python" -m pip install -q "torch==2.13.0"
  "$VENV/bin/python" -m pip install -q -e ".[dev,train]"
  echo "$want" > "$stamp"
fi
