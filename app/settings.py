"""What the app remembers between sessions (QSettings): window geometry, the
last spec file and the recent files. Tests point QSettings at a throw-away
folder (tests/app/conftest.py)."""
from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 10


class Settings:
    def __init__(self) -> None:
        self._s = QSettings()

    def geometry(self) -> QByteArray | None:
        value = self._s.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self._s.setValue("window/geometry", geometry)

    def window_state(self) -> QByteArray | None:
        value = self._s.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_window_state(self, state: QByteArray) -> None:
        self._s.setValue("window/state", state)

    def last_spec(self) -> str | None:
        path = self._s.value("files/last_spec", "")
        return str(path) if path and os.path.isfile(str(path)) else None

    def set_last_spec(self, path: str | None) -> None:
        self._s.setValue("files/last_spec", path or "")

    def recent_files(self) -> list[str]:
        value = self._s.value("files/recent", [])
        if isinstance(value, str):  # QSettings gives a single-item list back as a str
            value = [value]
        return [str(p) for p in value or [] if p]

    def add_recent(self, path: str) -> list[str]:
        path = os.path.abspath(path)
        recent = [path] + [p for p in self.recent_files() if p != path]
        self._s.setValue("files/recent", recent[:MAX_RECENT])
        return recent[:MAX_RECENT]

    def remove_recent(self, path: str) -> None:
        self._s.setValue("files/recent", [p for p in self.recent_files() if p != path])

    def sync(self) -> None:
        self._s.sync()
