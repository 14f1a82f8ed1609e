"""Every word a cashier or owner can see exists in English and in Swahili.

Three checks: the window's own table (strings.py) is complete; every sentence the engine can raise or
report to people (found in its source, so a new one cannot slip past) has its Swahili; and the real
window, walked in Swahili through each state of a sale and the owner's screens, shows no English word.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QWidget

from pos_app.engine.views import Alert, AlertCode, TillStatus
from pos_app.ui import strings
from pos_app.ui.manual_receipt_dialog import ManualReceiptDialog
from pos_app.ui.settings_dialog import SettingsDialog
from pos_app.ui.strings import engine_sentences, engine_text, keys, text
from tests.ui.harness import OWNER_PIN, Till
from tests.ui.sale_states import presentation_of, sale_states

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]

# Names, not prose: the Daraja portal's own field names, the product's name, a sample number.
SAME_IN_BOTH = {
    "window_title",
    "c2b_row",  # only values: amount, name, phone and the "ago" words, each translated
    "phone_placeholder",
    "set_consumer_key",
    "set_consumer_secret",
    "set_passkey",
    "set_ngrok",
}


# ---- the tables -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(keys()))
def test_every_window_string_has_english_and_swahili(key):
    english, swahili = text(key, "en"), strings._TABLE[key][1]
    assert english.strip() and swahili.strip()
    if key not in SAME_IN_BOTH:
        assert swahili != english
    # The same values are filled in, so no language loses the amount or the reason.
    assert set(re.findall(r"\{(\w+)\}", english)) == set(re.findall(r"\{(\w+)\}", swahili))


def test_every_engine_sentence_in_the_table_has_its_swahili_with_the_same_values():
    for english, swahili in engine_sentences():
        assert swahili and swahili != english
        assert english.count("{}") == len(set(re.findall(r"\{(\d)\}", swahili))), english


# ---- every sentence the engine can say to people --------------------------------------------------------

# Exceptions whose message the window shows (busy.py's refusals) and the tunnel's reason (an alert).
SHOWN_ERRORS = {
    "ChargeRefused",
    "WrongPin",
    "ReceiptRefused",
    "AttemptNotFound",
    "ValueError",
    "TunnelError",
    "C2bClaimRefused",
}


def samples(node: ast.expr) -> list[str]:
    """The texts an expression can produce, values stood in by "7"; both branches of an inline if."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        texts = [""]
        for part in node.values:
            if isinstance(part, ast.Constant):
                texts = [t + str(part.value) for t in texts]
            elif isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.IfExp):
                options = samples(part.value.body) + samples(part.value.orelse)
                texts = [t + o for t in texts for o in options]
            else:
                texts = [t + "7" for t in texts]
        return texts
    if isinstance(node, ast.IfExp):
        return samples(node.body) + samples(node.orelse)
    return []


def engine_said() -> Iterator[tuple[str, str]]:
    """(where, sentence) for every literal sentence meant for people in the engine's source."""
    sources = [*sorted((ROOT / "pos_app" / "engine").rglob("*.py")), ROOT / "pos_app" / "embedded_relay.py"]
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                arguments = [*node.args, *(k.value for k in node.keywords)]
                if name == "Finding":  # code, severity, message, fix
                    for argument in arguments[2:]:
                        yield from ((where, s) for s in samples(argument) if s)
                elif name == "Alert" and len(node.args) == 2:  # code, message
                    yield from ((where, s) for s in samples(node.args[1]))
                elif node.args and (name in SHOWN_ERRORS or "alerts.append" in ast.unparse(node.func)):
                    yield from ((where, s) for s in samples(node.args[0]))
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
                # (verified, reason): the manual receipt check's answer, shown in the receipt dialog.
                first, *rest = node.value.elts
                if isinstance(first, ast.Constant) and isinstance(first.value, bool) and len(rest) == 1:
                    yield from ((where, s) for s in samples(rest[0]))


def test_the_source_scan_finds_the_engines_sentences():
    said = {sentence for _where, sentence in engine_said()}
    assert "Wrong owner PIN." in said
    assert "The relay has no M-Pesa payment with this receipt." in said
    assert "7 payment(s) with an anomaly to review." in said
    assert "This computer's clock is 7 s behind the relay's." in said
    assert len(said) > 60


def test_every_sentence_the_engine_says_to_people_has_its_swahili():
    missing = [
        f"{where}: {sentence}" for where, sentence in engine_said() if engine_text(sentence, "sw") == sentence
    ]
    assert missing == []


def test_engine_sentences_keep_their_values_in_swahili():
    assert engine_text("Receipt QWE1234567 is already used on sale S123.", "sw") == (
        "Risiti QWE1234567 tayari imetumika kwenye mauzo S123."
    )
    # The most specific sentence wins over a shorter one that also matches.
    assert engine_text(
        "The callback URL answered HTTP 502: the relay, or the proxy or tunnel in front of it, is failing.",
        "sw",
    ).startswith("Callback URL imejibu HTTP 502: relay")
    assert engine_text("Wrong owner PIN.", "en") == "Wrong owner PIN."


# ---- the real window, walked in Swahili ---------------------------------------------------------------


def words(sentence: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]{3,}", re.sub(r"\{\w*\}", " ", sentence))}


def english_only_words() -> set[str]:
    """Words of the English texts that no Swahili text uses (so names such as relay, M-Pesa, SMS, PIN,
    callback or Daraja, kept in Swahili too, do not count)."""
    english = {w for key in keys() for w in words(strings._TABLE[key][0])}
    english |= {w for en, _sw in engine_sentences() for w in words(en)}
    swahili = {w for key in keys() for w in words(strings._TABLE[key][1])}
    swahili |= {w for _en, sw in engine_sentences() for w in words(sw)}
    return english - swahili


