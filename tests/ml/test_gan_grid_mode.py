"""GAN grid mode: a quantized seed's continuation sits on the seed's sixteenths and ends on the --bars line."""

from __future__ import annotations

import numpy as np

from musestudio.core.notes import Note, NoteSequence
from musestudio.core.timing import TempoMap, TimeSignature
from musestudio.ml.beatgrid import BeatGrid
from musestudio.ml.gan_grid import snap_to_bar_sixteenths
from musestudio.ml.generate import GenerationSettings, generate
from musestudio.ml.seed import grid_share


def six_eight_seed(qpm: float = 120.0, bars: int = 4) -> NoteSequence:
    """A 6/8 score: eighth-note arpeggios (3 per dotted-quarter beat) over dotted-half bass notes."""
    tm = TempoMap.constant(qpm)
    q = 60.0 / qpm
    notes = []
    for b in range(bars):
        for i, p in enumerate([60, 64, 67, 72, 67, 64]):
            t = (b * 3 + i * 0.5) * q
            notes.append(Note(p, t, t + 0.5 * q, 70))
        notes.append(Note(48 if b % 2 == 0 else 43, b * 3 * q, (b + 1) * 3 * q, 60))
    return NoteSequence(notes=notes, tempo_map=tm, time_signatures=[TimeSignature(0.0, 6, 8)])


def test_compound_steps_snap_to_distinct_sixteenths() -> None:
    seed = six_eight_seed()
    grid = BeatGrid.from_sequence(seed)
    q = 0.5  # seconds per quarter at 120
    # the GAN's four steps of a dotted-quarter beat: 0, 3/8, 3/4 and 9/8 of a quarter after the bar line
    notes = [Note(60 + k, (3.0 + s) * q, (3.0 + s + 0.375) * q, 80) for k, s in enumerate((0.0, 0.375, 0.75, 1.125))]
    out = snap_to_bar_sixteenths(notes, grid, end_q=12.0)
    onsets_q = sorted(round(n.start / q - 3.0, 6) for n in out)
    assert onsets_q == [0.0, 0.5, 0.75, 1.25]
    assert all(n.end > n.start for n in out)


def test_last_notes_are_held_to_the_bar_line_and_nothing_passes_it() -> None:
    seed = six_eight_seed()
    grid = BeatGrid.from_sequence(seed)
    q = 0.5
    notes = [Note(60, 10.5 * q, 11.0 * q, 80), Note(64, 11.0 * q, 11.25 * q, 80), Note(67, 12.5 * q, 13.0 * q, 80)]
    out = snap_to_bar_sixteenths(notes, grid, end_q=12.0, hold_last_to=12.0)
    assert [n.pitch for n in out] == [60, 64]  # the note after the end is dropped
    assert abs(out[-1].end - 12.0 * q) < 1e-9  # the last onset is held to the bar line
    assert abs(out[0].end - 11.0 * q) < 1e-9  # earlier notes keep their length


def test_shipped_gan_continues_a_six_eight_score_on_its_grid() -> None:
    seed = six_eight_seed(bars=4)
    settings = GenerationSettings(model="gan", seconds=None, bars=4, random_seed=3)
    out = generate(seed, settings)[0]
    assert out.notes
    merged = seed.merged(out)
    assert grid_share(merged, tolerance=0.01) == 1.0
    end = float(np.max([n.end for n in out.notes]))
    assert abs(end - 8 * 3 * 0.5) < 0.5 * 0.25 + 1e-6  # 4 bars of 6/8 after the 4-bar seed, within a sixteenth


def test_held_to_bar_line_holds_only_the_last_onset_and_only_in_the_last_bar() -> None:
    grid = BeatGrid(np.array([0.0, 0.5]), np.array([0.0, 1.0]), [0.0], [(4, 4)])  # 4/4 at 120 qpm
    on = np.array([12.0, 14.0, 14.0, 15.0])
    off = np.array([13.0, 15.0, 14.5, 15.5])
    np.testing.assert_allclose(grid.held_to_bar_line(on, off, 16.0), [13.0, 15.0, 14.5, 16.0])
    np.testing.assert_allclose(grid.held_to_bar_line(on[:3], off[:3], 16.0), [13.0, 16.0, 16.0])  # a chord: all held
    # the last onset a bar and more before the end: nothing to hold (the continuation fell silent)
    np.testing.assert_allclose(grid.held_to_bar_line(on[:1], off[:1], 20.0), [13.0])
    assert len(grid.held_to_bar_line(np.zeros(0), np.zeros(0), 4.0)) == 0
