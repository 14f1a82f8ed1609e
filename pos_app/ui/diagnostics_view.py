"""The diagnostics findings: one plain sentence and the fix for each, worst first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from pos_app.ui.naming import named
from pos_app.ui.strings import engine_text, text

if TYPE_CHECKING:
    from pos_app.engine.views import Finding

_ORDER = {"error": 0, "warning": 1, "ok": 2}
_MARK = {"error": "✖", "warning": "!", "ok": "✔"}


class FindingsList(QWidget):
    """A column of findings; used by the Diagnostics screen and by Settings → Test connection."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "findingsList")
        self.lang = "en"
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(8)
        self._lines: list[str] = []
        self.show_placeholder(text("diag_none", self.lang))

    def lines(self) -> list[str]:
        """What is shown, as text (for tests and copy-paste into a support message)."""
        return list(self._lines)

    def _clear(self) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self._lines = []

    def show_placeholder(self, message: str) -> None:
        self._clear()
        label = QLabel(message)
        label.setWordWrap(True)
        self._layout.addWidget(label)
        self._layout.addStretch(1)
        self._lines = [message]

    def show_findings(self, findings: list[Finding]) -> None:
        self._clear()
        ordered = sorted(findings, key=lambda f: _ORDER.get(f.severity, 3))
        if not any(f.severity != "ok" for f in ordered):
            header = QLabel(text("diag_all_ok", self.lang))
            header.setProperty("severity", "ok")
            self._layout.addWidget(header)
            self._lines.append(text("diag_all_ok", self.lang))
        for finding in ordered:
            card = QFrame()
            card.setObjectName("findingCard")
            card.setProperty("severity", finding.severity)
            mark = QLabel(_MARK.get(finding.severity, "?"))
            mark.setObjectName("findingMark")
            mark.setProperty("severity", finding.severity)
            said = engine_text(finding.message, self.lang)
            message = QLabel(said)
            message.setWordWrap(True)
            message.setObjectName("findingMessage")
            body = QVBoxLayout()
            body.addWidget(message)
            line = f"{finding.severity}: {said}"
            if finding.fix and finding.severity != "ok":
                advice = text("diag_fix", self.lang, fix=engine_text(finding.fix, self.lang))
                fix = QLabel(advice)
                fix.setWordWrap(True)
                fix.setObjectName("findingFix")
                body.addWidget(fix)
                line += " " + advice
            row = QHBoxLayout(card)
            row.addWidget(mark)
            row.addLayout(body, 1)
            self._layout.addWidget(card)
            self._lines.append(line)
        self._layout.addStretch(1)


class DiagnosticsView(QWidget):
    run_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setObjectName("screenTitle")
        self.run_button = QPushButton()
        named(self.run_button, "diagnosticsRun")
        self.run_button.setAutoDefault(True)
        self.run_button.clicked.connect(self.run_requested)
        self.findings = FindingsList()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.findings)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.run_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        self.set_language("en")

    def set_language(self, lang: str) -> None:
        self.findings.lang = lang
        self.title.setText(text("diag_title", lang))
        self.run_button.setText(text("diag_run", lang))
