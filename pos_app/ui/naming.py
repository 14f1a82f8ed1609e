"""One name per widget for tests and screen readers."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def named(widget: QWidget, name: str) -> None:
    """objectName and accessible name together: stable handles for tests and screen readers."""
    widget.setObjectName(name)
    widget.setAccessibleName(name)
