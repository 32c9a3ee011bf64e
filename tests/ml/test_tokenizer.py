"""Performance tokenizer: round trips over real files, garbage decoding, token classes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from musestudio.core.notes import Note, NoteSequence, PedalEvent
from musestudio.ml.tokenizer import PerformanceTokenizer
from tests.conftest import ASAP, DEMO_MIDI

TK = PerformanceTokenizer()
STEP = TK.config.time_step
VEL_WIDTH = 128 / TK.config.velocity_bins


def _music21(name: str) -> NoteSequence:
    from music21 import corpus

    from training.data.symbolic import _music21_sequence

    return _music21_sequence(str(corpus.getWork(name, fileExtensions=("mxl",))))


def _asap(i: int) -> NoteSequence:
    from musestudio.io.midi import read_midi
    from training.splits import asap_performances

    return read_midi(asap_performances(ASAP)[i].performance_midi)


def _demo() -> NoteSequence:
    from musestudio.io.midi import read_midi

    return read_midi(DEMO_MIDI)


SOURCES = [
    pytest.param(_demo, id="demo-maple-leaf-rag"),
    pytest.param(lambda: _music21("bach/bwv66.6"), id="music21-bwv66.6"),
    pytest.param(lambda: _music21("bach/bwv269"), id="music21-bwv269"),
    pytest.param(lambda: _asap(0), id="asap-0", marks=pytest.mark.shared_data),
    pytest.param(lambda: _asap(300), id="asap-300", marks=pytest.mark.shared_data),
    pytest.param(lambda: _asap(700), id="asap-700", marks=pytest.mark.shared_data),
]


@pytest.mark.parametrize("load", SOURCES)
def test_round_trip_is_exact_up_to_resolution(load) -> None:
    seq = load().without_duplicates()
    tokens = TK.encode(seq)
    decoded = TK.decode(tokens)
    # exact: re-encoding the decoded piece gives the very same tokens
    assert np.array_equal(TK.encode(decoded), tokens)
    # up to resolution: every piano note comes back within half a time step and one velocity bin
    src = sorted((n for n in seq.notes if 21 <= n.pitch <= 108), key=lambda n: (n.pitch, n.start))
    out = sorted(decoded.notes, key=lambda n: (n.pitch, n.start))
    assert len(out) == len(src) > 0
    for a, b in zip(src, out, strict=True):
        assert a.pitch == b.pitch
        assert abs(a.start - b.start) <= STEP / 2 + 1e-9
        assert abs(a.end - b.end) <= STEP / 2 + 1e-9 or b.end - b.start == pytest.approx(STEP)
        assert abs(a.velocity - b.velocity) <= VEL_WIDTH / 2 + 1
    # sustain pedal changes survive (to the step)
    downs = [p for p in decoded.pedals if p.is_down]
    src_intervals = seq.sustain_intervals()
    assert len(downs) <= len(src_intervals) + 1


def test_hand_made_sequence_round_trip_with_pedal_and_long_gaps() -> None:
    seq = NoteSequence(
        notes=[Note(60, 0.0, 0.5, 100), Note(64, 0.0, 2.75, 40), Note(60, 3.2, 3.21, 127), Note(108, 7.5, 9.0, 1)],
        pedals=[PedalEvent(0.1, 127), PedalEvent(1.0, 0), PedalEvent(3.0, 100), PedalEvent(4.0, 10)],
    )
    decoded = TK.decode(TK.encode(seq))
    assert [(n.pitch, round(n.start, 2), round(n.end, 2)) for n in decoded.notes] == [
        (60, 0.0, 0.5), (64, 0.0, 2.75), (60, 3.2, 3.21), (108, 7.5, 9.0)
    ]
    assert [(round(p.time, 2), p.is_down) for p in decoded.pedals] == [(0.1, True), (1.0, False), (3.0, True), (4.0, False)]


def test_overlapping_copies_of_one_key_are_cut_at_the_new_onset() -> None:
    seq = NoteSequence(notes=[Note(60, 0.0, 2.0), Note(60, 1.0, 1.5), Note(60, 1.0, 1.2)])
    decoded = TK.decode(TK.encode(seq))
    assert [(n.start, n.end) for n in decoded.notes] == [(0.0, 1.0), (1.0, 1.5)]


@pytest.mark.parametrize("seed", range(20))
def test_decoding_random_garbage_never_crashes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    garbage = rng.integers(-5, TK.vocab_size + 5, size=int(rng.integers(0, 400)))
    seq = TK.decode(garbage, max_note_seconds=8.0)
    for n in seq.notes:
        assert 21 <= n.pitch <= 108 and n.end > n.start and 1 <= n.velocity <= 127
        assert n.end - n.start <= 8.0 + 1e-9
    # a note-off without a note-on and a velocity without a note are simply dropped
    assert TK.decode([TK.note_off(60), TK.velocity(3), TK.time_shift(5)]).notes == []


def test_transposition_of_tokens_matches_transposing_notes() -> None:
    seq = _demo().slice(0, 5).without_duplicates()
    tokens = TK.encode(seq)
    lo, hi = TK.pitch_span(tokens)
    assert (lo, hi) == (min(n.pitch for n in seq.notes), max(n.pitch for n in seq.notes))
    moved = TK.decode(TK.transpose_tokens(tokens, 3))
    expected = TK.decode(TK.encode(seq.transpose(3)))
    assert moved.notes == expected.notes


def test_config_survives_json() -> None:
    again = PerformanceTokenizer.from_dict(TK.to_dict())
    assert again.vocab_size == TK.vocab_size == 313
    assert dataclasses.asdict(again.config) == dataclasses.asdict(TK.config)
