"""The till fits a 1024×600 screen in both languages, in every state of a sale, and the sale form keeps
its width whatever the result says: long words wrap inside the status panel instead of widening it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from pos_app.engine.views import build_day_report
from pos_app.ui.main_window import MainWindow
from pos_app.ui.resources import stylesheet
from tests.ui.sale_states import NOW, attempt_view, presentation_of, sale_states

pytestmark = pytest.mark.gui

SMALL = (1024, 600)
TITLE_BAR = 40  # the window manager's frame takes this much of the screen's 600 pixels


def fits(size: tuple[int, int]) -> bool:
    return size[0] <= SMALL[0] and size[1] <= SMALL[1] - TITLE_BAR


@pytest.fixture
def window(qtbot, qapp: QApplication) -> MainWindow:
    qapp.setStyleSheet(stylesheet())  # the sizes under test are the styled ones (fonts, paddings)
    shown = MainWindow()
    qtbot.addWidget(shown)
    shown.show()
    qtbot.waitExposed(shown)
    return shown


def inside(widget: QWidget, window: MainWindow) -> bool:
    top_left = widget.mapTo(window, widget.rect().topLeft())
    return window.rect().contains(QRect(top_left, widget.size()))


def settle(window: MainWindow) -> None:
    """Run the layout passes Qt would run from its event loop, innermost first, so a minimum size that
    grew inside (a taller chart) has reached the window before the test measures it."""
    QApplication.processEvents()
    widgets = [window, *window.findChildren(QWidget)]
    for widget in reversed(widgets):
        layout = widget.layout()
        if layout is not None:
            layout.activate()
    QApplication.processEvents()


def smallest(window: MainWindow) -> tuple[int, int]:
    hint = window.minimumSizeHint().expandedTo(window.minimumSize())
    return hint.width(), hint.height()


@pytest.mark.parametrize("lang", ["en", "sw"])
@pytest.mark.parametrize("size", [SMALL, (1366, 768)], ids=["1024x600", "1366x768"])
def test_every_sale_state_fits_and_keeps_the_form_width(window, qtbot, lang, size):
    window.set_language(lang)
    window.resize(*size)
    form = window.sale.findChild(QWidget, "saleForm")
    panel = window.sale.status_panel
    form_widths: dict[str, int] = {}
    for state, view in sale_states().items():
        window.sale.show_presentation(presentation_of(view, lang))
        settle(window)
        assert fits(smallest(window)), (state, smallest(window))
        assert window.size().toTuple() == size, state  # the window did not grow to fit the result
        form_widths[state] = form.width()
        # Every step button, the status bar and the language button are on the screen.
        for widget in [*panel.buttons.values(), window.statusBar(), window.nav["nav_language"]]:
            if widget.isVisibleTo(window):
                assert inside(widget, window), (state, widget.objectName())
        # Long words wrap: the panel's labels are as tall as their text needs, never cut.
        for label in panel.findChildren(QLabel):
            if label.isVisibleTo(window) and label.wordWrap():
                assert label.height() >= label.heightForWidth(label.width()), (state, label.objectName())
    assert len(set(form_widths.values())) == 1, form_widths


def test_the_phone_field_shows_the_whole_number_in_every_state(window):
    window.resize(*SMALL)
    phone = window.sale.phone_input
    phone.setText("0711 000 009")
    for lang in ("en", "sw"):
        window.set_language(lang)
        for view in sale_states().values():
            window.sale.show_presentation(presentation_of(view, lang))
            settle(window)
            needed = phone.fontMetrics().horizontalAdvance(phone.text())
            assert phone.width() > needed + 16


@pytest.mark.parametrize("lang", ["en", "sw"])
def test_a_busy_day_report_scrolls_instead_of_growing_the_window(window, lang):
    outcomes = ["paid", "cancelled", "insufficient_funds", "wrong_pin", "unreachable", "expired", "limit"]
    codes = {"paid": "0", "cancelled": "1032", "insufficient_funds": "1", "wrong_pin": "2001"}
    codes |= {"unreachable": "1037", "expired": "1019", "limit": "17"}
    views = [
        attempt_view(
            id=f"a{n}",
            state="paid" if outcome == "paid" else "failed",
            outcome=outcome,
            result_code=codes[outcome],
            receipt=f"NLJ7RT6{n:03d}" if outcome == "paid" else None,
        )
        for n, outcome in enumerate(outcomes)
    ]
    views += [attempt_view(id="u1", state="unknown"), attempt_view(id="w1")]
    window.set_language(lang)
    window.resize(*SMALL)
    window.stack.setCurrentWidget(window.report)
    window.report.show_report(build_day_report(NOW.date(), views))
    settle(window)
    assert len(window.report.chart.bars()) == len(outcomes) + 2
    assert fits(smallest(window)), smallest(window)
    assert window.size().toTuple() == SMALL
