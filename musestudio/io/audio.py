"""Audio files: load any common format as mono float32 at a chosen rate, write WAV.

soundfile (libsndfile) decodes wav, flac, ogg and mp3; soxr resamples.  Long
files can be streamed block by block with :func:`iter_audio_blocks` so that
memory stays flat.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musestudio.core.atomic import atomic_path
from musestudio.core.errors import InputFileError, OutputFileError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
MAX_IN_MEMORY_SECONDS = 3 * 3600  # whole-file loads beyond this are refused; stream instead


@dataclass(frozen=True, slots=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _open(path: Path):  # type: ignore[no-untyped-def]
    import soundfile as sf

    from musestudio.io.paths import check_readable

    check_readable(path)
    try:
        return sf.SoundFile(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(path, f"cannot decode audio ({msg[:160]})") from None


def audio_info(path: str | os.PathLike[str]) -> AudioInfo:
    path = Path(path)
    with _open(path) as f:
        # Report the frames really present, not what a (possibly lying) header promises.
        return AudioInfo(int(f.samplerate), int(f.channels), _true_frames(f))


def _to_mono(block: np.ndarray) -> np.ndarray:
    if block.ndim == 2:
        block = block.mean(axis=1)
    block = block.astype(np.float32, copy=False)
    if not np.isfinite(block).all():
        block = np.nan_to_num(block, nan=0.0, posinf=1.0, neginf=-1.0)
    return block


def _true_frames(f) -> int:  # type: ignore[no-untyped-def]
    """Frames actually present: a header may promise hours over a tiny body."""
    import soundfile as sf

    declared = int(f.frames)
    if declared <= 0:
        return 0
    try:
        f.seek(declared - 1)
        got = f.read(1, dtype="float32", always_2d=True)
        f.seek(0)
        if len(got) == 1:
            return declared
    except (RuntimeError, sf.LibsndfileError):
        pass
    # Binary search for the last readable frame.
    lo, hi = 0, declared
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            f.seek(mid)
            ok = len(f.read(1, dtype="float32", always_2d=True)) == 1
        except (RuntimeError, sf.LibsndfileError):
            ok = False
        if ok:
            lo = mid + 1
        else:
            hi = mid
    f.seek(0)
    return lo


def load_audio(
    path: str | os.PathLike[str], sample_rate: int | None = None, *, max_seconds: float = MAX_IN_MEMORY_SECONDS
) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] (NaN/Inf replaced), resampled to ``sample_rate``."""
    path = Path(path)
    with _open(path) as f:
        sr = int(f.samplerate)
        frames = _true_frames(f)
        if sr <= 0:
            raise InputFileError(path, "audio has no valid sample rate")
        if frames / sr > max_seconds:
            raise InputFileError(
                path, f"audio is {frames / sr / 3600:.1f} h long; files over {max_seconds / 3600:.0f} h are refused"
            )
        try:
            data = f.read(frames, dtype="float32", always_2d=True)
        except Exception as exc:
            raise InputFileError(path, f"audio is truncated or corrupt ({str(exc)[:120]})") from None
    mono = _to_mono(data)
    if sample_rate and sample_rate != sr and len(mono):
        mono = resample(mono, sr, sample_rate)
        sr = sample_rate
    return mono, sr


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(samples.astype(np.float32, copy=False), from_rate, to_rate, quality="HQ").astype(np.float32)


def iter_audio_blocks(
    path: str | os.PathLike[str], sample_rate: int, block_seconds: float = 30.0
) -> Iterator[np.ndarray]:
    """Yield consecutive mono blocks at ``sample_rate`` without loading the whole file."""
    import soxr

    path = Path(path)
    with _open(path) as f:
        sr = int(f.samplerate)
        frames = _true_frames(f)
        stream = soxr.ResampleStream(sr, sample_rate, 1, dtype="float32") if sr != sample_rate else None
        block = max(1, int(block_seconds * sr))
        done = 0
        while done < frames:
            n = min(block, frames - done)
            try:
                data = f.read(n, dtype="float32", always_2d=True)
            except Exception as exc:
                raise InputFileError(path, f"audio is truncated or corrupt ({str(exc)[:120]})") from None
            if len(data) == 0:
                break
            done += len(data)
            mono = _to_mono(data)
            last = done >= frames
            yield stream.resample_chunk(mono, last=last) if stream is not None else mono
        if stream is not None and done < frames:
            yield stream.resample_chunk(np.zeros(0, np.float32), last=True)


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int, *, overwrite: bool = True) -> Path:
    import soundfile as sf

    path = Path(path)
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim not in (1, 2):
        raise OutputFileError(f"{path}: audio must be 1-D or 2-D, got shape {data.shape}")
    data = np.clip(np.nan_to_num(data), -1.0, 1.0)
    with atomic_path(path, overwrite=overwrite) as tmp:
        sf.write(str(tmp), data, int(sample_rate), subtype="PCM_16", format="WAV")
    return path
