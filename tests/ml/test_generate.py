"""Seeded continuation: reproducibility, constraints, seed preservation, sanity."""

from __future__ import annotations

import numpy as np
import pytest

from musestudio.core.errors import Cancelled, ModelError, MusestudioError
from musestudio.core.keys import parse_key
from musestudio.core.notes import Note, NoteSequence
from musestudio.core.progress import CancelToken
from musestudio.io.midi import read_midi
from musestudio.ml.generate import GenerationSettings, generate, generate_work, score_sequence
from tests.conftest import DEMO_MIDI
from tests.ml.symbolic_fixtures import tiny_checkpoint

KINDS = ["markov", "lstm", "transformer"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("ckpt")
    return {k: str(tiny_checkpoint(root / k, k)) for k in KINDS}


@pytest.fixture(scope="module")
def seed() -> NoteSequence:
    return read_midi(DEMO_MIDI).slice(0.0, 6.0)


def _settings(kind: str, checkpoints: dict[str, str], **kw) -> GenerationSettings:
    return GenerationSettings(model=kind, checkpoint=checkpoints[kind], seconds=kw.pop("seconds", 4.0), **kw)


def _key(seq: NoteSequence) -> list[tuple]:
    return [(n.pitch, round(n.start, 6), round(n.end, 6), n.velocity) for n in seq.notes]


@pytest.mark.parametrize("kind", KINDS)
def test_fixed_random_seed_reproduces_and_other_seed_differs(kind, checkpoints, seed) -> None:
    a = generate(seed, _settings(kind, checkpoints, random_seed=11))
    b = generate(seed, _settings(kind, checkpoints, random_seed=11))
    c = generate(seed, _settings(kind, checkpoints, random_seed=12))
    assert _key(a[0]) == _key(b[0])
    assert len(a[0].notes) > 0
    assert _key(a[0]) != _key(c[0])


@pytest.mark.parametrize("kind", KINDS)
def test_continuation_starts_at_seed_end_and_respects_sanity(kind, checkpoints, seed) -> None:
    out = generate(seed, _settings(kind, checkpoints, random_seed=3, seconds=8.0, temperature=1.3))[0]
    end = seed.duration
    assert all(n.start >= end - 1e-9 for n in out.notes)
    assert all(21 <= n.pitch <= 108 for n in out.notes)
    assert all(n.end - n.start <= 8.0 + 1e-9 for n in out.notes)
    assert max(n.end for n in out.notes) <= end + 8.0 + 1e-6
    # polyphony never above 16
    events = sorted([(n.start, 1) for n in out.notes] + [(n.end, -1) for n in out.notes])
    level = peak = 0
    for _, d in events:
        level += d
        peak = max(peak, level)
    assert peak <= 16
    # no silence longer than 4 s (the demo seed has none) inside the continuation
    reach = end
    for n in sorted(out.notes, key=lambda n: n.start):
        assert n.start - reach <= 4.0 + 0.011
        reach = max(reach, n.end)


@pytest.mark.parametrize("kind", KINDS)
def test_key_lock_and_pitch_range(kind, checkpoints, seed) -> None:
    allowed = parse_key("D minor").pitch_classes()
    out = generate(seed, _settings(kind, checkpoints, random_seed=5, key="D minor", pitch_range=(48, 84)))[0]
    assert out.notes
    assert all(n.pitch % 12 in allowed for n in out.notes)
    assert all(48 <= n.pitch <= 84 for n in out.notes)


def test_variations_differ_and_seed_object_is_untouched(checkpoints, seed) -> None:
    before = _key(seed)
    outs = generate(seed, _settings("markov", checkpoints, random_seed=1, variations=3))
    assert len(outs) == 3
    assert len({tuple(_key(o)) for o in outs}) == 3
    assert _key(seed) == before


def test_density_hint_moves_the_note_rate(checkpoints, seed) -> None:
    sparse = generate(seed, _settings("markov", checkpoints, random_seed=2, seconds=10.0, density=1.0))[0]
    dense = generate(seed, _settings("markov", checkpoints, random_seed=2, seconds=10.0, density=30.0))[0]
    assert len(dense.notes) > len(sparse.notes)


def test_seed_register_band() -> None:
    from musestudio.ml.generate import REGISTER_MIN_WIDTH, seed_register

    wide = NoteSequence(notes=[Note(p, i * 0.1, i * 0.1 + 0.1, 80) for i, p in enumerate(range(40, 90))])
    low, high = seed_register(wide)
    assert low < 43 and high > 87
    narrow = NoteSequence(notes=[Note(60, 0, 1, 80), Note(62, 1, 2, 80)])
    low, high = seed_register(narrow)
    assert high - low >= REGISTER_MIN_WIDTH and low < 61 < high
    assert seed_register(NoteSequence()) is None


def test_register_guard_keeps_a_drifting_model_near_the_seed() -> None:
    from musestudio.ml.sampling import Constraints, Sampler, SamplerState
    from musestudio.ml.tokenizer import PerformanceTokenizer

    tk = PerformanceTokenizer()
    scores = np.zeros(tk.vocab_size)
    scores[tk.note_on(100)] = 3.0  # a model that wants the top of the keyboard
    scores[[tk.note_on(p) for p in range(55, 70)]] = 1.0

    def pitches(constraints: Constraints) -> list[int]:
        sampler = Sampler(tk, constraints, rng=np.random.default_rng(0))
        out = []
        for _ in range(400):
            tok = sampler.choose(scores, SamplerState())
            if tk.note_on_offset <= tok < tk.note_off_offset:
                out.append(tok - tk.note_on_offset + tk.config.pitch_low)
        return out

    free = pitches(Constraints())
    guarded = pitches(Constraints(register=(50.0, 75.0)))
    assert np.mean([p == 100 for p in free]) > 0.1
    assert np.mean([p == 100 for p in guarded]) < 0.01
    assert all(p != 100 for p in pitches(Constraints(register=(50.0, 75.0), register_strength=50.0)))


def test_free_register_setting_turns_the_guard_off(checkpoints, seed) -> None:
    from musestudio.ml.generate import _constraints

    assert _constraints(seed, _settings("lstm", checkpoints)).register is not None
    assert _constraints(seed, _settings("lstm", checkpoints, keep_register=False)).register is None


def test_length_in_bars_uses_the_seed_tempo(checkpoints) -> None:
    seq = NoteSequence(notes=[Note(60, 0.0, 0.5), Note(64, 0.5, 1.0)])  # 120 qpm, 4/4: one bar = 2 s
    out = generate(seq, GenerationSettings(model="markov", checkpoint=checkpoints["markov"], bars=2, random_seed=0))[0]
    assert out.notes and max(n.start for n in out.notes) < 1.0 + 4.0


def test_cancel_stops_the_work(checkpoints, seed) -> None:
    token = CancelToken()
    work = generate_work(seed, _settings("lstm", checkpoints, seconds=30.0), token)
    next(work)
    token.cancel()
    with pytest.raises(Cancelled):
        for _ in work:
            pass


def test_bad_settings_are_user_errors(checkpoints, seed) -> None:
    with pytest.raises(MusestudioError):
        generate(seed, _settings("markov", checkpoints, temperature=0))
    with pytest.raises(MusestudioError):
        generate(seed, _settings("markov", checkpoints, pitch_range=(10, 50)))
    with pytest.raises(ModelError):
        generate(seed, GenerationSettings(model="lstm", checkpoint=checkpoints["markov"]))


@pytest.mark.parametrize("kind", KINDS)
def test_score_sequence_reports_perplexity(kind, checkpoints, seed) -> None:
    r = score_sequence(seed, kind, checkpoints[kind])
    assert r["tokens"] > 10
    assert np.isclose(r["perplexity"], np.exp(r["nll_per_token"]))
    assert 1.0 < r["perplexity"] < 10 * 313


def test_gan_has_no_likelihood(seed) -> None:
    with pytest.raises(ModelError, match="no likelihood"):
        score_sequence(seed, "gan")
