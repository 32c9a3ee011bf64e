"""The offline page is blind, and results imports refuse tampered, duplicated and foreign files."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from musestudio.listening.design import schedule
from musestudio.listening.manifest import load_manifest, read_secret
from musestudio.listening.remote import ImportRefused, export_html, import_results, page_key, sign
from musestudio.listening.store import ResultsStore

CATEGORY_WORDS = ("lstm", "markov", "transformer", "gan", "category", "seed", ".mid")


def page_without_audio(html: str) -> str:
    return re.sub(r'<script type="application/json" id="audio-data">.*?</script>', "", html, flags=re.S)


def results_file(folder, path, *, slot=0, answers=None, key=None, test_id=None, session="s1", **changes):
    m = load_manifest(folder)
    plan = schedule(m, slot)
    if answers is None:
        answers = [{"position": i, "clip_id": c, "coherence": 4, "human_likeness": 3, "originality": 2,
                    "expressiveness": 5, "judged_human": i % 2 == 0, "comment": "", "listened_seconds": 1.5,
                    "answered_at": "2026-01-01T00:00:00+00:00"} for i, c in enumerate(plan)]
    payload = {"format": "musestudio-listening-results", "version": 1, "test_id": test_id or m.test_id,
               "test_title": m.title, "session_id": session, "participant": "P-TEST1", "slot": slot, "plan": plan,
               "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:10:00+00:00",
               "answers": answers, **changes}
    text = json.dumps(payload)
    k = key if key is not None else page_key(read_secret(folder), m.test_id)
    path.write_text(json.dumps({"payload": text, "signature": sign(k, text)}))
    return path


def test_page_is_self_contained_and_blind(test_dir, tmp_path):
    page = export_html(test_dir, tmp_path / "page.html", slots=6)
    html = page.read_text()
    m = load_manifest(test_dir)
    assert "http://" not in html and "https://" not in html and "src=\"http" not in html  # nothing to fetch
    assert html.count("data:audio/ogg;base64,") == len(m.clips)
    blind = page_without_audio(html).lower()
    for word in CATEGORY_WORDS:
        assert word not in blind, word
    for clip in m.clips:
        assert clip.source.lower() not in blind
    # "human" appears only in the fixed question texts, never next to a clip id
    assert blind.count("human") == page_without_audio(html.replace(m.test_id, "")).lower().count("human")
    for clip in m.clips:
        for match in re.finditer(clip.id, blind):
            around = blind[max(0, match.start() - 40): match.end() + 40]
            assert "human" not in around and "true" not in around and "false" not in around
    # the audio is listed in id order: its order in the source says nothing about categories
    listed = re.findall(r'"(c[0-9a-f]{8})":"data:audio', html)
    assert listed == sorted(c.id for c in m.clips)
    with pytest.raises(Exception, match="already exists"):
        export_html(test_dir, page, slots=6)


def test_a_good_file_imports_once(test_dir, tmp_path):
    f = results_file(test_dir, tmp_path / "r.json", slot=2)
    res = import_results(test_dir, f)
    assert res.complete and res.answers == load_manifest(test_dir).clips_per_participant
    with ResultsStore.for_test(test_dir) as store:
        (s,) = store.sessions()
        assert s.source == "html" and s.slot == 2 and s.finished
    with pytest.raises(ImportRefused, match=r"^r.json: refused: already imported \(participant P-TEST1"):
        import_results(test_dir, f)
    copy = tmp_path / "copy.json"
    shutil.copy(f, copy)
    with pytest.raises(ImportRefused, match="already imported"):
        import_results(test_dir, copy)


def test_tampered_file_is_refused(test_dir, tmp_path):
    f = results_file(test_dir, tmp_path / "r.json")
    outer = json.loads(f.read_text())
    outer["payload"] = outer["payload"].replace('"coherence": 4', '"coherence": 5', 1)
    f.write_text(json.dumps(outer))
    with pytest.raises(ImportRefused, match="changed after it was saved"):
        import_results(test_dir, f)
    with ResultsStore.for_test(test_dir) as store:
        assert store.answers() == []


def test_foreign_and_garbage_files_are_refused(test_dir, tmp_path, built_test):
    other = tmp_path / "other"
    shutil.copytree(built_test, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["test_id"], manifest["title"] = "0123456789abcdef", "Another class"
    (other / "manifest.json").write_text(json.dumps(manifest))
    foreign = results_file(other, tmp_path / "foreign.json")
    with pytest.raises(ImportRefused, match=r"belongs to another listening test \('Another class'"):
        import_results(test_dir, foreign)
    wrong_key = results_file(test_dir, tmp_path / "k.json", key=b"x" * 32)
    with pytest.raises(ImportRefused, match="signature does not match"):
        import_results(test_dir, wrong_key)
    for name, content in [("a.json", "not json"), ("b.json", '{"payload": "{}", "signature": ""}'), ("c.json", "[]")]:
        (tmp_path / name).write_text(content)
        with pytest.raises(ImportRefused, match="not a musestudio listening-test results file"):
            import_results(test_dir, tmp_path / name)


def test_signed_but_inconsistent_answers_are_refused(test_dir, tmp_path):
    m = load_manifest(test_dir)
    bad_clip = results_file(test_dir, tmp_path / "a.json", answers=[{"position": 0, "clip_id": "cdeadbeef"}])
    with pytest.raises(ImportRefused, match="do not match this test's clips"):
        import_results(test_dir, bad_clip)
    plan = schedule(m, 0)
    out_of_range = [{"position": 0, "clip_id": plan[0], "coherence": 9, "human_likeness": 3, "originality": 2,
                     "expressiveness": 5, "judged_human": True}]
    with pytest.raises(ImportRefused, match="do not match"):
        import_results(test_dir, results_file(test_dir, tmp_path / "b.json", answers=out_of_range))
    wrong_order = results_file(test_dir, tmp_path / "c.json", plan=list(reversed(plan)))
    with pytest.raises(ImportRefused, match="playing order"):
        import_results(test_dir, wrong_order)
    with ResultsStore.for_test(test_dir) as store:
        assert store.sessions() == []  # nothing half-imported


def test_cli_import_prints_one_line_per_refused_file(test_dir, tmp_path, capsys):
    from musestudio.cli import main

    good = results_file(test_dir, tmp_path / "good.json")
    (tmp_path / "bad.json").write_text("{}")
    assert main(["listening-test", "import", str(test_dir), str(good), str(tmp_path / "bad.json")]) == 1
    out, err = capsys.readouterr()
    assert "imported" in out and "P-TEST1" in out
    assert err.strip().count("\n") == 0 and "bad.json: refused: not a musestudio" in err
