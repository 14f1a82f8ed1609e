"""The day report's chart keeps to its own space: its bars and words end above the tables' headings,
whatever the font's size."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFont

from pos_app.ui.report_view import ReportView

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("point_size", [10, 28])
def test_the_chart_ends_above_the_table_headings(qtbot, point_size):
    view = ReportView()
    qtbot.addWidget(view)
    view.set_language("sw")
    view.resize(1024, 560)
    view.show()
    qtbot.waitExposed(view)
    font = QFont(view.chart.font())
    font.setPointSize(point_size)
    view.chart.setFont(font)
    view.chart.set_bars([(f"Matokeo {n}", n, 100 * n, "#1b7f3b") for n in range(1, 7)])
    chart = view.chart
    assert chart.row_height() > chart.fontMetrics().height()

    def laid_out() -> bool:
        chart_bottom = chart.mapTo(view, chart.rect().bottomLeft()).y()
        heading_top = view.outcome_title.mapTo(view, view.outcome_title.rect().topLeft()).y()
        return chart.height() >= chart.content_height() and chart_bottom < heading_top

    qtbot.waitUntil(laid_out)
