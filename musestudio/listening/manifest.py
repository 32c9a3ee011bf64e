"""The listening-test folder: ``manifest.json`` plus a per-test secret.

Clip ids are random tokens, so neither a file name nor an id says which
category a clip belongs to; only the manifest (the teacher's copy) does.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from musestudio.core.atomic import write_bytes_atomic
from musestudio.core.errors import InputFileError, MusestudioError

FORMAT = "musestudio-listening-test"
VERSION = 1
MANIFEST_NAME = "manifest.json"
SECRET_NAME = "secret.key"
RESULTS_NAME = "results.sqlite"
CLIPS_DIR = "clips"

#: The four rating scales, in the order the participant sees them.
DIMENSIONS = ("coherence", "human_likeness", "originality", "expressiveness")
DIMENSION_LABELS = {
    "coherence": "Coherence",
    "human_likeness": "Human-likeness",
    "originality": "Originality",
    "expressiveness": "Expressiveness",
}
#: One line of help per scale, shown next to its slider (app and HTML page alike).
DIMENSION_HELP = {
    "coherence": "Does the music hold together, with phrases that lead somewhere?",
    "human_likeness": "Does it sound as if a person composed and played it?",
    "originality": "Is it interesting, rather than predictable or merely repetitive?",
    "expressiveness": "Does it shape loudness and timing with feeling?",
}
MOS_MIN, MOS_MAX = 1, 5
MOS_LABELS = {1: "1 poor", 2: "2 fair", 3: "3 good", 4: "4 very good", 5: "5 excellent"}
HUMAN = "human"
CATEGORY_LABELS = {"human": "Human", "lstm": "LSTM", "transformer": "Transformer", "gan": "GAN", "markov": "Markov"}


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category)


class ListeningTestError(MusestudioError):
    """A listening-test folder or results file cannot be used."""


@dataclass
class Clip:
    id: str
    category: str
    is_human: bool  # the ground truth for the human/AI question
    kind: str  # "continuation" (seed + model), "human" (seed + true continuation), "file"
    source: str  # file the clip came from (relative to where the test was built)
    file: str  # relative to the test folder
    sha256: str = ""
    duration: float = 0.0
    model: str | None = None
    seed_seconds: float = 0.0
    start: float = 0.0  # where the excerpt begins in the source, seconds
    loudness_before: float = float("nan")  # LUFS as rendered
    gain_db: float = 0.0


@dataclass
class ListeningManifest:
    test_id: str
    title: str
    created: str
    categories: list[str]
    clips: list[Clip]
    clip_seconds: float
    sample_rate: int
    target_lufs: float
    clips_per_category: int  # heard by each participant, per category
    random_seed: int = 0
    renderer: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    def clip(self, clip_id: str) -> Clip:
        for c in self.clips:
            if c.id == clip_id:
                return c
        raise KeyError(clip_id)

    def clips_of(self, category: str) -> list[Clip]:
        return [c for c in self.clips if c.category == category]

    @property
    def clips_per_participant(self) -> int:
        return self.clips_per_category * len(self.categories)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {"format": FORMAT, "version": VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: object = MANIFEST_NAME) -> ListeningManifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputFileError(where, "not a musestudio listening-test manifest")
        if int(data.get("version", 0)) > VERSION:
            raise InputFileError(where, f"made by a newer musestudio (format {data.get('version')})")
        try:
            clips = [Clip(**c) for c in data["clips"]]
            fields = {k: data[k] for k in cls.__dataclass_fields__ if k != "clips" and k in data}
            return cls(clips=clips, **fields)
        except (KeyError, TypeError) as exc:
            raise InputFileError(where, f"manifest is incomplete or damaged ({exc})") from None


def new_test_id() -> str:
    return secrets.token_hex(8)


def new_clip_id(taken: set[str]) -> str:
    """A short random id; its letters carry no information about the clip."""
    while True:
        cid = "c" + secrets.token_hex(4)
        if cid not in taken:
            taken.add(cid)
            return cid


def save_manifest(folder: str | os.PathLike[str], manifest: ListeningManifest) -> Path:
    path = Path(folder) / MANIFEST_NAME
    text = json.dumps(manifest.to_json(), indent=1, allow_nan=True)
    write_bytes_atomic(path, text.encode("utf-8"))
    return path


def load_manifest(folder: str | os.PathLike[str]) -> ListeningManifest:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "not a listening-test folder (no such folder)")
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise InputFileError(folder, f"not a listening-test folder (no {MANIFEST_NAME})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"damaged manifest ({exc})") from None
    return ListeningManifest.from_json(data, path)


def write_secret(folder: str | os.PathLike[str]) -> bytes:
    key = secrets.token_bytes(32)
    write_bytes_atomic(Path(folder) / SECRET_NAME, key.hex().encode("ascii"), overwrite=False)
    return key


def read_secret(folder: str | os.PathLike[str]) -> bytes:
    path = Path(folder) / SECRET_NAME
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        raise ListeningTestError(f"{folder}: the test's key ({SECRET_NAME}) is missing; remote results cannot be checked") from None
    except ValueError:
        raise ListeningTestError(f"{path}: damaged key file") from None
