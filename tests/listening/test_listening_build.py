"""Building: equal length, matched loudness, opaque clip ids, nothing left behind on failure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musestudio.core.errors import Cancelled
from musestudio.core.progress import CancelToken, run_work
from musestudio.io.audio import write_wav
from musestudio.listening import audio as clip_audio
from musestudio.listening.build import BuildSettings, Source, build_test_work, file_sources, seed_sources
from musestudio.listening.manifest import ListeningTestError, load_manifest
from tests.listening.listening_fixtures import TINY, build_with_models


def test_clips_match_in_length_and_loudness(built_test):
    m = load_manifest(built_test)
    assert m.categories == ["human", "lstm", "gan"]
    assert m.clips_per_category == 3 and len(m.clips) == 9
    lengths, levels = set(), []
    for clip in m.clips:
        data = (built_test / clip.file).read_bytes()
        samples, sr = clip_audio.decode(data)
        assert sr == m.sample_rate
        lengths.add(len(samples))
        levels.append(clip_audio.loudness(samples, sr))
        assert clip_audio.peak_db(samples) <= clip_audio.PEAK_CEILING_DB + 0.5
        assert clip.category not in clip.file and clip.category not in clip.id  # names say nothing
    assert len(lengths) == 1 and abs(lengths.pop() / m.sample_rate - m.clip_seconds) < 0.05
    assert max(levels) - min(levels) < 1.0  # within 1 LU of each other (Vorbis coding moves it a little)
    assert abs(np.mean(levels) - m.target_lufs) < 1.0


def test_continuations_are_heard_with_their_seed(tmp_path, tiny_seeds, monkeypatch):
    """A model's clip starts with the same seed as the human clip of that file, then goes its own way.

    The model is replaced by a stand-in that plays a rising scale after the seed: this checks how a
    clip is assembled, whatever the shipped checkpoints can do in this checkout.
    """
    from musestudio.core.notes import Note
    from musestudio.ml import generate as gen

    calls = []

    def fake_generate(seed, settings, *args, **kwargs):
        calls.append(settings)
        end = seed.duration
        notes = [Note(40 + 3 * i, end + 0.08 * i, end + 0.08 * i + 0.3, 90) for i in range(12)]
        return [seed.copy(notes=notes, pedals=[])]

    monkeypatch.setattr(gen, "generate", fake_generate)
    folder = build_with_models(tmp_path / "t", tiny_seeds[:2], models=("markov",))
    assert [(c.model, c.seconds, c.random_seed) for c in calls] == [("markov", TINY.seconds, 3), ("markov", TINY.seconds, 4)]
    m = load_manifest(folder)
    assert m.categories == ["human", "markov"] and m.clips_per_category == 2
    for source in {c.source for c in m.clips}:
        (human,) = [c for c in m.clips_of("human") if c.source == source]
        (model,) = [c for c in m.clips_of("markov") if c.source == source]
        assert model.kind == "continuation" and model.model == "markov" and model.seed_seconds == TINY.seed_seconds
        a, sr = clip_audio.decode((folder / human.file).read_bytes())
        b, _ = clip_audio.decode((folder / model.file).read_bytes())
        seed_part = slice(0, int(0.8 * TINY.seed_seconds * sr))
        later = slice(int((TINY.seed_seconds + 0.2) * sr), int((TINY.clip_seconds - 0.1) * sr))
        assert np.corrcoef(a[seed_part], b[seed_part])[0, 1] > 0.95  # the same seed (gains differ)
        assert np.corrcoef(a[later], b[later])[0, 1] < 0.9  # a different continuation


def test_matching_gains_lower_the_common_target_instead_of_clipping():
    gains, target = clip_audio.matching_gains([-30.0, -20.0], [-20.0, -3.0], -14.0)
    # the second clip would peak at -3 + 6 = +3 dB: the target drops by 4 dB for both
    assert target == pytest.approx(-18.0)
    assert gains == pytest.approx([12.0, 2.0])


def test_audio_and_midi_files_as_sources(tmp_path, tiny_seeds):
    sr = 16000
    t = np.arange(int(3 * sr)) / sr
    for i in range(2):
        write_wav(tmp_path / f"rec{i}.wav", 0.3 * np.sin(2 * np.pi * (220 + 50 * i) * t), sr)
    sources = file_sources([f"human={tmp_path}", f"markov={tiny_seeds[0]}"])
    assert [s.category for s in sources] == ["human", "human", "markov"]
    m = run_work(build_test_work(tmp_path / "t", sources, TINY))
    assert m.clips_per_category == 1 and {c.kind for c in m.clips} == {"file"}
    assert [c.is_human for c in m.clips] == [True, True, False]
    with pytest.raises(Exception, match="CATEGORY=PATH"):
        file_sources(["no-equals-sign"])


def test_refuses_a_non_empty_folder_and_leaves_nothing_when_cancelled(tmp_path, tiny_seeds):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x.txt").write_text("keep me")
    with pytest.raises(ListeningTestError, match="not empty"):
        run_work(build_test_work(busy, seed_sources(tiny_seeds, ["markov"]), TINY))
    assert (busy / "x.txt").read_text() == "keep me"
    cancel = CancelToken()
    work = build_test_work(tmp_path / "new", seed_sources(tiny_seeds, ["markov"]), TINY, cancel)
    next(work)
    cancel.cancel()
    with pytest.raises(Cancelled):
        run_work(work, cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]  # no half-built folder


def test_unusable_sources_are_skipped_and_an_empty_category_is_an_error(tmp_path, tiny_seeds):
    empty = tmp_path / "silence.mid"
    from musestudio.core.notes import NoteSequence
    from musestudio.io.midi import write_midi

    write_midi(NoteSequence(notes=[]), empty)
    sources = [Source("human", "file", tiny_seeds[0]), Source("odd", "file", empty)]
    with pytest.raises(ListeningTestError, match="category odd has no usable clip"):
        run_work(build_test_work(tmp_path / "t", sources, TINY))
    settings = BuildSettings(**{**TINY.__dict__, "clips_per_category": 5})
    with pytest.raises(ListeningTestError, match="between 1 and 1"):
        run_work(build_test_work(tmp_path / "t2", [Source("human", "file", tiny_seeds[0])], settings))


def test_manifest_holds_what_the_teacher_needs(built_test):
    data = json.loads((built_test / "manifest.json").read_text())
    assert data["format"] == "musestudio-listening-test"
    assert data["target_lufs"] <= -23.0
    assert all(c["sha256"] and c["gain_db"] == c["gain_db"] for c in data["clips"])
    assert len((built_test / "secret.key").read_text().strip()) == 64


def test_the_seed_in_a_model_clip_sounds_as_in_the_human_clip():
    """Notes ringing over the cut keep their length and a held pedal is released where the performer did."""
    from musestudio.core.notes import Note, NoteSequence, PedalEvent
    from musestudio.listening.build import _heard_seed

    seq = NoteSequence(
        notes=[Note(60, 1.0, 2.0), Note(64, 2.5, 4.0), Note(67, 3.5, 4.5)],
        pedals=[PedalEvent(2.0, 127), PedalEvent(3.8, 0), PedalEvent(5.0, 127)],
    )
    heard = _heard_seed(seq, 1.0, 3.0)
    assert [(n.pitch, n.end) for n in heard.notes] == [(60, 2.0), (64, 4.0)]  # not cut at 3.0
    assert [(p.time, p.value) for p in heard.pedals] == [(2.0, 127), (3.8, 0)]
