"""The day report: totals by outcome, takings by tender and the cash-up, what to review (unknowns, typed
receipts, anomalies, payments to the till no sale took), CSV export and a small bar chart."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from daraja_core.password import NAIROBI
from pos_app.engine.views import TENDERS
from pos_app.ui.formatting import kes, local_time, masked_phone
from pos_app.ui.history_view import day_picker, picked_day
from pos_app.ui.naming import named
from pos_app.ui.presentation import anomaly_word
from pos_app.ui.strings import keys, text

if TYPE_CHECKING:
    from pos_app.engine.views import DayReport

OUTCOME_COLOURS = {
    "paid": "#1b7f3b",
    "unknown": "#c98a00",
    "to_check": "#c98a00",  # receipts: a typed receipt not confirmed, held apart
    "pending": "#5a6b7b",
}
FAILED_COLOUR = "#b3261e"
_TOP = 10  # the chart's space above the first bar
_GAP = 12  # between bars


def outcome_label(outcome: str, lang: str = "en") -> str:
    """The report's outcome keys (daraja_core Outcome values, plus "pending") in words."""
    key = f"outcome_{outcome}"
    return text(key, lang) if key in keys() else outcome.replace("_", " ").capitalize()


def outcome_order(item: tuple[str, tuple[int, int]]) -> tuple[int, int]:
    """Paid first, then the most frequent."""
    outcome, (count, _amount) = item
    return (0 if outcome == "paid" else 1, -count)


