"""The receipt code field of the manual receipt and the message check: the SMS code, upper-cased as typed."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from pos_app.ui.inputs import ReceiptCodeInput

pytestmark = pytest.mark.gui


def typed_into_a_new_field(qtbot, keys: str) -> ReceiptCodeInput:
    field = ReceiptCodeInput()
    qtbot.addWidget(field)
    field.show()
    qtbot.keyClicks(field, keys)
    return field


def test_small_letters_read_in_capitals_symbols_are_refused_and_it_stops_at_ten(qtbot) -> None:
    assert typed_into_a_new_field(qtbot, "tk3-mx 6cl.yc9z").text() == "TK3MX6CLYC"


def test_a_letter_typed_inside_the_code_stays_where_the_cursor_was(qtbot) -> None:
    field = typed_into_a_new_field(qtbot, "tk3mx")
    field.setCursorPosition(2)
    qtbot.keyClicks(field, "q")
    assert (field.text(), field.cursorPosition()) == ("TKQ3MX", 3)
    qtbot.keyClick(field, Qt.Key.Key_Backspace)
    assert (field.text(), field.cursorPosition()) == ("TK3MX", 2)


def test_ten_of_the_widest_letters_fit_without_clipping(qtbot) -> None:
    field = typed_into_a_new_field(qtbot, "WWWWWWWWWW")
    field.resize(field.minimumWidth(), field.height())
    assert field.fontMetrics().horizontalAdvance(field.text()) < field.contentsRect().width()
