"""Render resources/icons/musestudio.svg to PNGs (16-512 px) with QtSvg, for launchers and the bundle.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make_icons.py

Writes ``resources/icons/musestudio-<size>.png`` and a freedesktop ``hicolor``
tree (``resources/icons/hicolor/<size>x<size>/apps/io.github.musestudio.png``)
that an installer copies to ``~/.local/share/icons``.  Rerun after editing the SVG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "musestudio.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
APP_ID = "io.github.musestudio"


def render(svg: Path, size: int, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"{out}: could not write")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    icons = SVG.parent
    for size in SIZES:
        render(SVG, size, icons / f"musestudio-{size}.png")
        render(SVG, size, icons / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png")
    scalable = icons / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes(SVG.read_bytes())
    print(f"wrote {len(SIZES) * 2} PNGs and a scalable SVG under {icons.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
