"""Inputs that would exhaust memory are refused clearly or streamed, never left for the OS to kill.

The big files cost almost nothing to make: the 6-hour WAV is a sparse file
(its body is a hole the file system reads as silence), and the 10-million-note
MIDI file is built with numpy in about a second.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
from make_corpus import many_notes_midi, sparse_wav, zip_bomb_mxl

from musestudio.core.errors import InputFileError, MusestudioError


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module")
def six_hour_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("limits") / "six_hours.wav"
    sparse_wav(path, 6 * 3600, sample_rate=8000)
    return path


def test_six_hour_audio_is_refused_for_whole_file_loading(six_hour_wav: Path) -> None:
    from musestudio.io.audio import load_audio

    before = peak_rss_mb()
    with pytest.raises(InputFileError, match=r"6\.0 h long"):
        load_audio(six_hour_wav, 16000)
    assert peak_rss_mb() - before < 100, "refusing must not read the samples first"


def test_six_hour_audio_info_is_cheap(six_hour_wav: Path) -> None:
    from musestudio.io.audio import audio_info

    info = audio_info(six_hour_wav)
    assert info.duration == pytest.approx(6 * 3600)


def test_six_hour_audio_streams_in_bounded_blocks(six_hour_wav: Path) -> None:
    from musestudio.io.audio import iter_audio_blocks

    before = peak_rss_mb()
    blocks = iter_audio_blocks(six_hour_wav, 16000, block_seconds=30.0)
    seen = 0
    for block in blocks:
        assert len(block) <= 31 * 16000
        seen += 1
        if seen == 4:
            break
    blocks.close()
    assert seen == 4
    assert peak_rss_mb() - before < 100


def test_six_hour_audio_transcription_is_refused_or_cancellable(six_hour_wav: Path) -> None:
    """Transcribing 6 h on a CPU takes hours: it must refuse, or stream with progress and stop when cancelled."""
    transcribe = pytest.importorskip("musestudio.ml.transcribe")
    from musestudio.core.progress import CancelToken, Progress

    token = CancelToken()
    start = time.monotonic()
    before = peak_rss_mb()
    try:
        work = transcribe.run_inference_work(str(six_hour_wav), cancel=token)
        for item in work:
            if isinstance(item, Progress):
                token.cancel()
            assert time.monotonic() - start < 120
    except MusestudioError:
        pass  # refused or cancelled: both are clean
    else:
        pytest.fail("6 hours of audio was neither refused nor stopped by Cancel")
    assert peak_rss_mb() - before < 2000


@pytest.mark.slow
def test_ten_million_note_midi_is_refused_early(tmp_path: Path) -> None:
    from musestudio.io.midi import MAX_NOTES, read_midi

    path = tmp_path / "ten_million.mid"
    path.write_bytes(many_notes_midi(10_000_000))
    before = peak_rss_mb()
    start = time.monotonic()
    with pytest.raises(InputFileError, match=f"{MAX_NOTES:,}"):
        read_midi(path)
    elapsed = time.monotonic() - start
    grown = peak_rss_mb() - before
    # Parsing stops at MAX_NOTES: memory is that of 2 M notes, not 10 M (which took ~1.5 GB).
    assert grown < 900, f"peak memory grew by {grown:.0f} MB"
    assert elapsed < 60


def test_zip_bomb_mxl_is_refused_before_inflating(tmp_path: Path) -> None:
    from musestudio.io.musicxml import read_musicxml

    path = tmp_path / "bomb.mxl"
    path.write_bytes(zip_bomb_mxl(80))
    start = time.monotonic()
    with pytest.raises(InputFileError, match="unpack"):
        read_musicxml(path)
    assert time.monotonic() - start < 5


def test_rendering_absurd_length_is_refused() -> None:
    from musestudio.core.notes import Note, NoteSequence
    from musestudio.io.synth import render, render_additive

    seq = NoteSequence(notes=[Note(60, 0.0, 1.0, 80), Note(62, 5e9, 5e9 + 1, 80)])
    for fn in (render, render_additive):
        with pytest.raises(MusestudioError, match="cannot render"):
            fn(seq, 22050)
