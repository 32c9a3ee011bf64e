"""Desktop integration files are valid and agree with what the app really opens; packaging scripts parse.

The bundle itself is built and smoke-tested by packaging/build.sh and packaging/smoke.sh (slow, not CI).
"""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.musestudio"
DESKTOP = ROOT / "resources" / "desktop" / f"{APP_ID}.desktop"
METAINFO = ROOT / "resources" / "desktop" / f"{APP_ID}.metainfo.xml"
MIME_XML = ROOT / "resources" / "desktop" / f"{APP_ID}.mime.xml"
ICONS = ROOT / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

# Which MIME types a file manager uses for each extension musestudio opens.
MIME_FOR_EXTENSION = {
    ".mid": "audio/midi",
    ".midi": "audio/midi",
    ".kar": "audio/midi",
    ".smf": "audio/midi",
    ".musicxml": "application/vnd.recordare.musicxml+xml",
    ".xml": "application/vnd.recordare.musicxml+xml",
    ".mxl": "application/vnd.recordare.musicxml",
    ".wav": "audio/x-wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".aif": "audio/x-aiff",
    ".aiff": "audio/x-aiff",
    ".msproj": "application/x-musestudio-project",
}


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  (keys are case-sensitive)
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_desktop_entry_fields() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Icon"] == APP_ID
    assert entry["Exec"].split()[-1] == "%F", "file managers pass the chosen files with %F"
    categories = entry["Categories"].split(";")
    assert "AudioVideo" in categories and "Midi" in categories


def test_desktop_entry_mime_types_cover_everything_the_app_opens() -> None:
    from musestudio.io.audio import AUDIO_EXTENSIONS
    from musestudio.io.formats import SCORE_EXTENSIONS

    mimes = set(filter(None, desktop_entry()["MimeType"].split(";")))
    for ext in (*SCORE_EXTENSIONS, *AUDIO_EXTENSIONS, ".msproj"):
        assert ext in MIME_FOR_EXTENSION, f"no MIME type known for {ext}: update this test and the .desktop file"
        assert MIME_FOR_EXTENSION[ext] in mimes, f"{ext} ({MIME_FOR_EXTENSION[ext]}) missing from MimeType="


def test_custom_mime_types_are_defined() -> None:
    """MusicXML and .msproj are unknown to shared-mime-info, so we ship their definitions."""
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(MIME_XML).getroot()
    globs = {
        g.get("pattern"): t.get("type") for t in root.findall("m:mime-type", ns) for g in t.findall("m:glob", ns)
    }
    assert globs == {
        "*.musicxml": "application/vnd.recordare.musicxml+xml",
        "*.mxl": "application/vnd.recordare.musicxml",
        "*.msproj": "application/x-musestudio-project",
    }


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_file_validate() -> None:
    proc = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_metainfo_content() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == f"{APP_ID}.desktop"  # type: ignore[union-attr]
    assert len(root.findall("description/p")) >= 2
    shots = root.findall("screenshots/screenshot/image")
    assert shots and shots[0].text and shots[0].text.endswith("resources/screenshots/main_window.png")
    from musestudio import __version__

    assert root.find("releases/release").get("version") == __version__  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli not installed")
