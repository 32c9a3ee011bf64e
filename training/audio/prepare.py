"""Build the transcriber's caches: ``python -m training.audio.prepare [--train N] [--pairs DIR]``.

Order matters for a shared CPU: the validation shard and the held-out test
clips come first (small), then training shards one by one, so that training
can start on the first shards while the rest render.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.audio.dataset import DEFAULT_CACHE, build_pairs_cache, build_rendered_cache, build_test_files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.audio.prepare", description=__doc__)
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--train", type=int, default=360, help="training excerpts (rendered with random train conditions)")
    p.add_argument("--validation", type=int, default=24)
    p.add_argument("--test", type=int, default=12, help="held-out test clips (test pieces, held-out SoundFont + room)")
    p.add_argument("--seconds", type=float, default=60.0, help="excerpt length")
    p.add_argument("--per-group", type=int, default=20, help="excerpts rendered per FluidSynth call / shard")
    p.add_argument("--seed", type=int, default=3, help="training excerpts/conditions draw (use another for an extra cache)")
    p.add_argument("--palette", choices=("v1", "v2", "v3", "v4", "v5"), default="v1",
                   help="training conditions: v1 = FluidR3 + MuseScore Lite, FluidSynth rooms; v2 adds FluidR3Mono, "
                        "random peaking EQ and synthetic long-tail rooms; v3 varies the instrument, room and signal chain "
                        "(training/audio/augment.py); v4 plays half the renders on a modelled piano drawn per render "
                        "(training/audio/piano_model.py); v5 is v4 in wider, more often reverberant rooms.  TimGM6mb and the test room stay held out")
    p.add_argument("--preset", default="desktop", help="transcriber preset whose feature config the cache uses")
    p.add_argument("--val-clips", type=int, default=0,
                   help="also render N validation WAV+MIDI clips (30 s; conditions cycle through --val-clips-palettes) into CACHE/validation_clips, "
                        "to compare checkpoints with different feature configs on audio")
    p.add_argument("--val-clips-seed", type=int, default=5, help="draw of the validation clips' excerpts and conditions")
    p.add_argument("--val-clips-palettes", default="v2,v3",
                   help="palettes the validation clips' conditions cycle through (comma-separated)")
    p.add_argument("--clips-split", choices=("validation", "train"), default="validation",
                   help="split the --val-clips clips are drawn from: validation writes CACHE/validation_clips; train writes "
                        "CACHE/train_clips (a fit set for the decoder's read-outs, e.g. fit-note-filter; with --train 0 "
                        "--validation 0 --test 0 nothing else is rendered)")
    p.add_argument("--resume", action="store_true", help="keep shards already written (after a crash)")
    p.add_argument("--tag", default="", help="a further training draw into the same cache (shard_<tag>NNNN.npz)")
    p.add_argument("--pairs", type=Path, help="folder of real audio + MIDI pairs (e.g. MAESTRO) to cache instead")
    p.add_argument("--asap", help="ASAP root (default ../shared/data/asap or $MUSESTUDIO_ASAP)")
    args = p.parse_args(argv)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    from training.tasks.transcriber import feature_config

    config = feature_config(args.preset)
    if args.pairs:
        build_pairs_cache(args.pairs, args.cache / "pairs", log=log)
        return 0
    if args.test:
        pairs = build_test_files(args.cache / "test", n_files=args.test, seconds=args.seconds, asap_root=args.asap)
        log(f"test: {len(pairs)} held-out clips in {args.cache / 'test'}")
    if args.validation:
        build_rendered_cache(args.cache / "validation", "validation", n_excerpts=args.validation, seconds=args.seconds,
                             per_group=args.per_group, seed=2, palette=args.palette, asap_root=args.asap, log=log,
                             config=config)
    if args.val_clips:
        import random

        from training.audio.dataset import render_clip_set
        from training.audio.render import PALETTES, random_train_condition

        palettes = [x.strip() for x in args.val_clips_palettes.split(",") if x.strip()]
        if not palettes or any(x not in PALETTES for x in palettes):
            raise SystemExit(f"--val-clips-palettes: a comma-separated list of {', '.join(PALETTES)}, "
                             f"not {args.val_clips_palettes!r}")
        rng = random.Random(args.val_clips_seed)
        conds = [random_train_condition(rng, palettes[i % len(palettes)]) for i in range(args.val_clips)]
        render_clip_set(args.cache / f"{args.clips_split}_clips", args.clips_split, conds, seconds=30.0, seed=args.val_clips_seed,
                        asap_root=args.asap, log=log)
    if args.train:
        build_rendered_cache(args.cache / "train", "train", n_excerpts=args.train, seconds=args.seconds,
                             per_group=args.per_group, seed=args.seed, palette=args.palette, asap_root=args.asap, log=log,
                             config=config, resume=args.resume, tag=args.tag)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