class BarChart(QWidget):
    """Horizontal bars, one per outcome, length by count, amount written beside: readable at a glance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "reportChart")
        self._bars: list[tuple[str, int, int, str]] = []  # label, count, amount_kes, colour
        self.empty_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_bars(self, bars: list[tuple[str, int, int, str]]) -> None:
        self._bars = bars
        self.setMinimumHeight(self.sizeHint().height())  # every bar shows, none is cut off
        self.updateGeometry()
        self.update()

    def bars(self) -> list[tuple[str, int, int, str]]:
        return list(self._bars)

    def row_height(self) -> int:
        """One bar's line: never shorter than its words, however large the font (a big system font or
        display scaling drew the words past the widget, over the tables' headings)."""
        return max(26, self.fontMetrics().height() + 8)

    def content_height(self) -> int:
        """How far down the bars and their words reach when painted."""
        return _TOP + len(self._bars) * (self.row_height() + _GAP) - _GAP if self._bars else 0

    def sizeHint(self) -> QSize:
        return QSize(420, max(80, self.content_height() + 20))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.set_bars(self._bars)  # the rows follow the font's height

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        painter.setFont(font)
        if not self._bars:
            painter.setPen(QColor("#5a6b7b"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        metrics = painter.fontMetrics()
        label_width = max(metrics.horizontalAdvance(label) for label, *_ in self._bars) + 16
        value_texts = [f"{count} · KES {kes(amount)}" for _, count, amount, _ in self._bars]
        value_width = max(metrics.horizontalAdvance(v) for v in value_texts) + 16
        top = float(_TOP)
        bar_height = float(self.row_height())
        most = max(count for _, count, _, _ in self._bars) or 1
        room = max(self.width() - label_width - value_width - 10, 20)
        for (label, count, _amount, colour), value_text in zip(self._bars, value_texts, strict=True):
            painter.setPen(QColor("#1d2733"))
            painter.drawText(
                QRectF(0, top, label_width - 8, bar_height),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
            width = room * count / most
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(QRectF(label_width, top + 3, max(width, 3), bar_height - 6), 4, 4)
            painter.setPen(QColor("#1d2733"))
            painter.drawText(
                QRectF(label_width + width + 8, top, value_width, bar_height),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                value_text,
            )
            top += bar_height + _GAP
        painter.end()


class ReportView(QWidget):
    refresh_requested = Signal()
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lang = "en"
        self.report: DayReport | None = None
        self.title = QLabel()
        self.title.setObjectName("screenTitle")
        self.paid_total = QLabel()
        named(self.paid_total, "reportPaidTotal")
        self.cash_up = QLabel()
        named(self.cash_up, "reportCashUp")
        self.cash_up.setWordWrap(True)
        self.chart = BarChart()
        self.outcome_table = QTableWidget(0, 3)
        self.outcome_table.setObjectName("reportByOutcome")
        #: Takings by tender (DayReport.by_tender): M-Pesa prompts, paid to till, verified receipts, cash.
        self.method_table = QTableWidget(0, 3)
        self.method_table.setObjectName("reportByTender")
        for table in (self.outcome_table, self.method_table):
            table.verticalHeader().hide()
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.review_title = QLabel()
        self.review_title.setProperty("role", "sectionTitle")
        self.review_list = QListWidget()
        named(self.review_list, "reportReview")
        self.refresh_button = QPushButton()
        self.refresh_button.setObjectName("reportRefresh")
        self.refresh_button.setAutoDefault(True)
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.export_button = QPushButton()
        named(self.export_button, "reportExport")
        self.export_button.setAutoDefault(True)
        self.export_button.clicked.connect(self.export_requested)
        self.message = QLabel()
        self.message.setObjectName("reportMessage")

        self.day_label = QLabel()
        self.day_edit = day_picker("reportDay")
        self.day_label.setBuddy(self.day_edit)
        self.day_edit.dateChanged.connect(lambda _day: self.refresh_requested.emit())

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.day_label)
        top.addWidget(self.day_edit)
        top.addWidget(self.refresh_button)
        top.addWidget(self.export_button)
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.addWidget(self.paid_total, 0, 0)
        grid.addWidget(self.cash_up, 0, 1)
        grid.addWidget(self.chart, 1, 0, 1, 2)
        self.outcome_title = QLabel()
        self.outcome_title.setProperty("role", "sectionTitle")
        self.method_title = QLabel()
        self.method_title.setProperty("role", "sectionTitle")
        grid.addWidget(self.outcome_title, 2, 0)
        grid.addWidget(self.method_title, 2, 1)
        grid.addWidget(self.outcome_table, 3, 0)
        grid.addWidget(self.method_table, 3, 1)
        grid.addWidget(self.review_title, 4, 0, 1, 2)
        grid.addWidget(self.review_list, 5, 0, 1, 2)
        grid.setRowStretch(3, 2)
        grid.setRowStretch(5, 1)
        for table in (self.outcome_table, self.method_table):
            table.setMinimumHeight(150)  # five outcome rows without a scroll bar at the usual size
        # The chart grows a bar per outcome: on a small screen the report scrolls, the window keeps its size.
        body = QWidget()
        body.setObjectName("reportBody")
        body.setLayout(grid)
        grid.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        scroll.viewport().setAutoFillBackground(False)  # the page's own background, not a grey box
        body.setAutoFillBackground(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.message)
        self.set_language("en")

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.refresh_button.setText(text("report_refresh", lang))
        self.day_label.setText(text("history_day", lang))
        self.export_button.setText(text("report_export", lang))
        self.outcome_title.setText(text("report_by_outcome", lang))
        self.method_title.setText(text("report_by_tender", lang))
        self.review_title.setText(text("report_review", lang))
        self.chart.empty_text = text("report_chart_empty", lang)
        for table, first in ((self.outcome_table, "col_status"), (self.method_table, "col_tender")):
            table.setHorizontalHeaderLabels(
                [text(first, lang), text("report_count", lang), text("col_amount", lang)]
            )
        if self.report is not None:
            self.show_report(self.report)
        else:
            self.title.setText(text("report_title", lang, day=""))

    def day(self) -> date:
        return picked_day(self.day_edit)

    def show_report(self, report: DayReport) -> None:
        self.report = report
        lang = self.lang
        self.title.setText(text("report_title", lang, day=report.day.isoformat()))
        total = kes(report.paid_total_kes)
        if report.day == datetime.now(NAIROBI).date():
            self.paid_total.setText(text("report_paid_total", lang, total=total))
        else:  # another day picked: "today" would be wrong
            self.paid_total.setText(text("report_paid_on", lang, day=report.day.isoformat(), total=total))
        outcomes = sorted(report.by_outcome.items(), key=outcome_order)
        self._fill(self.outcome_table, [(outcome_label(k, lang), c, a) for k, (c, a) in outcomes])
        self._fill(
            self.method_table,
            [(text(f"tender_{k}", lang), *report.by_tender.get(k, (0, 0))) for k in TENDERS],
        )
        self.cash_up.setText(
            text(
                "report_cash_up", lang, total=kes(report.cash_expected_kes), count=report.by_tender["cash"][0]
            )
        )
        bars = [
            (outcome_label(outcome, lang), count, amount, OUTCOME_COLOURS.get(outcome, FAILED_COLOUR))
            for outcome, (count, amount) in outcomes
            if count
        ]
        self.chart.set_bars(bars)
        self.review_list.clear()
        for view in report.unknowns:
            self.review_list.addItem(
                text(
                    "report_unknown_item",
                    lang,
                    amount=kes(view.amount_kes),
                    phone=masked_phone(view.phone),
                    time=local_time(view.created_at),
                )
            )
        for view in report.manual_entries:
            self.review_list.addItem(
                text(
                    "report_manual_item",
                    lang,
                    amount=kes(view.amount_kes),
                    receipt=view.receipt or "",
                    verified=text("verified" if view.manual_verified else "unverified", lang),
                    time=local_time(view.updated_at),
                )
            )
        for view in report.anomalies:
            self.review_list.addItem(
                text(
                    "report_anomaly_item",
                    lang,
                    amount=kes(view.amount_kes),
                    phone=masked_phone(view.phone),
                    anomaly=anomaly_word(view.anomaly or "", lang),
                    time=local_time(view.updated_at),
                )
            )
        for payment in report.unclaimed_c2b:
            self.review_list.addItem(
                text(
                    "report_unclaimed_item",
                    lang,
                    amount=kes(payment.amount_kes),
                    name=payment.first_name,
                    phone=masked_phone(payment.phone),
                    time=local_time(payment.paid_at),
                    code=payment.trans_id,
                )
            )
        if not (report.unknowns or report.manual_entries or report.anomalies or report.unclaimed_c2b):
            self.review_list.addItem(text("report_nothing_to_review", lang))

    @staticmethod
    def _fill(table: QTableWidget, rows: list[tuple[str, int, int]]) -> None:
        table.setRowCount(len(rows))
        for row, (label, count, amount) in enumerate(rows):
            for column, value in enumerate((label, str(count), kes(amount))):
                item = QTableWidgetItem(value)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, column, item)

    def export_csv(self, path: Path) -> Path:
        """Write DayReport.to_csv() to `path` (the engine decides the columns)."""
        if self.report is None:
            raise RuntimeError("no report loaded yet")
        path.write_text(self.report.to_csv(), encoding="utf-8", newline="")
        self.message.setText(text("report_exported", self.lang, path=str(path)))
        return path
