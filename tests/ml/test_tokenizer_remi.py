"""REMI tokens on a beat grid: round trips on quantized and performed files, grids, repairs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musestudio.core.notes import Note, NoteSequence, PedalEvent
from musestudio.core.timing import TempoChange, TempoMap, TimeSignature, qpm_to_us
from musestudio.io.midi import read_midi
from musestudio.ml.beatgrid import BeatGrid, read_asap_annotations
from musestudio.ml.remi import BAR, GRID, HUMAN, RemiTokenizer
from tests.conftest import DEMO_MIDI

TK = RemiTokenizer()


def quantized_file() -> tuple[NoteSequence, BeatGrid]:
    """The demo rag (a score MIDI: 2/4, notes on its tempo map's grid)."""
    seq = read_midi(DEMO_MIDI)
    return seq, BeatGrid.from_sequence(seq)


def tempo_changing_score() -> tuple[NoteSequence, BeatGrid]:
    """3/4 then 6/8, two tempi, sixteenths and triplets: every onset on the grid."""
    tm = TempoMap(480, [TempoChange(0, qpm_to_us(96)), TempoChange(480 * 6, qpm_to_us(132))])
    notes = []
    q = 0.0
    steps = [0.25, 0.25, 0.5, 1 / 3, 1 / 3, 1 / 3, 1.0, 0.75, 0.25]  # triplets start on a beat
    i = 0
    while q < 24:
        s, e = tm.beats_to_seconds(q), tm.beats_to_seconds(q + steps[i % len(steps)])
        notes.append(Note(48 + (i * 5) % 36, s, e, 40 + (i * 7) % 80))
        if i % 4 == 0:
            notes.append(Note(36 + (i * 3) % 12, s, tm.beats_to_seconds(q + 2), 60))
        q += steps[i % len(steps)]
        i += 1
    ts = [TimeSignature(0.0, 3, 4), TimeSignature(tm.beats_to_seconds(12), 6, 8)]
    seq = NoteSequence(notes=notes, tempo_map=tm, time_signatures=ts)
    return seq, BeatGrid.from_sequence(seq)


def performed_file() -> tuple[NoteSequence, BeatGrid]:
    """A performance: rubato beats (annotated), onsets off the grid by up to +-20 ms, pedal."""
    rng = np.random.default_rng(3)
    beat_len = 0.5 + 0.08 * np.sin(np.arange(41) / 5)
    beats = np.r_[0.3, 0.3 + np.cumsum(beat_len)]  # 42 beats, 4/4 from beat 0
    downs = beats[::4]
    grid = BeatGrid.from_beats(beats, downs, [(0.3, 4, 4)])
    notes = []
    for k in range(150):
        q = k * 0.25 + rng.choice([0, 1 / 12])
        on = float(grid.to_seconds(q)) + rng.uniform(-0.02, 0.02)
        dur_q = rng.choice([0.25, 0.5, 1.0, 1.5])
        off = float(grid.to_seconds(q + dur_q))
        notes.append(Note(int(rng.integers(40, 90)), on, off, int(rng.integers(20, 120))))
    pedals = [PedalEvent(float(grid.to_seconds(4 * b)) + 0.05, 127) for b in range(8)]
    pedals += [PedalEvent(float(grid.to_seconds(4 * b + 3.5)), 0) for b in range(8)]
    seq = NoteSequence(notes=notes, pedals=sorted(pedals, key=lambda p: p.time))
    return seq, grid


FILES = {"quantized demo": quantized_file, "quantized meter+tempo changes": tempo_changing_score,
         "performance": performed_file}


def _match(a: NoteSequence, b: NoteSequence) -> tuple[np.ndarray, np.ndarray]:
    """Onset differences and duration ratios of notes matched by (pitch, order).

    ``b`` is the original: a key struck again while it still sounds ends there (piano semantics,
    and what the tokens keep), so its durations are cut the same way before comparing.
    """
    ka = sorted(a.notes, key=lambda n: (n.pitch, n.start))
    kb = sorted(b.notes, key=lambda n: (n.pitch, n.start))
    kb = [n if i + 1 == len(kb) or kb[i + 1].pitch != n.pitch else
          Note(n.pitch, n.start, min(n.end, kb[i + 1].start), n.velocity) for i, n in enumerate(kb)]
    assert [n.pitch for n in ka] == [n.pitch for n in kb]
    return (np.array([x.start - y.start for x, y in zip(ka, kb, strict=True)]),
            np.array([(x.end - x.start) / max(y.end - y.start, 1e-9) for x, y in zip(ka, kb, strict=True)]))


@pytest.mark.parametrize("name", list(FILES))
def test_round_trip_keeps_every_note_on_its_beat(name: str) -> None:
    seq, grid = FILES[name]()
    humanized = name == "performance"
    toks = TK.encode(seq, grid, humanized=humanized)
    assert toks[0] == (HUMAN if humanized else GRID)
    assert TK.count_notes(toks) == len({(n.pitch, round(n.start, 4)) for n in seq.notes})
    back = TK.decode(toks, grid, grid.bar_quarters[TK.first_bar(seq, grid)])
    onset_err, dur_ratio = _match(back, seq)
    if humanized:
        # microtiming keeps the feel: within half a MICRO step (1/192 quarter) plus clipping at +-half a position
        qpm = 60 / 0.58
        assert np.percentile(np.abs(onset_err), 95) < 60 / qpm / 96
        assert np.abs(onset_err).max() < 60 / qpm / 24 + 1e-6
    else:
        assert np.abs(onset_err).max() < 1e-6  # grid notes come back exactly
    assert np.all((dur_ratio > 0.8) & (dur_ratio < 1.25))  # durations: nearest of 32 log-spaced values
    if seq.pedals:
        assert len(back.pedals) == len(seq.pedals)


@pytest.mark.parametrize("name", list(FILES))
def test_every_bar_states_meter_and_tempo(name: str) -> None:
    seq, grid = FILES[name]()
    toks = TK.encode(seq, grid, humanized=name == "performance")
    bars = np.flatnonzero(toks == BAR)
    assert len(bars) >= 4
    for b in bars:
        assert TK.kind[toks[b + 1]] == TK.K_TS and TK.kind[toks[b + 2]] == TK.K_TEMPO


def test_meter_and_tempo_changes_are_read_from_the_tempo_map() -> None:
    seq, grid = tempo_changing_score()
    toks = TK.encode(seq, grid, humanized=False)
    meters = [TK.meter_of(t) for t in toks if TK.kind[t] == TK.K_TS]
    tempi = [TK.qpm_of(t) for t in toks if TK.kind[t] == TK.K_TEMPO]
    assert meters[0] == (3, 4) and meters[-1] == (6, 8)
    assert abs(tempi[0] - 96) / 96 < 0.05 and abs(tempi[-1] - 132) / 132 < 0.05


def test_grid_mode_snaps_a_performance_to_sixteenths_and_triplets() -> None:
    seq, grid = performed_file()
    toks = TK.encode(seq, grid, humanized=False)
    assert not (TK.kind[toks] == TK.K_MICRO).any()
    pos = toks[TK.kind[toks] == TK.K_POS] - TK.pos_offset
    assert set((pos % 12).tolist()) <= {0, 3, 4, 6, 8, 9}


def test_asap_annotations_make_a_grid_with_pickup_and_compound_meter(tmp_path) -> None:
    lines = ["0.5\t0.5\tb,,0", "1.0\t1.0\tdb,6/8,2"] + [
        f"{1.0 + 0.6 * k:.3f}\t{1.0 + 0.6 * k:.3f}\t{'db' if k % 2 == 0 else 'b'}" for k in range(1, 12)
    ]
    path = tmp_path / "x_annotations.txt"
    path.write_text("\n".join(lines) + "\n")
    beats, downs, tss, keys = read_asap_annotations(str(path))
    assert len(beats) == 13 and tss == [(1.0, 6, 8)] and keys == [(0.5, 0), (1.0, 2)]
    grid = BeatGrid.from_beats(beats, downs, tss)
    # 6/8 is counted in two dotted quarters: a beat is 1.5 quarters, a bar 3
    assert grid.bar_ts[1] == (6, 8) and abs(grid.bar_length(1) - 3.0) < 1e-9
    assert abs(grid.bar_quarters[0] + 1.5) < 1e-9  # the pickup bar holds the beat before the first downbeat
    assert abs(float(grid.to_seconds(grid.bar_quarters[2])) - 2.2) < 1e-6


@pytest.mark.parametrize("seed", range(5))
def test_decoding_random_garbage_never_crashes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    toks = rng.integers(-3, TK.vocab_size + 5, size=600)
    seq = TK.decode(toks, BeatGrid.from_sequence(NoteSequence()))
    assert all(n.end > n.start and 21 <= n.pitch <= 108 for n in seq.notes)


def test_transposition_of_tokens_matches_transposing_notes() -> None:
    seq, grid = quantized_file()
    toks = TK.encode(seq, grid, humanized=False)
    up = TK.transpose_tokens(toks, 3)
    assert np.array_equal(up, TK.encode(seq.transpose(3), grid, humanized=False))


def test_config_survives_json() -> None:
    d = json.loads(json.dumps(TK.to_dict()))
    other = RemiTokenizer.from_dict(d)
    assert other.vocab_size == TK.vocab_size and other.to_dict() == TK.to_dict()
    assert d["type"] == "remi"


@pytest.mark.shared_data
@pytest.mark.parametrize("which", ["performance", "score"])
def test_asap_files_round_trip(asap_dir, which: str) -> None:
    from training.splits import asap_performances

    perf = asap_performances(asap_dir)[0]
    midi = perf.performance_midi if which == "performance" else perf.score_midi
    ann = perf.annotations if which == "performance" else perf.score_midi.parent / "midi_score_annotations.txt"
    seq = read_midi(midi)
    grid = BeatGrid.from_beats(*read_asap_annotations(str(ann))[:3])
    toks = TK.encode(seq, grid, humanized=which == "performance")
    back = TK.decode(toks, grid, grid.bar_quarters[TK.first_bar(seq, grid)])
    assert len(back.notes) >= 0.97 * len(seq.notes)
    on_a = np.sort([n.start for n in seq.notes])
    on_b = np.sort([n.start for n in back.notes])
    if len(on_a) == len(on_b) and which == "performance":
        assert np.median(np.abs(on_a - on_b)) < 0.01
