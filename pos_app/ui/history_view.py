"""Today's attempts in a table: search by phone, receipt or amount; filter by status; rows update live.

`HistoryModel.upsert()` is fed by TillService.subscribe, so a late result changes its one row in place
(as Electrum does: refresh one row, not the table).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from daraja_core.password import NAIROBI
from pos_app.ui.formatting import kes, local_time, masked_phone
from pos_app.ui.naming import named
from pos_app.ui.presentation import anomaly_word, method_word, state_word, status_word
from pos_app.ui.shortcuts import PRINT_KEY, RELEASE_KEY, with_key
from pos_app.ui.strings import engine_text, text

if TYPE_CHECKING:
    from pos_app.engine.views import AttemptView

_COLUMNS = (
    "col_time",
    "col_amount",
    "col_phone",
    "col_status",
    "col_receipt",
    "col_method",
    "col_description",
    "col_reason",
)
_DESCRIPTION = _COLUMNS.index("col_description")
_STATE_COLOURS = {"paid": "#1b7f3b", "failed": "#b3261e", "unknown": "#9a6700"}
STATUS_FILTERS = ("", "paid", "failed", "unknown", "prompt_sent")

AnyIndex = QModelIndex | QPersistentModelIndex


def today() -> date:
    return datetime.now(NAIROBI).date()


def day_picker(name: str) -> QDateEdit:
    """A day to show, today at first: typed (arrow keys step day, month, year) or picked from a calendar
    (Alt+Down); no day after today."""
    now = today()
    edit = QDateEdit(QDate(now.year, now.month, now.day))
    named(edit, name)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("dd/MM/yyyy")
    edit.setMaximumDate(edit.date())
    return edit


def picked_day(edit: QDateEdit) -> date:
    picked = edit.date()
    return date(picked.year(), picked.month(), picked.day())


class HistoryModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.lang = "en"
        self._rows: list[AttemptView] = []
        #: The day shown (Nairobi): an attempt announced for another day is not this table's.
        self.day: date | None = None

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return text(_COLUMNS[section], self.lang)
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        view = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cell(view, column)
        if role == Qt.ItemDataRole.UserRole:
            return view
        if role == Qt.ItemDataRole.ToolTipRole and column == len(_COLUMNS) - 1:
            return self._cell(view, column) or None  # the whole reason, however narrow the column
        if role == Qt.ItemDataRole.ForegroundRole and column == 3 and view.state in _STATE_COLOURS:
            return QBrush(QColor(_STATE_COLOURS["unknown" if view.to_check else view.state]))
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _cell(self, view: AttemptView, column: int) -> str:
        if column == 0:
            return local_time(view.created_at)
        if column == 1:
            return kes(view.amount_kes)
        if column == 2:
            return masked_phone(view.phone)
        if column == 3:
            return status_word(view, self.lang)
        if column == 4:
            return view.receipt or ""
        if column == 5:
            return method_word(view.method, self.lang)
        if column == _DESCRIPTION:
            return view.description
        if view.state in ("failed", "unknown") or view.anomaly or (view.state == "paid" and view.reason):
            return " · ".join(reason_parts(view, self.lang))
        return ""

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(_COLUMNS) - 1)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(_COLUMNS) - 1))

    def reset(self, views: list[AttemptView]) -> None:
        self.beginResetModel()
        self._rows = list(views)
        self.endResetModel()

    def upsert(self, view: AttemptView) -> None:
        """Replace the attempt's row, or put a new attempt at the top (newest first)."""
        if self.day is not None and view.created_at.astimezone(NAIROBI).date() != self.day:
            return
        for row, existing in enumerate(self._rows):
            if existing.attempt_id == view.attempt_id:
                self._rows[row] = view
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(_COLUMNS) - 1))
                return
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.insert(0, view)
        self.endInsertRows()

    def views(self) -> list[AttemptView]:
        return list(self._rows)


def reason_parts(view: AttemptView, lang: str) -> list[str]:
    """The cashier's sentence, then the details the sale screen leaves out: Daraja's words, codes and
    request ids, or why the result is unknown (AttemptView.reason), and the anomaly to review."""
    message = view.message_sw if lang == "sw" and view.message_sw else view.message_en
    parts = [message]
    # Why it failed or is unknown; for a paid one, how it was settled (matched after a restart).
    shown = view.state == "paid" or (view.state in ("failed", "unknown") and view.reason != view.message_en)
    if shown and view.reason and view.reason != message:
        parts.append(engine_text(view.reason, lang))
    if view.result_code and view.result_code != "0" and view.result_code not in view.reason:
        parts.append(text("history_code", lang, code=view.result_code))
    if view.anomaly:
        parts.append(text("anomaly_line", lang, anomaly=anomaly_word(view.anomaly, lang)))
    return parts


