"""Render a NoteSequence to audio.

The real piano comes from a SoundFont rendered by the FluidSynth program
(Debian's ``fluidsynth``; it renders a minute of piano in well under a second).
When either is missing we fall back to a small additive synthesizer written
here, so that export and playback always produce *something* audible.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from musestudio.core.errors import MusestudioError
from musestudio.core.notes import NoteSequence

SOUNDFONT_ENV = "MUSESTUDIO_SOUNDFONT"
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
# Rendering writes every sample: a stray note hours after the music (a broken
# tempo map) must be refused, not rendered into gigabytes of silence.
MAX_RENDER_SECONDS = 3 * 3600
# Seconds rendered past the last note (release and reverb tails).
RENDER_TAIL_SECONDS = 10.0


def check_render_length(seq: NoteSequence) -> None:
    """Refuse to render a sequence whose end lies beyond MAX_RENDER_SECONDS."""
    if seq.duration > MAX_RENDER_SECONDS:
        raise MusestudioError(
            f"cannot render {seq.duration / 3600:,.1f} h of audio (the limit is {MAX_RENDER_SECONDS // 3600} h); "
            "the file's timing is probably broken"
        )


def find_soundfont(preferred: str | os.PathLike[str] | None = None) -> Path | None:
    """The first SoundFont that exists: the argument, $MUSESTUDIO_SOUNDFONT, then system paths."""
    for cand in (preferred, os.environ.get(SOUNDFONT_ENV), *SOUNDFONT_CANDIDATES):
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


def fluidsynth_available() -> bool:
    return shutil.which("fluidsynth") is not None


def render_with_fluidsynth(
    seq: NoteSequence,
    soundfont: str | os.PathLike[str],
    sample_rate: int = 44100,
    *,
    gain: float = 0.6,
    reverb: bool = True,
    extra_settings: dict[str, str | float | int] | None = None,
) -> np.ndarray:
    """Mono float32 audio of ``seq`` through FluidSynth's fast offline renderer."""
    from musestudio.io.audio import load_audio
    from musestudio.io.midi import sequence_to_midi_bytes

    check_render_length(seq)
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise MusestudioError("FluidSynth is not installed (apt-get install fluidsynth)")
    with tempfile.TemporaryDirectory(prefix="musestudio-render-") as tmp:
        mid = Path(tmp) / "in.mid"
        wav = Path(tmp) / "out.wav"
        mid.write_bytes(sequence_to_midi_bytes(seq))
        cmd = [exe, "-ni", "-q", "-F", str(wav), "-r", str(int(sample_rate)), "-g", f"{gain:.3f}"]
        settings: dict[str, str | float | int] = {
            "synth.reverb.active": int(reverb),
            "synth.chorus.active": 0,
            "audio.file.format": "s16",  # 4 bytes per stereo frame: the size watch below relies on it
        }
        settings.update(extra_settings or {})
        for k, v in settings.items():
            cmd += ["-o", f"{k}={v}"]
        cmd += [str(soundfont), str(mid)]
        # FluidSynth 2.x's fast renderer sometimes never reaches the end of a long, pedal-heavy
        # file and keeps writing silence (seen: 22 GB from a 20-minute performance).  The length
        # of the music is known, so the output is watched and cut there.
        seconds = seq.duration + RENDER_TAIL_SECONDS
        runaway = _run_with_size_limit(cmd, wav, limit_bytes=int(seconds * sample_rate * 4 * 1.5) + (1 << 20))
        if runaway is None:
            raise MusestudioError("FluidSynth did not finish within 10 minutes")
        returncode, stderr, cut = runaway
        if (returncode != 0 and not cut) or not wav.exists():
            err = stderr.decode(errors="replace").strip().splitlines()
            raise MusestudioError(f"FluidSynth failed: {err[-1] if err else returncode}")
        audio, _ = load_audio(wav)
        if cut:
            audio = audio[: int(seconds * sample_rate)]
    return audio


def _run_with_size_limit(cmd: list[str], out: Path, *, limit_bytes: int, timeout: float = 600.0):  # type: ignore[no-untyped-def]
    """Run ``cmd``; stop it once ``out`` grows past ``limit_bytes``.

    Returns (returncode, stderr, cut) with cut=True when it was stopped for size,
    or None when it ran past ``timeout`` seconds.
    """
    import time

    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        cut = timed_out = False
        try:
            while proc.poll() is None:
                if out.exists() and out.stat().st_size > limit_bytes:
                    cut = True
                    proc.terminate()
                    proc.wait(timeout=10)
                    break
                if time.monotonic() > deadline:
                    timed_out = True
                    break
                time.sleep(0.02)
        finally:
            if proc.poll() is None:  # timed out, or ignored terminate(): the finally kills it
                proc.kill()
                proc.wait()
        if timed_out:
            return None
        err.seek(0)
        return proc.returncode, err.read(), cut


def render_additive(seq: NoteSequence, sample_rate: int = 22050) -> np.ndarray:
    """A plain decaying-harmonics piano stand-in, used when no SoundFont is available."""
    check_render_length(seq)
    seq = seq.with_sustain_applied()
    n = int((seq.duration + 1.0) * sample_rate)
    out = np.zeros(n, dtype=np.float32)
    for note in seq.notes:
        a = int(note.start * sample_rate)
        dur = max(note.end - note.start, 0.05) + 0.15  # short release tail
        m = min(int(dur * sample_rate), n - a)
        if m <= 0:
            continue
        t = np.arange(m, dtype=np.float32) / sample_rate
        f0 = 440.0 * 2 ** ((note.pitch - 69) / 12)
        env = np.exp(-t * (1.5 + f0 / 500.0)).astype(np.float32)
        release = np.clip((dur - t) / 0.15, 0, 1)
        wave = np.zeros(m, dtype=np.float32)
        for h, amp in ((1, 1.0), (2, 0.5), (3, 0.25), (4, 0.12)):
            if f0 * h < sample_rate / 2:
                wave += amp * np.sin(2 * np.pi * f0 * h * t).astype(np.float32)
        out[a : a + m] += (note.velocity / 127.0) * 0.15 * wave * env * release
    peak = float(np.abs(out).max()) if len(out) else 0.0
    if peak > 0.99:
        out *= 0.99 / peak
    return out


def render(seq: NoteSequence, sample_rate: int = 44100, soundfont: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Best available rendering: SoundFont through FluidSynth, else the additive synth."""
    sf = find_soundfont(soundfont)
    if sf is not None and fluidsynth_available():
        return render_with_fluidsynth(seq, sf, sample_rate)
    return render_additive(seq, sample_rate)


def describe_renderer(soundfont: str | os.PathLike[str] | None = None) -> str:
    sf = find_soundfont(soundfont)
    if sf is not None and fluidsynth_available():
        return f"FluidSynth with {sf.name}"
    return "built-in additive synth (no SoundFont/FluidSynth found)"
