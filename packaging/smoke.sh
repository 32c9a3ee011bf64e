#!/usr/bin/env bash
# Smoke test of the built bundle (after packaging/build.sh); slow, so not part of the CI tests.
# Every check runs the bundled binary itself, on data shipped inside the bundle, with no
# access to the source tree or the dev venv (PYTHONPATH is cleared, cwd is a temp folder).
#
#   packaging/smoke.sh [dist/musestudio]
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLE=$(cd "${1:-dist/musestudio}" 2>/dev/null && pwd) || { echo "smoke: no bundle at ${1:-dist/musestudio} (run packaging/build.sh)" >&2; exit 2; }
BIN="$BUNDLE/musestudio"
DATA="$BUNDLE/_internal"
[ -d "$DATA" ] || DATA="$BUNDLE"
DEMO="$DATA/resources/demo/maple_leaf_rag.mid"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/musestudio-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export QT_QPA_PLATFORM=offscreen PYTHONPATH= MUSESTUDIO_STATE_DIR="$WORK/state" MUSESTUDIO_SETTINGS="$WORK/settings.ini"
unset MUSESTUDIO_MODELS

passed=0
failed=0
t0=$(date +%s)
ok() { passed=$((passed + 1)); printf 'smoke: PASS %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'smoke: FAIL %s\n' "$*"; }
run() {  # run NAME TIMEOUT CMD...: run the bundle, keep its output in NAME.log, show its tail on failure
  local name=$1 limit=$2; shift 2
  local s=$(date +%s)
  local rc=0
  timeout "$limit" "$@" >"$name.log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    printf 'smoke:      %-12s %3ss\n' "$name" "$(( $(date +%s) - s ))"
    return 0
  fi
  printf 'smoke:      %-12s exit %s after %ss:\n' "$name" "$rc" "$(( $(date +%s) - s ))"
  tail -n 15 "$name.log" | sed 's/^/    | /'
  return 1
}
notes_in() {  # notes_in FILE.mid: the note count that `musestudio info --json` reports
  "$BIN" info --json "$1" 2>/dev/null | grep -m1 '"notes"' | tr -dc '0-9'
}
png_ok() {  # png_ok FILE MIN_BYTES: a PNG of at least 800x500 pixels and MIN_BYTES bytes
  local f=$1 min=$2
  [ -f "$f" ] || return 1
  [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || return 1
  [ "$(stat -c %s "$f")" -ge "$min" ] || return 1
  local w h
  w=$(od -An -tu1 -j16 -N4 "$f" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
  h=$(od -An -tu1 -j20 -N4 "$f" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
  [ "$w" -ge 800 ] && [ "$h" -ge 500 ]
}

echo "smoke: bundle $BUNDLE ($(du -sh "$BUNDLE" | cut -f1))"

# 1. --version
if run version 60 "$BIN" --version && grep -q '^musestudio [0-9]' version.log; then
  ok "--version: $(cat version.log)"
else
  bad "--version"
fi

# 2. a headless screenshot of the demo piece (the app opens the demo when given no file)
if run screenshot 300 "$BIN" gui --screenshot "$WORK/shot.png" --size 1400x900 && png_ok shot.png 30000; then
  ok "--screenshot: shot.png $(stat -c %s shot.png) bytes"
  cp shot.png "${SMOKE_KEEP:-/dev/null}" 2>/dev/null || true
else
  bad "--screenshot (no PNG, or a blank/small one)"
fi

# 3. score I/O on bundled data: MIDI -> MusicXML -> notes back (music21 inside the bundle)
if run musicxml 300 "$BIN" export "$DEMO" -o demo.musicxml && n=$(notes_in "$DEMO") && [ "${n:-0}" -gt 100 ] \
   && run info_xml 120 "$BIN" info demo.musicxml && grep -q 'notes' info_xml.log; then
  ok "export to MusicXML and read back ($n notes in the demo)"
else
  bad "MusicXML export/read"
fi

# 4. transcribe a rendered clip of the demo piece, and score it against the demo's notes
if run render 300 "$BIN" export "$DEMO" -o demo.wav && run transcribe 600 "$BIN" transcribe demo.wav -o transcribed.mid; then
  got=$(notes_in transcribed.mid)
  ref=$(notes_in "$DEMO")
  if [ "${got:-0}" -gt 50 ]; then
    f1=$("$BIN" metrics --json --transcription-reference "$DEMO" transcribed.mid 2>/dev/null \
         | grep -m1 -E '"(note_f1|onset_f1|f1)"' | sed -E 's/.*: *([0-9.eE+-]+).*/\1/' | cut -c1-5)
    ok "transcribe: $got notes from the rendered demo (reference $ref)${f1:+, onset F1 $f1}"
  else
    bad "transcribe produced ${got:-no} notes"
  fi
else
  bad "render + transcribe"
fi

# 5. generate a continuation of the demo's first 10 s with each shipped model
models=$(ls -d "$DATA"/models/*/ 2>/dev/null | xargs -n1 basename 2>/dev/null | grep -E '^(markov|lstm|transformer|gan)$' || true)
[ -n "$models" ] || bad "no shipped generation model in the bundle"
for m in $models; do
  if run "gen_$m" 300 "$BIN" generate "$DEMO" --seed-end 10 --seconds 8 --model "$m" --random-seed 7 -o "gen_$m.mid"; then
    got=$(notes_in "gen_$m.mid")
    if [ "${got:-0}" -gt 5 ]; then ok "generate --model $m: gen_$m.mid has $got notes (seed + continuation)"; else bad "generate --model $m: ${got:-no} notes"; fi
  else
    bad "generate --model $m"
  fi
done

# 6. a broken file gives one clean line, not a traceback
printf 'not a midi file' > broken.mid
"$BIN" info broken.mid >broken.log 2>&1
if [ $? -eq 1 ] && [ "$(wc -l < broken.log)" -eq 1 ] && ! grep -q Traceback broken.log; then
  ok "broken input: $(cat broken.log)"
else
  bad "broken input did not give one clean line"; sed 's/^/    | /' broken.log
fi

echo "smoke: $passed passed, $failed failed in $(( $(date +%s) - t0 )) s"
[ "$failed" -eq 0 ]
