"""Widgets whose look follows a dynamic property (`tone`, `error`, `invalid`…) that resources/style.qss
selects on.

Qt matches a style sheet's property selectors when it polishes a widget, not when the property changes: a new
value shows only once the widget is unpolished and polished again ("Customizing Using Dynamic Properties",
https://doc.qt.io/qt-6/stylesheet-examples.html#customizing-using-dynamic-properties).
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget


def repolish(*widgets: QWidget) -> None:
    """Match the style sheet again, e.g. for rules that select on a parent's property."""
    for widget in widgets:
        widget.style().unpolish(widget)
        widget.style().polish(widget)


def restyle(widget: QWidget, name: str, value: object) -> None:
    """Set the dynamic property `name` and show the look the style sheet gives that value."""
    widget.setProperty(name, value)
    repolish(widget)


def say(label: QLabel, words: str, tone: str) -> None:
    """A sentence and its colour (the label's `tone`, "" for none) on one label."""
    label.setText(words)
    restyle(label, "tone", tone)
