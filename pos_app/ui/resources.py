"""Find the icon and the stylesheet in `resources/`: beside the source tree, or inside a frozen build."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)  # PyInstaller unpacks data files here (build.spec)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def app_icon() -> QIcon:
    icon = QIcon()
    folder = resources_dir()
    for size in (16, 32, 48, 64, 128, 256):
        png = folder / f"icon-{size}.png"
        if png.exists():
            icon.addFile(str(png))
    return icon


def stylesheet() -> str:
    path = resources_dir() / "style.qss"
    return path.read_text(encoding="utf-8") if path.exists() else ""