ENGLISH_ONLY = english_only_words()


def shown_texts(root: QWidget) -> list[str]:
    """What a person sees in `root` right now: visible labels, buttons, placeholders and titles."""
    shown = [root.windowTitle()]
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible():
            continue
        if isinstance(widget, QLabel | QAbstractButton):
            shown.append(widget.text().replace("&", ""))
        elif isinstance(widget, QLineEdit):
            shown.append(widget.placeholderText())
    return [s for s in shown if s]


def english_in(root: QWidget) -> list[str]:
    return [s for s in shown_texts(root) if words(s) & ENGLISH_ONLY]


def test_the_english_word_list_knows_what_the_issue_found():
    assert {"waiting", "refused", "receipt", "verified", "payment", "review"} <= ENGLISH_ONLY
    assert not {"relay", "pesa", "sms", "pin", "daraja", "english"} & ENGLISH_ONLY


def walk(till: Till, where: str, root: QWidget | None = None) -> None:
    till.qtbot.wait(50)  # lets queued layout and paint events run; nothing is asserted about time
    assert english_in(root or till.window) == [], where


def test_the_window_in_swahili_shows_no_english_in_any_state(till: Till):
    window = till.window
    # The phone hint, written in English, follows the switch to Swahili.
    till.type_sale("20", "0711 00")
    hint = window.sale.phone_hint
    till.qtbot.waitUntil(lambda: bool(hint.text()))
    english_hint = hint.text()
    till.press(Qt.Key.Key_F9)
    till.qtbot.waitUntil(lambda: window.lang == "sw")
    assert hint.text() != english_hint
    walk(till, "idle, phone half typed")
    window.sale.clear()

    # A payment that gets paid: waiting, then paid.
    till.charge("20", "0708374149")
    till.wait_for_status("Inasubiri")
    walk(till, "waiting")
    till.wait_for_status("Imelipwa", "Risiti ")
    walk(till, "paid")

    # A failed payment, then a push Daraja refused.
    for phone in ("0711000001", "0711000007"):
        till.press(Qt.Key.Key_Return)  # New sale
        till.charge("30", phone)
        till.qtbot.waitUntil(lambda: till.window.current is not None and till.current().state == "failed")
        walk(till, f"failed {phone}")

    # Unknown (the engine's own view of one), and alerts in the banner.
    unknown = sale_states()["unknown"]
    window.sale.show_presentation(presentation_of(unknown, "sw"))
    walk(till, "unknown")
    window._on_status_changed(
        TillStatus(
            mode="remote",
            demo=False,
            relay_connected=True,
            last_callback_at=datetime.now(UTC),
            alerts=[
                Alert(AlertCode.PAYMENTS_STUCK, "2 payment(s) pending or unknown for more than 5 minutes."),
                Alert(AlertCode.ANOMALIES_TO_REVIEW, "1 payment(s) with an anomaly to review."),
            ],
        )
    )
    assert window.banner.isVisible()
    walk(till, "alerts")

    # The receipt dialog's answers: a wrong PIN, then a receipt the relay does not know.
    window.sale_flow.current = till.current()
    till.press(Qt.Key.Key_F4)
    till.qtbot.waitUntil(lambda: any(isinstance(d, ManualReceiptDialog) for d in window.open_dialogs()))
    dialog = next(d for d in window.open_dialogs() if isinstance(d, ManualReceiptDialog))
    dialog.receipt_input.setText("QWE1234567")
    dialog.pin_input.setText("0000")
    dialog.submit_button.click()
    till.qtbot.waitUntil(lambda: bool(dialog.result_label.text()), timeout=5000)
    walk(till, "receipt dialog, wrong PIN", dialog)
    dialog.pin_input.setText(OWNER_PIN)
    dialog.submit_button.click()
    till.qtbot.waitUntil(lambda: dialog.recorded is not None, timeout=5000)
    walk(till, "receipt dialog, recorded", dialog)
    dialog.accept()
    till.qtbot.waitUntil(lambda: not window.open_dialogs(), timeout=5000)

    # Settings: a refused PIN change and the connection test's findings.
    window.nav["nav_settings"].click()  # the keys are tested elsewhere; here only the words count
    till.qtbot.waitUntil(lambda: any(isinstance(d, SettingsDialog) for d in window.open_dialogs()))
    settings = next(d for d in window.open_dialogs() if isinstance(d, SettingsDialog))
    till.qtbot.waitUntil(settings.isVisible)
    settings.old_pin.setText("1111")
    settings.new_pin.setText("1357")
    settings.save_button.click()
    till.qtbot.waitUntil(lambda: bool(settings.message.text()), timeout=5000)
    settings.test_button.click()
    till.qtbot.waitUntil(lambda: len(settings.findings.lines()) > 1, timeout=15_000)
    walk(till, "settings", settings)
    settings.reject()
    till.qtbot.waitUntil(lambda: not window.open_dialogs(), timeout=5000)

    # Diagnostics, History and the day report.
    window.nav["nav_diagnostics"].click()
    till.qtbot.waitUntil(lambda: len(window.diagnostics.findings.lines()) > 1, timeout=15_000)
    walk(till, "diagnostics")
    for button, screen in (("nav_history", window.history), ("nav_report", window.report)):
        window.nav[button].click()
        till.qtbot.waitUntil(lambda screen=screen: window.stack.currentWidget() is screen)
        walk(till, type(screen).__name__)
