"""The sale screen tells the cashier one short sentence and the next step; Daraja's words, result codes,
request ids and exception names stay in History (and the logs and diagnostics)."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QWidget

from pos_app.ui.main_window import MainWindow
from pos_app.ui.resources import stylesheet
from tests.ui.harness import Till
from tests.ui.sale_states import REFUSED_REASON, presentation_of, sale_states

pytestmark = pytest.mark.gui

# What a developer reads and a cashier must not: a Daraja error code, HTTP, request ids, exception class
# names (ReadTimeout, ConnectError…), "code 1032" / "msimbo 1032", and parentheses holding digits (but
# not a button's own F-key, "Take cash (F8)": the keys are shown on the buttons on purpose).
DEVELOPER_TEXT = re.compile(
    r"\d{3}\.\d{3}\.\d{4}|HTTP|\brequest\b|\b(code|msimbo)\b|\((?!F\d+\))[^)]*\d[^)]*\)|Daraja said",
    re.IGNORECASE,
)
CAMEL_CASE = re.compile(r"\b[A-Z][a-z]+[A-Z][A-Za-z]*\b")  # exception names; case matters here


def developer_words(text: str) -> list[str]:
    return [m.group(0) for m in DEVELOPER_TEXT.finditer(text)] + CAMEL_CASE.findall(text)


def sale_screen_texts(window: MainWindow) -> list[str]:
    """The result as the sale screen shows it right now: the status panel's visible labels and buttons,
    and the message under the form."""
    panel = window.sale.status_panel
    shown = [window.sale.form_message.text()]
    for widget in panel.findChildren(QWidget):
        if widget.isVisibleTo(window) and isinstance(widget, QLabel | QAbstractButton):
            shown.append(widget.text())
    return shown


@pytest.mark.parametrize("lang", ["en", "sw"])
def test_no_result_on_the_sale_screen_shows_developer_text(qtbot, qapp: QApplication, lang):
    qapp.setStyleSheet(stylesheet())
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_language(lang)
    window.show()
    for state, view in sale_states().items():
        window.sale.show_presentation(presentation_of(view, lang))
        for text in sale_screen_texts(window):
            assert developer_words(text) == [], (state, text)


def test_the_check_itself_catches_what_the_issue_reported():
    assert developer_words(REFUSED_REASON)
    assert developer_words("The push may have reached the phone (ReadTimeout)") == ["ReadTimeout"]
    assert developer_words("Jibu la M-Pesa halijulikani (msimbo 4999)")
    assert developer_words("Check the customer's SMS before charging again.") == []
    assert developer_words("Take cash\n(F8)") == [] and developer_words("(request 9f32, 1)")


def history_reason(till: Till) -> str:
    model = till.window.history.model
    return str(model.data(model.index(0, model.columnCount() - 1), Qt.ItemDataRole.DisplayRole))


@pytest.mark.parametrize("lang", ["en", "sw"])
def test_a_refused_push_says_one_sentence_and_history_keeps_darajas_words(till, lang):
    till.window.set_language(lang)
    # The simulator refuses this push: HTTP 500, 500.001.1001 (docs/daraja.md §2b).
    till.charge("20", "0711000007")
    till.qtbot.waitUntil(lambda: till.window.current is not None and till.current().state == "failed")
    view = till.current()
    shown = till.status_text()
    assert view.message(lang) in shown
    for text in sale_screen_texts(till.window):
        assert developer_words(text) == [], text
    # The details did not vanish: History's reason column carries Daraja's own words and code.
    till.window.history.model.reset([view])
    assert view.message(lang) in history_reason(till)
    assert "500.001.1001" in history_reason(till)
    assert "500.001.1001" in view.reason


def test_an_unknown_result_keeps_its_cause_in_history_only(qtbot):
    unknown = sale_states()["unknown"]
    assert unknown is not None
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.sale.show_presentation(presentation_of(unknown, "en"))
    assert all("ReadTimeout" not in text for text in sale_screen_texts(window))
    window.history.model.reset([unknown])
    model = window.history.model
    assert "ReadTimeout" in str(model.data(model.index(0, model.columnCount() - 1)))
