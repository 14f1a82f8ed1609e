"""The bottom bar and the top banner: relay connection, last callback, demo marking, alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from pos_app.engine.views import AlertCode
from pos_app.ui.formatting import ago
from pos_app.ui.naming import named
from pos_app.ui.strings import engine_text, keys, text
from pos_app.ui.styling import restyle

if TYPE_CHECKING:
    from pos_app.engine.views import TillStatus


class TillStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tillStatusBar")
        self.setSizeGripEnabled(False)
        self.lang = "en"
        self.mode_label = QLabel()
        named(self.mode_label, "modeLabel")
        self.relay_label = QLabel()
        named(self.relay_label, "relayLabel")
        self.callback_label = QLabel()
        named(self.callback_label, "callbackLabel")
        self.addPermanentWidget(self.relay_label)
        self.addPermanentWidget(self.callback_label)
        self.addPermanentWidget(self.mode_label)
        self.status: TillStatus | None = None

    def show_status(self, status: TillStatus, now: datetime | None = None) -> None:
        self.status = status
        lang = self.lang
        now = now or datetime.now(UTC)
        if status.demo:
            self.mode_label.setText(text("sb_demo", lang))
        else:
            mode_key = f"mode_{status.mode}"
            mode = text(mode_key, lang) if mode_key in keys() else status.mode.replace("_", " ")
            self.mode_label.setText(text("sb_mode", lang, mode=mode))
        restyle(self.mode_label, "demo", status.demo)
        if status.mode == "query_only":
            relay, tone = text("sb_relay_none", lang), "warning"
        elif status.relay_connected is None:
            relay, tone = text("sb_relay_unknown", lang), "neutral"
        elif status.relay_connected:
            relay, tone = text("sb_relay_ok", lang), "ok"
        else:
            relay, tone = text("sb_relay_down", lang), "error"
        self.relay_label.setText(relay)
        restyle(self.relay_label, "tone", tone)
        if status.last_callback_at is None:
            self.callback_label.setText(text("sb_no_callback", lang))
        else:
            self.callback_label.setText(
                text("sb_last_callback", lang, ago=ago(status.last_callback_at, now, lang))
            )


class Banner(QLabel):
    """The strip above everything: DEMO in orange, alerts in red. Hidden when there is nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "banner")
        self.setWordWrap(True)
        self.hide()

    def show_status(self, status: TillStatus, lang: str) -> None:
        lines = []
        if status.demo:
            lines.append(text("demo_banner", lang))
        # The engine also lists demo mode among its alerts; the banner already says it, once.
        lines.extend(engine_text(a.message, lang) for a in status.alerts if a.code != AlertCode.DEMO_MODE)
        self.setText("\n".join(lines))
        restyle(self, "kind", "alert" if len(lines) > int(status.demo) else "demo")
        self.setVisible(bool(lines))