def test_appstreamcli_validate() -> None:
    proc = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_icon_svg_and_pngs() -> None:
    svg = ET.parse(ICONS / "musestudio.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 512 512"
    for size in SIZES:
        assert png_size(ICONS / f"musestudio-{size}.png") == (size, size)
        assert png_size(ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png") == (size, size)
    assert (ICONS / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").read_bytes() == (ICONS / "musestudio.svg").read_bytes()


def test_icon_pngs_match_the_svg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed PNGs are what make_icons.py renders from the committed SVG (nobody forgot to rerun it)."""
    pytest.importorskip("PySide6.QtSvg")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import importlib.util

    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    # A QApplication, not a bare QGuiApplication: this process's later tests build widgets on the same instance, and
    # a QWidget on a QGuiApplication aborts the interpreter (tests/packaging then tests/robustness did, without tests/gui).
    _app = QApplication.instance() or QApplication([])
    spec = importlib.util.spec_from_file_location("make_icons", ROOT / "packaging" / "make_icons.py")
    assert spec and spec.loader
    make_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_icons)
    for size in (32, 256):
        out = tmp_path / f"{size}.png"
        make_icons.render(ICONS / "musestudio.svg", size, out)
        fresh, committed = QImage(str(out)), QImage(str(ICONS / f"musestudio-{size}.png"))
        assert fresh.size() == committed.size()
        diff = sum(
            abs(fresh.pixelColor(x, y).red() - committed.pixelColor(x, y).red())
            for x in range(0, size, max(1, size // 32))
            for y in range(0, size, max(1, size // 32))
        )
        assert diff / ((size // max(1, size // 32)) ** 2) < 3, "PNG icons are stale: run packaging/make_icons.py"


@pytest.mark.parametrize("script", ["build.sh", "smoke.sh", "install-desktop.sh"])
def test_shell_scripts_parse(script: str) -> None:
    path = ROOT / "packaging" / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_spec_and_entry_compile() -> None:
    for name in ("musestudio.spec", "musestudio_entry.py", "make_icons.py"):
        source = (ROOT / "packaging" / name).read_text(encoding="utf-8")
        compile(source, name, "exec")


def test_spec_excludes_what_the_bundle_must_not_carry() -> None:
    spec = (ROOT / "packaging" / "musestudio.spec").read_text(encoding="utf-8")
    for needle in ('"training"', '"tests"', '"pytest"', '"nvidia/"', '"torch/test/"', '"resources/demo"', '"models"'):
        assert needle in spec, f"musestudio.spec should mention {needle}"


def test_install_desktop_into_a_prefix(tmp_path: Path) -> None:
    """install-desktop.sh against a stand-in bundle: files land where desktops look, and uninstall removes them."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "musestudio").write_text("#!/bin/sh\necho musestudio 0.0\n")
    (bundle / "musestudio").chmod(0o755)
    prefix = tmp_path / "prefix"
    env = dict(os.environ, PREFIX=str(prefix), HOME=str(tmp_path))
    script = ROOT / "packaging" / "install-desktop.sh"
    subprocess.run(["bash", str(script), str(bundle)], check=True, env=env, capture_output=True)
    desktop = prefix / "share" / "applications" / f"{APP_ID}.desktop"
    text = desktop.read_text()
    assert f"Exec={prefix}/lib/musestudio/musestudio %F" in text
    assert (prefix / "bin" / "musestudio").resolve() == (prefix / "lib" / "musestudio" / "musestudio").resolve()
    assert (prefix / "share" / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png").is_file()
    assert (prefix / "share" / "mime" / "packages" / f"{APP_ID}.xml").is_file()
    assert (prefix / "share" / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    subprocess.run(["bash", str(script), "--uninstall"], check=True, env=env, capture_output=True)
    assert not desktop.exists()
    assert not (prefix / "bin" / "musestudio").exists()
    assert not list((prefix / "share" / "icons").rglob(f"{APP_ID}.*"))


def test_launcher_style_invocation_opens_the_files(tmp_path: Path) -> None:
    """`musestudio FILE...` as a file manager runs it (Exec=musestudio %F): the files open, nothing crashes."""
    import sys

    pytest.importorskip("PySide6")
    from musestudio.core.notes import Note, NoteSequence
    from musestudio.io.midi import write_midi

    song = write_midi(NoteSequence(notes=[Note(60 + i, i * 0.5, i * 0.5 + 0.4, 80) for i in range(8)]), tmp_path / "a song.mid")
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MUSESTUDIO_STATE_DIR=str(tmp_path / "state"),
               MUSESTUDIO_SETTINGS=str(tmp_path / "settings.ini"), PYTHONPATH=str(ROOT))  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "musestudio", str(song), "--screenshot", str(shot), "--size", "900x600"],
        capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert png_size(shot) == (900, 600)
