"""Property-based fuzzing: readers and decoders either return something well-formed or raise a clean error.

Example counts are modest so that the suite stays fast; raise them locally
with ``--hypothesis-profile=fuzz-long`` (registered below) when changing a reader.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from make_corpus import header, many_notes_midi, note_pair, simple_midi, tempo_event, track, vlq

from musestudio.core.errors import InputFileError
from musestudio.core.notes import NoteSequence

settings.register_profile("fuzz-long", max_examples=5000, deadline=None)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# The hand-written SMF parser is cheap to run and the most exposed: it gets more examples.
MIDI = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DECODER = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_well_formed(seq: NoteSequence) -> None:
    assert isinstance(seq, NoteSequence)
    for n in seq.notes:
        assert 0 <= n.pitch <= 127
        assert 0 <= n.velocity <= 127
        assert math.isfinite(n.start) and math.isfinite(n.end)
        assert n.start >= 0
        assert n.end >= n.start
    assert math.isfinite(seq.duration)


# --- the MIDI reader -----------------------------------------------------------------------------

SEEDS = [
    simple_midi(),
    simple_midi(tempo_event(1) + note_pair(60, 0) + note_pair(61, 5000)),
    header(1, 2, 96) + track(tempo_event(600_000)) + track(b"".join(note_pair(40 + i, 30, gap=7) for i in range(20))),
    many_notes_midi(50),
]


def read_bytes(data: bytes) -> None:
    from musestudio.io.midi import midi_bytes_to_sequence

    try:
        seq = midi_bytes_to_sequence(data)
    except InputFileError:
        return
    assert_well_formed(seq)


@MIDI
@given(st.binary(max_size=2000))
def test_midi_reader_random_bytes(data: bytes) -> None:
    read_bytes(data)


@MIDI
@given(st.binary(max_size=600))
def test_midi_reader_random_body_after_valid_header(body: bytes) -> None:
    read_bytes(header(1, 2, 480) + b"MTrk" + len(body).to_bytes(4, "big") + body)


def test_midi_reader_over_long_delta_time_is_read_as_a_truncation() -> None:
    """Found by the fuzz test above: a delta of nine bytes (the standard allows four) overflowed the int64 ticks."""
    body = b"\x00\x00\x00\x00\x00\x90\x00\x00\x00\x00\x00\x00\x00\x01\x81" + b"\x80" * 8 + b"\x00"
    read_bytes(header(1, 2, 480) + b"MTrk" + len(body).to_bytes(4, "big") + body)
    from musestudio.io.midi import midi_bytes_to_sequence

    seq = midi_bytes_to_sequence(header(0, 1, 480) + track(note_pair(60, 480) + b"\x81" + b"\x80" * 8 + b"\x00\x90\x40\x40"))
    assert [n.pitch for n in seq.notes] == [60]  # what came before the bad delta is kept


@MIDI
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=12),
    st.integers(0, 10_000),
)
def test_midi_reader_mutated_files(seed: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for pos, value in flips:
        data[pos % len(data)] = value
    read_bytes(bytes(data[: max(cut, 14)]))


@MIDI
@given(st.lists(st.tuples(st.integers(0, 0x0FFFFFFF), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))))
def test_midi_reader_random_events(events: list[tuple[int, int, int, int]]) -> None:
    """Well-framed chunks of arbitrary events: any status, any delta, running status everywhere."""
    body = b"".join(vlq(d) + bytes([a, b, c]) for d, a, b, c in events)
    read_bytes(header(0, 1, 480) + track(body))


# --- the token decoder ---------------------------------------------------------------------------


@FAST
@given(st.lists(st.integers(-(2**40), 2**40), max_size=400), st.floats(0, 1e4))
def test_token_decoder_any_tokens(tokens: list[int], origin: float) -> None:
    tokenizer_mod = pytest.importorskip("musestudio.ml.tokenizer")
    tok = tokenizer_mod.PerformanceTokenizer()
    seq = tok.decode(np.array(tokens, dtype=np.int64), origin=origin)
    assert_well_formed(seq)
    assert all(n.start >= origin for n in seq.notes)


@FAST
@given(st.data())
def test_token_decoder_in_vocabulary_round_trip(data: st.DataObject) -> None:
    """Random in-vocabulary streams decode, and re-encoding the result decodes to the same notes."""
    tokenizer_mod = pytest.importorskip("musestudio.ml.tokenizer")
    tok = tokenizer_mod.PerformanceTokenizer()
    tokens = data.draw(st.lists(st.integers(0, tok.vocab_size - 1), max_size=300))
    first = tok.decode(np.array(tokens, dtype=np.int64))
    assert_well_formed(first)
    again = tok.decode(tok.encode(first))
    key = sorted((n.pitch, round(n.start, 6)) for n in first.notes)
    assert sorted((n.pitch, round(n.start, 6)) for n in again.notes) == key


# --- the transcription decoder -------------------------------------------------------------------

PROB = st.floats(0.0, 1.0, allow_nan=False, width=32)
ODD = st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 2.0, 0.0, 1.0])


def decode_random(
    frames: int,
    seed: int,
    poison: list[tuple[int, float]],
    onset_threshold: float,
    frame_threshold: float,
    min_note_ms: float,
    frame_rate: float,
) -> None:
    decode_mod = pytest.importorskip("musestudio.ml.decode")
    transcribe_mod = pytest.importorskip("musestudio.ml.transcribe")
    rng = np.random.default_rng(seed)
    heads = {k: rng.random((frames, 88), dtype=np.float32) ** 3 for k in ("onset", "frame", "offset", "velocity")}
    pedal = rng.random(frames, dtype=np.float32)
    for pos, value in poison:
        if frames:
            head = heads[("onset", "frame", "offset", "velocity")[pos % 4]]
            head.flat[pos % head.size] = value
    acts = transcribe_mod.Activations(**heads, pedal=pedal, frame_rate=frame_rate)
    settings_ = decode_mod.DecodeSettings(
        onset_threshold=onset_threshold, frame_threshold=frame_threshold, min_note_ms=min_note_ms
    )
    seq = decode_mod.decode(acts, settings_)
    assert_well_formed(seq)
    lo, hi = settings_.pitch_range
    assert all(lo <= n.pitch <= hi for n in seq.notes)
    assert all(n.end <= frames / frame_rate + 1.0 for n in seq.notes)


DECODE_ARGS = {
    "frames": st.integers(0, 120),
    "seed": st.integers(0, 2**32 - 1),
    "onset_threshold": PROB,
    "frame_threshold": PROB,
    "min_note_ms": st.floats(0, 500),
    "frame_rate": st.sampled_from([1.0, 31.25, 86.1328125, 1000.0]),
}


@DECODER
@given(**DECODE_ARGS)
def test_transcription_decoder_random_activations(**kwargs: object) -> None:
    decode_random(poison=[], **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 7.0, -3.0])
@pytest.mark.parametrize("head", ["onset", "frame", "offset", "velocity", "pedal"])
def test_transcription_decoder_survives_poisoned_activations(head: str, value: float, request: pytest.FixtureRequest) -> None:
    """A broken model or a half-written activation cache must not crash the decoder: one clear note, one bad value."""
    decode_mod = pytest.importorskip("musestudio.ml.decode")
    transcribe_mod = pytest.importorskip("musestudio.ml.transcribe")
    frames, key = 40, 39  # key 39 = MIDI 60
    heads = {k: np.zeros((frames, 88), np.float32) for k in ("onset", "frame", "offset", "velocity")}
    heads["onset"][5, key] = 1.0
    heads["frame"][5:25, key] = 1.0
    heads["velocity"][5:25, key] = 0.6
    pedal = np.zeros(frames, np.float32)
    if head == "pedal":
        pedal[5] = value
    else:
        heads[head][5, key] = value
    acts = transcribe_mod.Activations(**heads, pedal=pedal, frame_rate=31.25)
    seq = decode_mod.decode(acts, decode_mod.DecodeSettings())
    assert_well_formed(seq)
