"""Typed application settings with their defaults in one place; QSettings only at the edge."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

SETTINGS_ENV = "MUSESTUDIO_SETTINGS"  # an .ini path; tests point it into a temp folder
MAX_RECENT = 10


@dataclass
class AppSettings:
    soundfont_path: str = ""  # empty: the first SoundFont found on the system
    audio_device: str = ""  # empty: the system's default output
    theme: str = "dark"  # "dark" or "light"
    default_model: str = "transformer"
    spectrogram_kind: str = "cqt"  # "cqt" or "mel"
    colormap: str = "magma"
    db_range: float = 60.0
    autosave_seconds: int = 60
    recent_files: list[str] = field(default_factory=list)

    def add_recent(self, path: str | os.PathLike[str]) -> None:
        p = str(Path(path).resolve())
        self.recent_files = [p, *[r for r in self.recent_files if r != p][:MAX_RECENT - 1]]


def open_qsettings() -> QSettings:
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "musestudio", "musestudio")


def load_settings(qs: QSettings | None = None) -> AppSettings:
    """Read settings, falling back to the default for anything missing or of the wrong type."""
    qs = qs or open_qsettings()
    defaults = AppSettings()
    values: dict[str, Any] = {}
    for f in dataclasses.fields(AppSettings):
        default = getattr(defaults, f.name)
        raw = qs.value(f"app/{f.name}", None)
        if raw is None:
            continue
        try:
            if isinstance(default, bool):
                values[f.name] = str(raw).lower() in {"1", "true", "yes"}
            elif isinstance(default, list):
                values[f.name] = [str(x) for x in (raw if isinstance(raw, list) else [raw]) if str(x)]
            else:
                values[f.name] = type(default)(raw)
        except (TypeError, ValueError):
            continue
    return AppSettings(**values)


def save_settings(settings: AppSettings, qs: QSettings | None = None) -> None:
    qs = qs or open_qsettings()
    for f in dataclasses.fields(AppSettings):
        qs.setValue(f"app/{f.name}", getattr(settings, f.name))
    qs.sync()
