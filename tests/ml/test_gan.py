"""The bar-by-bar GAN: shapes, WGAN-GP steps, rolls <-> notes, and seeded continuation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from musestudio.core.keys import parse_key
from musestudio.core.notes import Note, NoteSequence
from musestudio.core.progress import run_work
from musestudio.core.timing import TempoMap, TimeSignature
from musestudio.ml import gan_generate as gg
from musestudio.ml.checkpoint import load_model, save_checkpoint
from musestudio.ml.models.gan import GANConfig, GANModel

TINY = GANConfig(z_dim=8, gen_width=8, cond_width=8, critic_width=8)
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Settings:
    """Stand-in with the GenerationSettings fields the GAN reads."""

    checkpoint: str | None = None
    seconds: float | None = 8.0
    bars: float | None = None
    temperature: float = 1.0
    key: str | None = None
    pitch_range: tuple[int, int] = (21, 108)
    density: float | None = None
    context_prior: bool = True


def batch(config: GANConfig, size: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shape = (size, config.channels, config.steps_per_bar, config.n_pitches)
    bar = (torch.rand(shape, generator=g) > 0.95).float()
    prev = (torch.rand(shape, generator=g) > 0.95).float()
    return {"bar": bar, "prev": prev, "beats": torch.tensor([4, 3, 2, 4] * size)[:size]}


def two_bar_seed(qpm: float = 120.0) -> NoteSequence:
    """C major arpeggios on a 4/4 score grid (tempo map fits the notes)."""
    tm = TempoMap.constant(qpm)
    beat = 60.0 / qpm
    notes = []
    for i, p in enumerate([60, 64, 67, 72, 67, 64, 60, 55]):
        notes.append(Note(p, i * beat, (i + 1) * beat, 70))
    notes.append(Note(48, 0.0, 4 * beat, 60))
    notes.append(Note(43, 4 * beat, 8 * beat, 60))
    return NoteSequence(notes=notes, tempo_map=tm, time_signatures=[TimeSignature(0.0, 4, 4)])


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = GANModel(TINY)
    model.eval()
    folder = tmp_path_factory.mktemp("gan") / "gan"
    save_checkpoint(folder, "gan", dataclasses.asdict(TINY), model.state_dict())
    return folder


def test_shapes_and_bar_length_mask() -> None:
    model = GANModel(TINY).eval()
    b = batch(TINY)
    z = model.sample_noise(4, torch.Generator().manual_seed(1))
    with torch.no_grad():
        fake = model.generate(b["prev"], b["beats"], z)
    assert fake.shape == (4, 3, 16, 88)
    assert float(fake.min()) >= 0.0 and float(fake.max()) <= 1.0
    # A 3-beat bar has 12 steps and a 2-beat bar 8: nothing may sound after them.
    assert float(fake[1, :, 12:].abs().sum()) == 0.0
    assert float(fake[2, :, 8:].abs().sum()) == 0.0
    assert float(fake[0, :, 12:].abs().sum()) > 0.0
    assert model.critic_score(fake, b["prev"], b["beats"]).shape == (4,)
    outputs, losses = model.train()(b)
    assert set(losses) == {"critic", "generator", "gradient_penalty"}
    assert outputs["fake"].shape == b["bar"].shape


def test_wgan_gp_steps_change_both_networks() -> None:
    from training.tasks.gan import PRESETS, GANTask

    torch.manual_seed(0)
    task = GANTask()
    _, _, model = task.build_model("desktop")
    opts = task.make_optimizers(model, type("Args", (), {"lr": 1e-3})())
    critic_before = [p.detach().clone() for p in model.critic_parameters()]
    gen_before = [p.detach().clone() for p in model.generator_parameters()]
    b = batch(model.config, size=2 * PRESETS["desktop"]["n_critic"])  # two examples per critic chunk
    logs = [task.train_step(model, b, opts, step, None) for step in range(3)]
    assert all(np.isfinite(v) for entry in logs for v in entry.values())
    assert {"loss", "wasserstein", "gradient_penalty", "generator"} <= set(logs[-1])
    assert any(not torch.equal(a, p) for a, p in zip(critic_before, model.critic_parameters(), strict=True))
    assert any(not torch.equal(a, p) for a, p in zip(gen_before, model.generator_parameters(), strict=True))


def test_rasterize_and_back_on_a_score_grid() -> None:
    seed = two_bar_seed()
    grid = gg.seed_beat_grid(seed, until=seed.duration)
    roll = gg.rasterize(seed.notes, grid, 4, 40)
    assert roll.shape == (3, 40, 88)
    assert int(roll[0].sum()) == len(seed.notes)
    back = gg.roll_to_notes(roll, grid, 4)
    key = sorted((n.pitch, round(n.start, 6), round(n.end, 6), n.velocity) for n in back)
    assert key == sorted((n.pitch, round(n.start, 6), round(n.end, 6), n.velocity) for n in seed.notes)


def test_performance_seed_gets_an_estimated_beat() -> None:
    # 100 BPM eighth-note pulse, started off-grid at 0.37 s, with a tempo map that does not fit.
    beat = 0.6
    notes = [
        Note(60 + (i % 5), 0.37 + i * beat / 2, 0.37 + (i + 1) * beat / 2, 90 if i % 8 == 0 else 60) for i in range(32)
    ]
    seq = NoteSequence(notes=notes, tempo_map=TempoMap.constant(77.0))
    grid = gg.seed_beat_grid(seq, until=seq.duration + 5)
    spacing = np.diff(grid.times)
    assert np.allclose(spacing, spacing[0]) and abs(spacing[0] - beat) < 0.03
    offsets = (np.array([n.start for n in notes]) - grid.times[0]) / spacing[0] * 2
    assert np.max(np.abs(offsets - np.round(offsets))) < 0.2  # onsets sit on the grid


def test_meter_folding() -> None:
    assert gg.meter_beats(4, 4) == (4, 1.0)
    assert gg.meter_beats(3, 4) == (3, 1.0)
    assert gg.meter_beats(6, 8) == (2, 1.5)
    assert gg.meter_beats(12, 8) == (4, 1.5)
    assert gg.meter_beats(6, 4)[0] == 3


def continuation(checkpoint: Path, seed: NoteSequence, random_seed: int, **kw: object) -> NoteSequence:
    settings = Settings(checkpoint=str(checkpoint), **kw)  # type: ignore[arg-type]
    return run_work(gg.continue_with_gan_work(seed, settings, random_seed))


def test_continuation_is_reproducible_and_starts_at_seed_end(tiny_checkpoint: Path) -> None:
    seed = two_bar_seed()
    a = continuation(tiny_checkpoint, seed, 7, density=4.0)
    b = continuation(tiny_checkpoint, seed, 7, density=4.0)
    c = continuation(tiny_checkpoint, seed, 8, density=4.0)
    assert a.notes and a.notes == b.notes
    assert a.notes != c.notes
    assert min(n.start for n in a.notes) >= seed.duration - 1e-9
    assert max(n.start for n in a.notes) < seed.duration + 8.0


def test_key_lock_range_and_sanity(tiny_checkpoint: Path) -> None:
    seed = two_bar_seed()
    out = continuation(tiny_checkpoint, seed, 3, key="D minor", pitch_range=(48, 84), seconds=12.0, temperature=1.5)
    allowed = parse_key("D minor").pitch_classes()
    assert out.notes
    assert all(n.pitch % 12 in allowed and 48 <= n.pitch <= 84 for n in out.notes)
    assert all(n.end - n.start <= gg.MAX_NOTE_SECONDS for n in out.notes)
    for n in out.notes:
        assert sum(1 for m in out.notes if m.start <= n.start < m.end) <= gg.MAX_POLYPHONY


def test_density_hint_controls_note_count(tiny_checkpoint: Path) -> None:
    seed = two_bar_seed()
    sparse = continuation(tiny_checkpoint, seed, 1, density=1.0, seconds=8.0)
    busy = continuation(tiny_checkpoint, seed, 1, density=6.0, seconds=8.0)
    assert len(sparse.notes) < len(busy.notes)
    assert abs(len(busy.notes) / 8.0 - 6.0) < 2.5


def test_sanity_fills_long_silence_and_caps_polyphony() -> None:
    many = [Note(40 + i, 0.0, 12.0, 80) for i in range(20)] + [Note(60, 20.0, 20.5, 80)]
    out = gg.enforce_sanity(many, start=0.0)
    assert all(n.end - n.start <= gg.MAX_NOTE_SECONDS for n in out)
    assert sum(1 for n in out if n.start == 0.0) == gg.MAX_POLYPHONY
    covered, gaps = 0.0, []
    for n in sorted(out, key=lambda n: n.start):
        gaps.append(n.start - covered)
        covered = max(covered, n.end)
    assert max(gaps) <= gg.MAX_SILENCE_SECONDS


def test_shipped_checkpoint_continues_a_two_bar_seed() -> None:
    folder = REPO / "models" / "gan"
    model, info = load_model(folder)
    assert isinstance(model, GANModel)
    assert "metrics" in info.meta
    seed = two_bar_seed(100.0)
    out = run_work(gg.continue_with_gan_work(seed, Settings(checkpoint=None, seconds=10.0), 0))
    assert out.notes, "the shipped GAN produced no notes for a plain C major seed"
    assert min(n.start for n in out.notes) >= seed.duration - 1e-9
    assert all(21 <= n.pitch <= 108 for n in out.notes)


@pytest.mark.shared_data
def test_asap_bars_follow_the_annotated_downbeats(asap_dir: Path) -> None:
    from musestudio.io.midi import read_midi
    from training.splits import asap_split
    from training.tasks.gan import performance_bars, read_beat_annotations

    perf = asap_split("train", asap_dir)[0]
    times, down = read_beat_annotations(perf.annotations)
    assert np.all(np.diff(times) > 0) and down.sum() > 4
    roll, bars = performance_bars(read_midi(perf.performance_midi), times, down, GANConfig())
    assert roll.shape == (len(times) * 4, 3, 88)
    assert bars and all(1 <= nb <= 4 for _, nb in bars)
    starts = [s for s, _ in bars]
    assert all(down[s // 4] for s in starts)  # every bar begins on an annotated downbeat
    onsets = sum(int(roll[s : s + nb * 4, 0].sum()) for s, nb in bars)
    assert onsets > 0.8 * int(roll[starts[0] : starts[-1] + bars[-1][1] * 4, 0].sum())


def synthetic_cache(folder: Path, n_bars: int = 12) -> Path:
    """A cache as build_cache writes it: one 'performance' of 4-beat bars with a scale run."""
    steps = n_bars * 16
    rolls = np.zeros((steps, 3, 88), dtype=np.uint8)
    for s in range(0, steps, 2):
        k = 39 + (s // 2) % 12
        rolls[s, 0, k] = 1
        rolls[s : s + 2, 1, k] = 1
        rolls[s : s + 2, 2, k] = 90
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "rolls.npy", rolls)
    np.save(folder / "bars.npy", np.array([(b * 16, 4, 0) for b in range(n_bars)], dtype=np.int64))
    return folder


def test_dataset_windows_and_transposition(tmp_path: Path) -> None:
    from training.tasks.gan import GANBarDataset

    cache = synthetic_cache(tmp_path / "c")
    plain = GANBarDataset(cache, GANConfig())
    first, second = plain[0], plain[1]
    assert float(first["prev"].sum()) == 0.0  # nothing before the performance starts
    assert torch.equal(second["prev"], first["bar"])  # the previous bar is the bar before
    assert float(first["bar"][2].max()) == pytest.approx(90 / 127)
    torch.manual_seed(0)
    moved = GANBarDataset(cache, GANConfig(), transpose=True)
    shifts = set()
    for _ in range(10):
        item = moved[1]
        keys = item["bar"][0].nonzero()[:, 1]
        shifts.add(int(keys.min()) - int(second["bar"][0].nonzero()[:, 1].min()))
        assert torch.equal(item["prev"][0].nonzero()[:, 1] - item["prev"][0].nonzero()[:, 1].min(),
                           second["prev"][0].nonzero()[:, 1] - second["prev"][0].nonzero()[:, 1].min())  # fmt: skip
    assert len(shifts) > 1 and all(-5 <= s <= 6 for s in shifts)


def _ddp_worker(rank: int, world: int, port: int, cache: str, out: str) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    from training.tasks.gan import GANBarDataset, GANTask

    torch.manual_seed(0)  # same initial weights on both ranks
    task = GANTask()
    _, _, model = task.build_model("tiny")
    opts = task.make_optimizers(model, type("Args", (), {"lr": 1e-3})())
    data = GANBarDataset(cache, model.config)
    torch.manual_seed(100 + rank)  # different noise per rank: only gradient averaging keeps them equal
    for step in range(2):
        idx = [(rank * 4 + step * 8 + i) % len(data) for i in range(4)]
        batch = {k: torch.stack([data[i][k] for i in idx]) for k in ("bar", "prev", "beats")}
        task.train_step(model, batch, opts, step, None)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.save(flat, Path(out) / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_process_gloo_ranks_stay_identical(tmp_path: Path) -> None:
    import socket

    import torch.multiprocessing as mp

    cache = synthetic_cache(tmp_path / "c", n_bars=16)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(cache), str(tmp_path)), nprocs=2, join=True)
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    torch.manual_seed(0)
    from training.tasks.gan import GANTask

    _, _, fresh = GANTask().build_model("tiny")
    start = torch.cat([p.detach().flatten() for p in fresh.parameters()])
    assert not torch.equal(a, start)  # they trained
    assert torch.allclose(a, b, atol=1e-6)


def test_length_in_bars_overrides_seconds(tiny_checkpoint: Path) -> None:
    seed = two_bar_seed(120.0)  # 4/4 at 120 BPM: a bar lasts 2 s
    out = continuation(tiny_checkpoint, seed, 2, bars=2.0, seconds=20.0, density=4.0)
    assert out.notes
    assert max(n.start for n in out.notes) < seed.duration + 4.0
    assert max(n.start for n in out.notes) >= seed.duration + 2.0  # the second bar was generated too


def test_threshold_calibration_matches_real_onset_rate(tmp_path: Path) -> None:
    from torch.utils.data import DataLoader

    from training.tasks.gan import GANBarDataset, binarize, calibrate_thresholds

    torch.manual_seed(0)
    model = GANModel(TINY).eval()
    data = GANBarDataset(synthetic_cache(tmp_path / "c", n_bars=16), TINY)
    loader = DataLoader(data, batch_size=8)
    onset_t, frame_t = calibrate_thresholds(model, loader)
    assert torch.allclose(model.decode_thresholds, torch.tensor([onset_t, frame_t]))
    real_rate = float(torch.stack([data[i]["bar"][0] for i in range(len(data))]).mean())
    z = model.sample_noise(len(data), torch.Generator().manual_seed(1))
    batch = next(iter(DataLoader(data, batch_size=len(data))))
    with torch.no_grad():
        fake = model.generate(batch["prev"], batch["beats"], z)
    rate = float(binarize(fake, onset_t, frame_t)[:, 0].mean())
    assert rate == pytest.approx(real_rate, rel=0.3)


def test_context_prior_favours_recent_pitch_classes_and_register() -> None:
    context = np.zeros((32, 88), dtype=np.uint8)
    for s, pitch in enumerate([60, 64, 67, 72] * 8):  # C major arpeggio, C4..C5
        context[s, pitch - 21] = 1
    w = gg.context_prior(context)
    assert w[64 - 21] > w[63 - 21]  # E (played) over Eb (not)
    assert w[63 - 21] > 0  # chromatic notes stay possible
    assert w[67 - 21] > w[67 + 24 - 21] > w[67 + 36 - 21]  # far from the played register fades
    assert np.all(gg.context_prior(np.zeros((16, 88))) == 1.0)  # no context: no prior


def test_context_prior_steers_pitch_classes(tiny_checkpoint: Path) -> None:
    seed = two_bar_seed()
    with_prior = continuation(tiny_checkpoint, seed, 4, seconds=8.0, density=5.0)
    without = continuation(tiny_checkpoint, seed, 4, seconds=8.0, density=5.0, context_prior=False)
    assert with_prior.notes and without.notes
    in_c = {0, 2, 4, 5, 7, 9, 11}
    share = lambda s: np.mean([n.pitch % 12 in in_c for n in s.notes])  # noqa: E731
    assert share(with_prior) > share(without)


def test_sanity_breaks_a_silent_tail() -> None:
    out = gg.enforce_sanity([Note(60, 0.0, 1.0, 80)], start=0.0, end=12.0)
    covered, gaps = 0.0, []
    for n in out:
        gaps.append(n.start - covered)
        covered = max(covered, n.end)
    gaps.append(12.0 - covered)
    assert max(gaps) <= gg.MAX_SILENCE_SECONDS and all(n.start < 12.0 for n in out)


def test_snap_to_keys_moves_out_of_scale_notes_to_neighbours() -> None:
    bar = np.zeros((3, 16, 88), dtype=np.uint8)
    bar[0, 0, 61 - 21] = bar[1, 0:2, 61 - 21] = 1  # C#4 in C major
    bar[2, 0:2, 61 - 21] = 90
    pref = np.zeros(88)
    pref[62 - 21] = 1.0  # the model prefers D over C
    allowed = np.array([(p % 12) in {0, 2, 4, 5, 7, 9, 11} for p in range(21, 109)])
    out = gg.snap_to_keys(bar, allowed, pref)
    assert out[0, 0, 62 - 21] == 1 and out[:, :, 61 - 21].sum() == 0
    assert out[2, 1, 62 - 21] == 90


def test_key_lock_far_from_the_seed_does_not_silence_the_shipped_model() -> None:
    seed = two_bar_seed(100.0)
    free = run_work(gg.continue_with_gan_work(seed, Settings(seconds=10.0), 5))
    locked = run_work(gg.continue_with_gan_work(seed, Settings(seconds=10.0, key="F# major"), 5))
    scale = parse_key("F# major").pitch_classes()
    assert all(n.pitch % 12 in scale for n in locked.notes)
    assert len(locked.notes) >= 0.5 * len(free.notes) > 0


def test_bar_cache_writer_joins_performances_and_the_dataset_reads_them(tmp_path: Path) -> None:
    """_write_bar_cache (shared by the ASAP and the token-bundle caches) lays the rolls end to end; a bar of the
    second performance reads its own notes, and its history stops at that performance's start."""
    from training.tasks.gan import GANBarDataset, _write_bar_cache

    c = GANConfig()
    a = np.zeros((c.steps_per_bar, 3, 88), dtype=np.uint8)
    b = np.zeros((c.steps_per_bar, 3, 88), dtype=np.uint8)
    a[:, 1, 10] = 1  # performance one holds key 10
    b[0, 0, 40] = b[0, 2, 40] = 1  # performance two strikes key 40 at its start
    b[0, 1, 40] = 1
    bars = [(0, c.steps_per_bar // c.steps_per_beat, 0), (len(a), c.steps_per_bar // c.steps_per_beat, len(a))]
    (tmp_path / "c").mkdir()
    out = _write_bar_cache(tmp_path / "c", [a, b], bars, {"split": "x", "bars": 2})
    assert not (out / "rolls.part.npy").exists() and np.load(out / "rolls.npy").shape == (2 * c.steps_per_bar, 3, 88)
    ds = GANBarDataset(out, c)
    second = ds[1]
    assert second["bar"][1].nonzero()[:, 1].unique().tolist() == [40]
    assert float(second["prev"].sum()) == 0.0  # performance one is not its history
