"""The remote page in a real browser: headless Chromium driven by selenium plays, answers, saves; the file imports.

Skipped when Chromium, its driver or selenium is absent (packaging/bootstrap.sh installs them).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest

from musestudio.listening.manifest import load_manifest
from musestudio.listening.remote import export_html, import_results
from musestudio.listening.stats import analyze_test
from musestudio.listening.store import ResultsStore

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="chromium / chromium-driver not installed"),
    pytest.mark.slow,
]
AI_WORDS = ("lstm", "gan", "transformer", "markov")


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver import ChromeOptions, ChromeService

    opts = ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    opts.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=opts, service=ChromeService(executable_path=DRIVER))
    driver.downloads = downloads
    yield driver
    driver.quit()


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def dom_text(driver) -> str:
    """Visible text, every attribute value and every form value of the page, audio data left out."""
    return driver.execute_script("""
        const parts = [document.body.innerText];
        for (const el of document.querySelectorAll('*')) {
          if (el.id === 'audio-data' || el.id === 'test-data') continue;
          for (const a of el.attributes) if (!(el.tagName === 'AUDIO' && a.name === 'src')) parts.push(a.value);
          if ('value' in el && el.tagName !== 'AUDIO') parts.push(String(el.value));
        }
        return parts.join(' ');""").lower()


def test_page_plays_answers_saves_and_its_results_import(browser, test_dir, tmp_path):
    m = load_manifest(test_dir)
    page = export_html(test_dir, tmp_path / "page.html", slots=5)
    browser.get(page.as_uri())
    from selenium.webdriver.common.by import By

    def el(i):
        return browser.find_element(By.ID, i)

    assert browser.title == m.title
    # the page's own SHA-256 (used for signing) agrees with Python's
    assert browser.execute_script("return window.musestudioSha256Hex('abc ünï')") == hashlib.sha256(
        "abc ünï".encode()).hexdigest()
    el("participant-number").send_keys("3")
    el("start").click()
    seen_sources = set()
    for pos in range(m.clips_per_participant):
        text = dom_text(browser)
        for word in AI_WORDS:  # blinding: nothing in the live page names a model or a source
            assert word not in text, (word, pos)
        for clip in m.clips:
            assert Path(clip.source).name.lower() not in text
        assert f"piece {pos + 1} of {m.clips_per_participant}" in text
        assert not el("next").is_enabled()  # not before the clip was heard and the question answered
        src = browser.execute_script("return document.getElementById('player').src")
        assert src.startswith("data:audio/ogg;base64,")
        seen_sources.add(src)
        browser.execute_script("document.getElementById('player').play()")
        el("who-human" if pos % 2 else "who-ai").click()
        browser.execute_script(
            "const r = document.getElementById('rate-coherence'); r.value = arguments[0];"
            "r.dispatchEvent(new Event('input'));", 1 + pos % 5)
        el("comment").send_keys(f"clip {pos + 1}")
        wait_for(lambda: el("next").is_enabled())
        el("next").click()
    assert len(seen_sources) == m.clips_per_participant
    el("save").click()
    saved = wait_for(lambda: [p for p in browser.downloads.glob("*.json")])
    result = import_results(test_dir, saved[0])
    assert result.complete and result.answers == m.clips_per_participant
    with ResultsStore.for_test(test_dir) as store:
        (session,) = store.sessions()
        rows = store.answers()
    assert session.slot == 2 and session.source == "html"  # participant number 3 -> the third playing order
    assert [r.ratings["coherence"] for r in rows] == [1 + p % 5 for p in range(len(rows))]
    assert [r.judged_human for r in rows] == [bool(p % 2) for p in range(len(rows))]
    assert rows[0].comment == "clip 1" and all(r.listened_seconds > 0 for r in rows)
    _, analysis = analyze_test(test_dir)
    assert analysis.n_participants == 1 and analysis.n_answers == len(rows)


def test_an_interrupted_page_resumes(browser, test_dir, tmp_path):
    from selenium.webdriver.common.by import By

    page = export_html(test_dir, tmp_path / "page.html", slots=5)
    browser.get(page.as_uri())
    browser.find_element(By.ID, "start").click()
    browser.execute_script("document.getElementById('player').play()")
    browser.find_element(By.ID, "who-ai").click()
    wait_for(lambda: browser.find_element(By.ID, "next").is_enabled())
    browser.find_element(By.ID, "next").click()
    browser.get(page.as_uri())  # the tab was closed and opened again
    resume = browser.find_element(By.ID, "resume")
    assert resume.is_displayed() and "answered 1 of" in browser.find_element(By.ID, "start-note").text
    resume.click()
    assert "piece 2 of" in browser.find_element(By.ID, "progress").text.lower()
