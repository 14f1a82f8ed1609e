"""A changed dynamic property shows at once: the style sheet's property rules are matched again."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

from pos_app.ui.styling import repolish, restyle, say

pytestmark = pytest.mark.gui

RED, GREEN, PLAIN = "#b3261e", "#145c2b", "#000000"


def colour(label: QLabel) -> str:
    return label.palette().color(label.foregroundRole()).name()


def test_restyle_shows_the_colour_of_the_new_value_which_setting_the_property_alone_does_not(qtbot) -> None:
    label = QLabel("x")
    label.setStyleSheet(f'QLabel {{ color: {PLAIN}; }} QLabel[error="true"] {{ color: {RED}; }}')
    qtbot.addWidget(label)
    label.show()
    assert colour(label) == PLAIN
    label.setProperty("error", True)
    assert colour(label) == PLAIN  # why the helper exists: Qt did not look again
    label.setProperty("error", False)
    restyle(label, "error", True)
    assert (label.property("error"), colour(label)) == (True, RED)
    restyle(label, "error", False)
    assert colour(label) == PLAIN


def test_say_sets_the_words_and_their_tone_and_an_empty_tone_is_plain(qtbot) -> None:
    label = QLabel()
    label.setStyleSheet(f'QLabel {{ color: {PLAIN}; }} QLabel[tone="paid"] {{ color: {GREEN}; }}')
    qtbot.addWidget(label)
    label.show()
    say(label, "Paid", "paid")
    assert (label.text(), label.property("tone"), colour(label)) == ("Paid", "paid", GREEN)
    say(label, "", "")
    assert (label.text(), colour(label)) == ("", PLAIN)


def test_repolish_applies_a_rule_that_selects_on_the_parents_property(qtbot) -> None:
    frame = QFrame()
    frame.setObjectName("panel")
    frame.setStyleSheet(f'QLabel {{ color: {PLAIN}; }} #panel[tone="failed"] QLabel {{ color: {RED}; }}')
    child = QLabel("x", frame)
    QVBoxLayout(frame).addWidget(child)
    qtbot.addWidget(frame)
    frame.show()
    restyle(frame, "tone", "failed")
    assert colour(child) == PLAIN  # the child keeps its old match until it is polished again
    repolish(child)
    assert colour(child) == RED
