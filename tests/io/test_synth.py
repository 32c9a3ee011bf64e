"""FluidSynth rendering: a renderer that never stops is cut at the music's length."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from musestudio.core.notes import Note, NoteSequence
from musestudio.io import synth


def test_a_runaway_writer_is_stopped_at_the_size_limit(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    forever = f"f=open({str(out)!r}, 'wb')\nwhile True:\n    f.write(bytes(65536)); f.flush()"
    t0 = time.monotonic()
    result = synth._run_with_size_limit([sys.executable, "-c", forever], out, limit_bytes=2 << 20, timeout=60)
    assert result is not None
    _, _, cut = result
    assert cut and time.monotonic() - t0 < 30
    assert out.stat().st_size < 200 << 20  # stopped soon after the limit, not minutes later


def test_a_normal_command_finishes_uncut(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    result = synth._run_with_size_limit(
        [sys.executable, "-c", f"open({str(out)!r}, 'wb').write(bytes(1000))"], out, limit_bytes=1 << 20
    )
    assert result is not None and result[0] == 0 and result[2] is False


def test_a_hung_command_times_out(tmp_path: Path) -> None:
    result = synth._run_with_size_limit([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "x",
                                        limit_bytes=1 << 20, timeout=0.5)
    assert result is None


@pytest.mark.skipif(not synth.fluidsynth_available() or synth.find_soundfont() is None, reason="needs FluidSynth + a SoundFont")
def test_fluidsynth_render_has_the_music_length() -> None:
    seq = NoteSequence(notes=[Note(60, 0.0, 1.0, 90), Note(67, 1.5, 2.0, 80)])
    audio = synth.render_with_fluidsynth(seq, synth.find_soundfont(), 16000, reverb=False)
    assert 2.0 * 16000 <= len(audio) <= (2.0 + synth.RENDER_TAIL_SECONDS + 5) * 16000
    assert abs(audio[: 16000]).max() > 0.01
