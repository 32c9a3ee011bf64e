"""The REMI sampler's grammar and constraints, with a model that wants everything (flat scores)."""

from __future__ import annotations

import numpy as np

from musestudio.ml.remi import BAR, GRID_POSITIONS, RemiTokenizer
from musestudio.ml.sampling import Constraints, RemiState, Sampler

TK = RemiTokenizer()
TS34, TEMPO = TK.ts(3, 4), TK.tempo(100)


def header(i: int) -> tuple[int, int, float]:
    return TS34, TEMPO, 3.0 * i


def run(constraints: Constraints, seed: int = 0, n: int = 400, scores: np.ndarray | None = None) -> list[int]:
    sampler = Sampler(TK, constraints, header, rng=np.random.default_rng(seed))
    st = RemiState.from_tokens(np.array([BAR, TS34, TEMPO]), TK, 0.0, lambda i: 3.0 * i)
    flat = np.zeros(TK.vocab_size) if scores is None else scores
    out = []
    for _ in range(n):
        tok = sampler.choose(flat, st)
        if tok is None:
            break
        st.update(tok, TK, lambda i: 3.0 * i)
        out.append(tok)
    return out


def test_grammar_meter_and_tempo_are_forced_and_positions_move_forward() -> None:
    toks = run(Constraints(end_q=12.0))
    kinds = TK.kind[np.asarray(toks)]
    bars = np.flatnonzero(np.asarray(toks) == BAR)
    assert len(bars) == 3  # bars 2, 3, 4 of 3/4: the fourth bar line (12 quarters) ends it
    for b in bars:
        assert toks[b + 1] == TS34 and toks[b + 2] == TEMPO
    for i, k in enumerate(kinds[:-1]):
        if k == TK.K_PITCH:
            assert kinds[i + 1] == TK.K_VEL and kinds[i + 2] == TK.K_DUR
    pos = -1
    last_pitch = -1
    for t in toks:
        if t == BAR:
            pos, last_pitch = -1, -1
        elif TK.kind[t] == TK.K_POS:
            assert t - TK.pos_offset > pos and t - TK.pos_offset < 36  # forward, inside a 3/4 bar
            pos, last_pitch = t - TK.pos_offset, -1
        elif TK.kind[t] == TK.K_PITCH:
            assert t > last_pitch  # a chord rises
            last_pitch = t


def test_grid_mode_allows_only_sixteenths_and_triplets_and_no_microtiming() -> None:
    toks = np.asarray(run(Constraints(end_q=30.0, grid=True), n=800))
    assert not (TK.kind[toks] == TK.K_MICRO).any()
    pos = toks[TK.kind[toks] == TK.K_POS] - TK.pos_offset
    assert len(pos) > 10 and set((pos % 12).tolist()) <= set(GRID_POSITIONS)
    lengths = TK.durations[toks[TK.kind[toks] == TK.K_DUR] - TK.dur_offset]
    assert np.all((lengths % 3 == 0) | (lengths % 4 == 0))
    free = np.asarray(run(Constraints(end_q=30.0), n=800))
    assert (TK.kind[free] == TK.K_MICRO).any()


def test_start_and_end_of_the_window() -> None:
    toks = run(Constraints(start_q=1.5, end_q=4.0), n=300)
    st = RemiState.from_tokens(np.array([BAR, TS34, TEMPO, *toks]), TK, 0.0, lambda i: 3.0 * i)
    onsets = [t for t in st.onsets]
    assert onsets and min(onsets) >= 1.5 - 1e-9 and max(onsets) < 4.0


def test_hard_key_lock_and_polyphony_cap() -> None:
    pcs = frozenset({0, 2, 4, 5, 7, 9, 11})
    scores = np.zeros(TK.vocab_size)
    dur = TK.kind == TK.K_DUR
    scores[dur] = np.where(TK.durations / 12 > 4, 5.0, 0.0)  # a model that holds every note for bars
    toks = run(Constraints(end_q=24.0, key_pitch_classes=pcs, key_strength=float("inf"), max_polyphony=4), n=600,
               scores=scores)
    st = RemiState(first_bar_quarter=0.0)
    peak = 0
    for t in [BAR, TS34, TEMPO, *toks]:
        st.update(t, TK, lambda i: 3.0 * i)
        st.prune(st.time)
        peak = max(peak, len(st.sounding))
    pitches = [t - TK.pitch_offset + 21 for t in toks if TK.kind[t] == TK.K_PITCH]
    assert pitches and all(p % 12 in pcs for p in pitches)
    assert peak <= 4 + 1  # the note just decided is counted before the cap applies to the next


def test_density_target_changes_the_onset_rate() -> None:
    scores = np.zeros(TK.vocab_size)
    scores[TK.kind == TK.K_PITCH] = -3.0  # a model that rarely stacks chords

    def onsets_per_quarter(density: float) -> float:  # distinct onset positions
        toks = run(Constraints(end_q=48.0, density=density), n=3000, scores=scores)
        return sum(TK.kind[t] == TK.K_POS for t in toks) / 48.0

    assert onsets_per_quarter(4.0) > 1.5 * onsets_per_quarter(0.5)
