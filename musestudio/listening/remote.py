"""Remote participants: an offline HTML page out, a signed results file back in.

The results file is ``{"payload": "<JSON text>", "signature": "<hex>"}``; the
signature is HMAC-SHA256 of the payload's UTF-8 bytes under a *page key*
derived from the test's secret.  On import the file is refused, with one line
saying why, when it

* is not a results file at all;
* belongs to another test (its test id differs: a *foreign* file);
* was changed after it was saved (the signature does not match: *tampered*);
* was imported already (same session or same bytes: *duplicate*);
* answers clips this test does not have, or out of order, or out of range.

What the signature guards, honestly: the key has to be inside the page for
the page to sign, so it stops edits made to the results file by hand or by
another program, and files from another test, but not a participant who
reads the page's source and re-signs a forged file.  A results file is never
the only copy of anything: the teacher keeps the test folder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musestudio.core.atomic import write_bytes_atomic
from musestudio.core.errors import InputFileError
from musestudio.listening.design import schedule
from musestudio.listening.manifest import (
    DIMENSION_HELP,
    DIMENSION_LABELS,
    DIMENSIONS,
    MOS_LABELS,
    ListeningManifest,
    ListeningTestError,
    load_manifest,
    read_secret,
)
from musestudio.listening.page import PAGE_TEMPLATE
from musestudio.listening.store import Answer, ResultsStore

RESULTS_FORMAT = "musestudio-listening-results"
MAX_RESULTS_BYTES = 5 * 1024 * 1024
DEFAULT_SLOTS = 100


class ImportRefused(ListeningTestError):
    """A results file was refused; the message says which file and why."""


def page_key(secret: bytes, test_id: str) -> bytes:
    """The key the HTML page signs with (the test's secret itself never leaves the folder)."""
    return hmac.new(secret, b"musestudio-listening-page:" + test_id.encode("utf-8"), hashlib.sha256).digest()


def sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no '<' can close it early."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def page_data(manifest: ListeningManifest, key: bytes, slots: int) -> dict[str, Any]:
    """Everything the page's script knows: ids, orders and texts; no category or source."""
    return {
        "test_id": manifest.test_id,
        "title": manifest.title,
        "key": key.hex(),
        "dimensions": [{"key": d, "label": DIMENSION_LABELS[d], "help": DIMENSION_HELP[d]} for d in DIMENSIONS],
        "scale_labels": {str(k): v for k, v in MOS_LABELS.items()},
        "slots": [schedule(manifest, s) for s in range(slots)],
    }


def export_html(folder: str | os.PathLike[str], out: str | os.PathLike[str], *, slots: int = DEFAULT_SLOTS,
                overwrite: bool = False) -> Path:
    """Write the self-contained page (audio embedded as data URIs)."""
    folder = Path(folder)
    manifest = load_manifest(folder)
    key = page_key(read_secret(folder), manifest.test_id)
    if slots < 1:
        raise ListeningTestError("the page needs at least one participant slot")
    audio = {}
    # In id order (random), not the manifest's order, which groups clips by source and category.
    for clip in sorted(manifest.clips, key=lambda c: c.id):
        path = folder / clip.file
        try:
            data = path.read_bytes()
        except OSError:
            raise InputFileError(path, "clip file is missing") from None
        if clip.sha256 and hashlib.sha256(data).hexdigest() != clip.sha256:
            raise InputFileError(path, "clip file was changed after the test was built")
        audio[clip.id] = "data:audio/ogg;base64," + base64.b64encode(data).decode("ascii")
    html = PAGE_TEMPLATE.replace("__TEST_DATA__", _script_json(page_data(manifest, key, slots)))
    html = html.replace("__AUDIO_DATA__", _script_json(audio))
    out = Path(out)
    write_bytes_atomic(out, html.encode("utf-8"), overwrite=overwrite)
    return out


@dataclass
class ImportResult:
    session_id: str
    participant: str
    answers: int
    complete: bool


def _refuse(path: Path, why: str) -> ImportRefused:
    return ImportRefused(f"{path.name}: refused: {why}")


def _check_answer(path: Path, manifest_ids: set[str], plan: list[str], raw: Any) -> tuple[int, Answer, str]:
    bad = _refuse(path, "its answers do not match this test's clips (the file was changed)")
    if not isinstance(raw, dict):
        raise bad
    pos = raw.get("position")
    if not isinstance(pos, int) or not 0 <= pos < len(plan) or raw.get("clip_id") != plan[pos]:
        raise bad
    if raw["clip_id"] not in manifest_ids:
        raise bad
    try:
        answer = Answer(
            clip_id=raw["clip_id"],
            ratings={d: raw[d] for d in DIMENSIONS},
            judged_human=raw["judged_human"],
            comment=raw.get("comment", ""),
            listened_seconds=float(raw.get("listened_seconds", 0.0)),
        )
        answer.validate()
    except (KeyError, TypeError, ValueError, ListeningTestError):
        raise bad from None
    return pos, answer, str(raw.get("answered_at", ""))


def read_results(folder: str | os.PathLike[str], path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """(checked payload, sha256 of the file) or ImportRefused with one line."""
    folder, path = Path(folder), Path(path)
    manifest = load_manifest(folder)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    raw = path.read_bytes()
    if len(raw) > MAX_RESULTS_BYTES:
        raise _refuse(path, "too large to be a results file")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        outer = json.loads(raw.decode("utf-8"))
        payload_text = outer["payload"]
        signature = outer["signature"]
        payload = json.loads(payload_text)
        if not isinstance(payload, dict) or payload.get("format") != RESULTS_FORMAT:
            raise ValueError
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise _refuse(path, "not a musestudio listening-test results file") from None
    if payload.get("test_id") != manifest.test_id:
        other = payload.get("test_title") or "another test"
        raise _refuse(path, f"it belongs to another listening test ('{other}', id {str(payload.get('test_id'))[:8]}), "
                            f"not '{manifest.title}'")
    key = page_key(read_secret(folder), manifest.test_id)
    if not isinstance(signature, str) or not hmac.compare_digest(sign(key, payload_text), signature):
        raise _refuse(path, "it was changed after it was saved (its signature does not match)")
    return payload, digest


def import_results(folder: str | os.PathLike[str], path: str | os.PathLike[str]) -> ImportResult:
    """Check a remote participant's results file and add its session to the test's results."""
    folder, path = Path(folder), Path(path)
    manifest = load_manifest(folder)
    payload, digest = read_results(folder, path)
    session_id, plan = payload.get("session_id"), payload.get("plan")
    slot, participant = payload.get("slot"), payload.get("participant")
    if not (isinstance(session_id, str) and isinstance(plan, list) and isinstance(slot, int)
            and isinstance(participant, str) and isinstance(payload.get("answers"), list)):
        raise _refuse(path, "its answers do not match this test's clips (the file was changed)")
    if plan != schedule(manifest, slot):
        raise _refuse(path, "its playing order is not one this test hands out (the file was changed)")
    ids = {c.id for c in manifest.clips}
    answers = [_check_answer(path, ids, plan, a) for a in payload["answers"]]
    if len({p for p, _, _ in answers}) != len(answers):
        raise _refuse(path, "it answers one clip twice (the file was changed)")
    with ResultsStore.for_test(folder) as store:
        seen = store.find_import(session_id, digest)
        if seen is not None:
            raise _refuse(path, f"already imported (participant {seen['participant']}, started {seen['started_at']})")
        store.import_session(
            session_id=session_id, participant=participant[:40], slot=slot, plan=plan, answers=answers,
            started_at=str(payload.get("started_at", "")), finished_at=payload.get("finished_at") or None,
            file_sha256=digest,
        )
    return ImportResult(session_id, participant, len(answers), len(answers) == len(plan))
