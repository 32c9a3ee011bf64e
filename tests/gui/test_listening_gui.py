"""The listening test in the app, end to end offscreen: wizard -> participants (paused, resumed) -> results."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QAbstractButton, QLabel, QMessageBox, QWidget, QWizard

from musestudio.listening.manifest import load_manifest
from musestudio.listening.store import ResultsStore
from tests.listening.listening_fixtures import make_seeds

AI_WORDS = ("lstm", "gan", "transformer", "markov")


@pytest.fixture
def no_sound(monkeypatch):
    from musestudio.gui import playback

    monkeypatch.setattr(playback, "_query_output_devices", lambda: ([], "no audio output device"))
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: pytest.fail(f"unexpected warning: {a[2:]}"))


def visible_text(widget: QWidget) -> str:
    parts = [widget.windowTitle()]
    for w in widget.findChildren(QWidget):
        if isinstance(w, (QLabel, QAbstractButton)):
            parts.append(w.text())
        parts.append(w.toolTip())
        if hasattr(w, "currentText"):
            parts.append(w.currentText())
    return " ".join(parts).lower()


def build_with_wizard(qtbot, listening, tmp_path):
    seeds = make_seeds(tmp_path / "seeds", 6)
    listening.new_test()
    wiz = listening.wizard
    qtbot.addWidget(wiz)
    for i, cat in enumerate(("human", "lstm", "gan")):
        for f in seeds[2 * i : 2 * i + 2]:
            wiz.sources_page.add_file(cat, str(f))
    wiz.next()
    s = wiz.settings_page
    s.title.setText("Class test")
    s.seed_seconds.setValue(0.6)
    s.seconds.setValue(0.9)
    s.folder.setText(str(tmp_path / "test"))
    wiz.next()
    qtbot.waitUntil(wiz.build_page.isComplete, timeout=60_000)
    wiz.button(QWizard.WizardButton.FinishButton).click()
    return seeds


def answer_clip(qtbot, pw, tmp_path, position: int) -> None:
    pw._ask_export_path = lambda: str(tmp_path / f"piece{position}.wav")
    assert not pw.next_button.isEnabled()  # not before the piece was heard and the question answered
    pw.export_button.click()  # the no-sound fallback: the piece is saved to be heard elsewhere
    assert (tmp_path / f"piece{position}.wav").stat().st_size > 1000
    assert not pw.next_button.isEnabled()
    pw.sliders["coherence"].setValue(1 + position % 5)
    pw.sliders["originality"].setValue(5)
    (pw.human_radio if position % 2 else pw.ai_radio).click()
    pw.comment.setPlainText(f"note {position}")
    assert pw.next_button.isEnabled()
    pw.next_button.click()


def test_build_run_pause_resume_and_results(qtbot, tmp_path, no_sound):
    from musestudio.gui.app import create_app
    from musestudio.gui.listening import open_listening_window

    create_app()
    listening = open_listening_window(None)
    qtbot.addWidget(listening)
    seeds = build_with_wizard(qtbot, listening, tmp_path)
    folder = tmp_path / "test"
    m = load_manifest(folder)
    assert listening.folder == folder and m.title == "Class test" and m.clips_per_participant == 6

    pw = listening.start_participant()
    assert not listening.isVisible() and pw.isVisible()  # the results are out of sight while a participant takes it
    pw.start_button.click()
    participant = pw.session.participant
    for pos in range(2):
        text = visible_text(pw)
        for word in (*AI_WORDS, *(s.name.lower() for s in seeds), *(c.id for c in m.clips)):
            assert word not in text, word
        assert f"piece {pos + 1} of 6" in text
        answer_clip(qtbot, pw, tmp_path, pos)
    pw.pause_button.click()  # interrupted: the two answers are already saved
    qtbot.waitUntil(lambda: listening.participant_window is None, timeout=5000)
    assert listening.isVisible()

    pw = listening.start_participant()
    assert pw.resume_box.isVisible() and participant in pw.resume_combo.currentText()
    pw.resume_button.click()
    assert "piece 3 of 6" in visible_text(pw)
    for pos in range(2, 6):
        answer_clip(qtbot, pw, tmp_path, pos)
    assert pw.pages.currentIndex() == 2 and "thank you" in pw.end_label.text().lower()
    pw.close()
    qtbot.waitUntil(lambda: listening.participant_window is None, timeout=5000)

    with ResultsStore.for_test(folder) as store:
        (session,) = store.sessions()
        rows = store.answers()
    assert session.finished and len(rows) == 6
    assert [r.ratings["coherence"] for r in rows] == [1 + p % 5 for p in range(6)]
    assert [r.judged_human for r in rows] == [bool(p % 2) for p in range(6)]
    analysis = listening.results.analysis
    assert analysis.n_answers == 6 and analysis.n_participants == 1
    table = listening.results.paper_table
    assert table.rowCount() == 3 and table.item(0, 0).text() == "Human"
    assert table.item(0, 2).text() == "2"  # two human clips in one session

    listening.write_report(str(tmp_path / "report"))
    assert (tmp_path / "report" / "report.html").is_file() and (tmp_path / "report" / "mos.png").is_file()
    lines = listening.import_results([str(tmp_path / "report" / "answers.csv")])
    assert len(lines) == 1 and "refused" in lines[0]


def test_open_listening_window_belongs_to_the_main_window(qtbot):
    from PySide6.QtWidgets import QMainWindow

    from musestudio.gui.app import create_app
    from musestudio.gui.listening import open_listening_window

    create_app()
    main = QMainWindow()
    qtbot.addWidget(main)
    first = open_listening_window(main)
    assert first.isVisible() and first.parent() is main
    assert open_listening_window(main) is first  # raised again, not a second window
    assert not first.actions_by_name["participant"].isEnabled()  # nothing to run before a test is open


def test_playing_a_piece_to_its_end_unlocks_the_answer(qtbot, tmp_path, monkeypatch):
    """With a sound device (faked: sounddevice records the call), Next waits until the piece has played through."""
    import sounddevice

    from musestudio.gui.app import create_app
    from musestudio.gui.listening.player import ClipPlayer
    from musestudio.gui.listening.runner import ParticipantWindow
    from tests.listening.listening_fixtures import build_tiny

    create_app()
    played = []
    monkeypatch.setattr(ClipPlayer, "available", staticmethod(lambda: (True, "")))
    monkeypatch.setattr(sounddevice, "play", lambda data, rate, **k: played.append((len(data), rate)))
    monkeypatch.setattr(sounddevice, "stop", lambda: None)
    folder = build_tiny(tmp_path / "t", make_seeds(tmp_path / "seeds", 3))
    pw = ParticipantWindow(folder)
    qtbot.addWidget(pw)
    pw.show()
    pw.start_button.click()
    pw.ai_radio.click()
    assert not pw.next_button.isEnabled() and pw.sound_note.text() == ""
    pw.play_button.click()
    assert played and pw.play_button.text().endswith("Stop")
    assert not pw.next_button.isEnabled()  # still playing
    qtbot.waitUntil(pw.next_button.isEnabled, timeout=10_000)
    pw.next_button.click()
    with ResultsStore.for_test(folder) as store:
        (row,) = store.answers()
    assert row.listened_seconds >= 1.0 and row.judged_human is False
