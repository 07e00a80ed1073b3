"""Persistent user preferences of the viewer, stored as an INI file in the user config folder.

Tests point the store elsewhere with ``AppSettings(path)`` (or by setting XDG_* folders), so they never
touch a real user's settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from app.paths import user_config_dir

SETTINGS_FILE_NAME = "viewer.ini"
MAX_RECENT = 10


def default_settings_path() -> Path:
    return user_config_dir() / SETTINGS_FILE_NAME


class AppSettings:
    """Typed access to the viewer's QSettings store (one INI file)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_settings_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    # generic typed access ------------------------------------------------------------------------
    def get(self, key: str, default: Any) -> Any:
        """Value of ``key`` converted to the type of ``default`` (a bad stored value gives ``default``)."""
        raw = self._qs.value(key, None)
        if raw is None:
            return default
        try:
            if isinstance(default, bool):
                return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
            if isinstance(default, int):
                return int(raw)
            if isinstance(default, float):
                return float(raw)
            if isinstance(default, str):
                return str(raw)
            if isinstance(default, list):
                if isinstance(raw, str):
                    return [raw] if raw else []
                return [str(x) for x in raw]
        except (TypeError, ValueError):
            return default
        return raw

    def set(self, key: str, value: Any) -> None:
        self._qs.setValue(key, value)

    def remove(self, key: str) -> None:
        self._qs.remove(key)

    def sync(self) -> None:
        self._qs.sync()

    # window state -------------------------------------------------------------------------------
    def window_geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)
        self._qs.sync()

    # recent files -------------------------------------------------------------------------------
    def recent_paths(self) -> list[str]:
        return self.get("recent/paths", [])

    def add_recent(self, path: Path | str) -> list[str]:
        text = str(Path(path).resolve())
        paths = [p for p in self.recent_paths() if p != text]
        paths.insert(0, text)
        del paths[MAX_RECENT:]
        self._qs.setValue("recent/paths", paths)
        self._qs.sync()
        return paths

    def clear_recent(self) -> None:
        self._qs.setValue("recent/paths", [])