class HistoryFilter(QSortFilterProxyModel):
    """Search text matches the phone (any way it is typed), the receipt, or the amount."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._search = ""
        self._status = ""

    def set_search(self, search: str) -> None:
        self._refilter(lambda: setattr(self, "_search", search.strip()))

    def set_status(self, status: str) -> None:
        self._refilter(lambda: setattr(self, "_status", status))

    def _refilter(self, change: Callable[[], None]) -> None:
        # Qt 6.10 replaced invalidateRowsFilter() with begin/endFilterChange(); support both (>= 6.7).
        if hasattr(self, "beginFilterChange") and hasattr(QSortFilterProxyModel, "Direction"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        model = self.sourceModel()
        view = model.data(model.index(source_row, 0, source_parent), Qt.ItemDataRole.UserRole)
        if view is None:
            return False
        if self._status and view.state != self._status:
            return False
        return matches(view, self._search)


def matches(view: AttemptView, search: str) -> bool:
    if not search:
        return True
    needle = search.upper().replace(" ", "")
    if view.receipt and needle in view.receipt.upper():
        return True
    digits = re.sub(r"\D", "", search)
    if not digits:
        return False
    if digits == str(view.amount_kes) or digits == re.sub(r"\D", "", kes(view.amount_kes)):
        return True
    # A phone typed as 07…, 2547… or just its last digits: compare on the local part.
    local = digits[3:] if digits.startswith("254") else digits.lstrip("0")
    return len(local) >= 3 and local in view.phone[3:]


class HistoryView(QWidget):
    selection_changed = Signal()
    day_changed = Signal()  # the owner picked another day to show
    reprint_requested = Signal()  # print the selected paid sale's receipt again, marked COPY
    release_requested = Signal()  # the owner gives back the selected sale's payment to the till number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lang = "en"
        self.model = HistoryModel(self)
        self.proxy = HistoryFilter(self)
        self.proxy.setSourceModel(self.model)
        self.title = QLabel()
        self.title.setObjectName("screenTitle")
        self.search = QLineEdit()
        named(self.search, "historySearch")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_search)
        self.status_filter = QComboBox()
        named(self.status_filter, "historyStatusFilter")
        self.status_filter.currentIndexChanged.connect(
            lambda index: self.proxy.set_status(STATUS_FILTERS[max(index, 0)])
        )
        self.table = QTableView()
        named(self.table, "historyTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.selection_changed.emit())
        self.day_label = QLabel()
        self.day_edit = day_picker("historyDay")
        self.day_label.setBuddy(self.day_edit)
        self.day_edit.dateChanged.connect(lambda _day: self.day_changed.emit())
        self.reprint_button = QPushButton()
        named(self.reprint_button, "reprintButton")
        self.reprint_button.clicked.connect(self.reprint_requested)
        self.reprint_button.hide()  # offered once a receipt printer is set (set_can_print)
        self.selection_changed.connect(self._update_reprint)
        # A row changed in place (paid, released) changes what its buttons may do.
        self.model.dataChanged.connect(lambda *_: self._update_reprint())
        self.release_button = QPushButton()
        named(self.release_button, "releaseButton")
        self.release_button.clicked.connect(self.release_requested)
        self.release_button.setEnabled(False)  # a paid sale settled by a payment to the till number

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.day_label)
        top.addWidget(self.day_edit)
        top.addWidget(self.search, 1)
        top.addWidget(self.status_filter)
        top.addWidget(self.reprint_button)
        top.addWidget(self.release_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        self.set_language("en")

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.title.setText(text("history_title", lang))
        self.search.setPlaceholderText(text("history_search", lang))
        current = max(self.status_filter.currentIndex(), 0)
        self.status_filter.blockSignals(True)
        self.status_filter.clear()
        for state in STATUS_FILTERS:
            self.status_filter.addItem(text("history_all", lang) if not state else state_word(state, lang))
        self.status_filter.setCurrentIndex(current)
        self.status_filter.blockSignals(False)
        self.day_label.setText(text("history_day", lang))
        self.reprint_button.setText(with_key(text("history_reprint", lang), PRINT_KEY))
        self.reprint_button.setShortcut(QKeySequence(PRINT_KEY))  # after setText, which resets it
        self.release_button.setText(with_key(text("history_release", lang), RELEASE_KEY))
        self.release_button.setShortcut(QKeySequence(RELEASE_KEY))
        self.model.set_language(lang)

    def day(self) -> date:
        return picked_day(self.day_edit)

    def show_day(self, day: date, views: list[AttemptView]) -> None:
        """The day's attempts, the selected one still selected: a reload never loses the owner's row."""
        kept = self.selected()
        self.model.day = day
        self.model.reset(views)
        if kept is None:
            return
        for row, view in enumerate(self.model.views()):
            if view.attempt_id == kept.attempt_id:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                if index.isValid():
                    self.table.setCurrentIndex(index)
                    self.table.selectRow(index.row())
                return

    def set_can_print(self, can_print: bool) -> None:
        self.reprint_button.setVisible(can_print)
        self._update_reprint()

    def _update_reprint(self) -> None:
        view = self.selected()
        self.reprint_button.setEnabled(view is not None and view.state == "paid")
        self.release_button.setEnabled(view is not None and view.state == "paid" and view.method == "c2b")

    @staticmethod
    def description_column() -> int:
        return _DESCRIPTION

    def selected(self) -> AttemptView | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        view: AttemptView | None = self.proxy.data(rows[0], Qt.ItemDataRole.UserRole)
        return view
