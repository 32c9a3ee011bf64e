"""The GPU bundle of the transcriber (training/gpu/transcriber.py): packing loses nothing that matters."""

from __future__ import annotations

import numpy as np

from training.gpu.transcriber import FEATURE_MAX, pack_shard, unpack_shard


def test_pack_round_trip() -> None:
    rng = np.random.default_rng(0)
    n = 500
    arrays = {"features": (rng.random((n, 192)) * 9.5).astype(np.float16), "segments": np.array([[0, 300], [320, 500]])}
    for k in ("onset", "frame", "offset"):
        arrays[k] = (rng.random((n, 88)) < 0.02).astype(np.uint8)
    arrays["velocity"] = (arrays["onset"] * rng.integers(1, 128, (n, 88))).astype(np.uint8)
    arrays["pedal"] = (rng.random(n) < 0.4).astype(np.uint8)
    back = unpack_shard(pack_shard(arrays))
    for k in ("onset", "frame", "offset", "velocity", "pedal", "segments"):
        np.testing.assert_array_equal(back[k], arrays[k])
    err = np.abs(back["features"].astype(np.float32) - arrays["features"].astype(np.float32)).max()
    assert err <= FEATURE_MAX / 255 / 2 + 0.01  # half a quantisation step (+ float16 rounding)
