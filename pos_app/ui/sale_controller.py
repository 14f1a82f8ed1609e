"""The sale flow on the sale screen: which mode it is in, and every move between modes.

ENTRY: the cashier types amount and phone. HELD: a charge typed while the till is still starting, sent
as soon as the engine is attached. SENDING: the push is in flight (one per press). WAITING: the engine
waits for the customer's PIN. RESULT: paid, failed or unknown, with the safe next steps. The form is
editable in ENTRY only, and every mode has a key back to a form that charges: Esc (or, after a result,
Enter or the next amount) starts a new sale. F8 takes cash for the open sale in ENTRY, WAITING (refused by
the engine while the prompt waits) and RESULT alike. The controller reads the form, awaits TillService and
renders the AttemptView the engine announces; the payment rules stay in the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from qasync import asyncSlot

from pos_app.ui import presentation
from pos_app.ui.busy import busy
from pos_app.ui.formatting import kes, masked_phone
from pos_app.ui.presentation import Action, Presentation, Tone, present
from pos_app.ui.receipt_printing import can_print, print_sale
from pos_app.ui.strings import engine_text, phone_problem_text, text

if TYPE_CHECKING:
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView
    from pos_app.ui.history_view import HistoryModel
    from pos_app.ui.sale_screen import SaleScreen

log = logging.getLogger(__name__)

PENDING_STATES = frozenset({"created", "prompt_sent"})
_DIGITS = frozenset("0123456789")


class SaleMode(Enum):
    """Where the sale screen is: typing, a charge held until the till has started, push in flight,
    waiting for the PIN, or showing a result."""

    ENTRY = "entry"
    HELD = "held"
    SENDING = "sending"
    WAITING = "waiting"
    RESULT = "result"


# What the keys do, said under the form for each mode.
_HINTS = {
    SaleMode.ENTRY: "hint_entry",
    SaleMode.HELD: "hint_held",
    SaleMode.SENDING: "hint_sending",
    SaleMode.WAITING: "waiting_hint",
    SaleMode.RESULT: "hint_result",
}


class SaleController(QObject):
    attempt_shown = Signal(str)  # attempt id whose state the sale screen now shows
    verify_requested = Signal()  # the cashier chose to verify the payment by its receipt code
    late_result = Signal(str)  # a payment the cashier stopped watching has ended: one line to show

    def __init__(
        self,
        screen: SaleScreen,
        history: HistoryModel,
        on_screen: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.screen = screen
        self.history = history
        self.on_screen = on_screen  # whether the sale screen is the one showing (focus follows it)
        self.service: TillService | None = None
        self.lang = "en"
        self.mode = SaleMode.ENTRY
        self.current: AttemptView | None = None
        self.sale_id: str | None = None
        self.latest: dict[str, AttemptView] = {}
        self.left_waiting: set[str] = set()
        self._charging = False
        screen.charge_requested.connect(self.on_charge_requested)
        screen.enter_pressed.connect(self.on_enter)
        screen.escape_pressed.connect(self.on_escape)
        screen.typed.connect(self.on_typed)
        screen.paste_pressed.connect(self.on_paste)
        screen.cash_requested.connect(self.on_take_cash)
        screen.status_panel.action_chosen.connect(self.on_action)
        self._enter(SaleMode.ENTRY)

    def attach(self, service: TillService) -> None:
        self.service = service
        self.screen.amount_input.max_amount_kes = service.config.max_amount_kes
        self.screen.show_message("")
        if self.mode is SaleMode.HELD:
            # The charge typed during start-up goes out now, checked again against this till's limit.
            self._enter(SaleMode.ENTRY)
            self.on_charge_requested()

    def start_failed(self, message: str) -> None:
        """The engine could not start: say so, and that a charge typed meanwhile was not sent."""
        if self.mode is SaleMode.HELD:
            self._enter(SaleMode.ENTRY)
            self.screen.show_presentation(presentation.idle(self.lang))
            message = text("charge_refused", self.lang, reason=message)
        self.screen.show_message(message, error=True)

    def detach(self) -> None:
        self.service = None

    def set_language(self, lang: str) -> None:
        self.lang = lang
        if self.current is not None and self.mode in (SaleMode.WAITING, SaleMode.RESULT):
            self.screen.show_presentation(self._present(self.current))
        elif self.mode is SaleMode.ENTRY and self.screen.status_panel.presentation.tone is Tone.IDLE:
            self.screen.show_presentation(presentation.idle(lang))
        self.screen.hint_label.setText(text(_HINTS[self.mode], lang))

    def _enter(self, mode: SaleMode) -> None:
        self.mode = mode
        self.screen.set_form_enabled(mode is SaleMode.ENTRY)
        self.screen.hint_label.setText(text(_HINTS[mode], self.lang))

    # ---- what the engine announces --------------------------------------------------------------

    def remember(self, views: list[AttemptView]) -> None:
        """The stored attempts (History) as known, unless an announcement already brought newer ones."""
        for view in views:
            self.latest.setdefault(view.attempt_id, view)

    def attempt_changed(self, view: AttemptView) -> bool:
        """Show an announced attempt; False when an announcement already shown had overtaken it."""
        previous = self.latest.get(view.attempt_id)
        if previous is not None and previous.updated_at > view.updated_at:
            return False
        self.latest[view.attempt_id] = view
        self.history.upsert(view)
        if self.current is not None and view.attempt_id == self.current.attempt_id:
            self.current = view
            # Paid while the form is back for the same sale (a receipt entered by hand): that sale is
            # over, so the result shows and the next key starts a new one.
            if self.mode in (SaleMode.WAITING, SaleMode.RESULT) or (
                self.mode is SaleMode.ENTRY and view.state == "paid"
            ):
                self._render(view)
        elif view.attempt_id in self.left_waiting and view.state not in PENDING_STATES:
            self.left_waiting.discard(view.attempt_id)
            self.late_result.emit(
                text(
                    "late_result",
                    self.lang,
                    amount=kes(view.amount_kes),
                    phone=masked_phone(view.phone),
                    state=presentation.state_word(view.state, self.lang),
                )
            )
        return True

    def pending_count(self) -> int:
        return sum(1 for view in self.latest.values() if view.state in PENDING_STATES)

    # ---- the cashier's keys and buttons ---------------------------------------------------------

    def on_enter(self) -> None:
        if not self.on_screen():
            return
        if self.mode is SaleMode.ENTRY:
            self.screen.charge_button.click()
        elif self.mode is SaleMode.RESULT:
            self.new_sale()

    def on_escape(self) -> None:
        if self.mode is SaleMode.WAITING and self.current is not None:
            # The engine keeps waiting and querying; the cashier just stops watching.
            view = self.current
            self.left_waiting.add(view.attempt_id)
            self.new_sale()
            self.screen.show_message(
                text("left_waiting", self.lang, amount=kes(view.amount_kes), phone=masked_phone(view.phone))
            )
        elif self.mode is SaleMode.HELD:
            self._enter(SaleMode.ENTRY)
            self.screen.show_presentation(presentation.idle(self.lang))
            self.screen.show_message(text("held_withdrawn", self.lang))
            self.screen.amount_input.setFocus()
        elif self.mode in (SaleMode.RESULT, SaleMode.ENTRY):
            # A new sale, never the form of the sale just shown: charging that one again is a next
            # step's job (Retry, Try another number, No SMS), which says which sale it charges.
            self.new_sale()

    def on_typed(self, typed: str) -> None:
        """After a result, the next amount typed starts the next sale with it. Digits only: a letter
        (an Alt-less try at a next step's key) does not throw the result away."""
        if self.mode is SaleMode.RESULT and self.on_screen() and typed in _DIGITS:
            self.new_sale()
            self.screen.amount_input.insert(typed)

    def on_paste(self) -> None:
        """After a result, pasting an amount starts the next sale with it."""
        if self.mode is SaleMode.RESULT and self.on_screen():
            self.new_sale()
            self.screen.amount_input.paste()

    def on_action(self, action_value: str) -> None:
        action = Action(action_value)
        if action is Action.NEW_SALE:
            self.new_sale()
        elif action is Action.RETRY:
            self._back_to_form(focus_phone=False)
            self.on_charge_requested()
        elif action is Action.NO_SMS_CHARGE_AGAIN:
            self._back_to_form(focus_phone=False)
            self.on_charge_again_no_sms()
        elif action is Action.ANOTHER_NUMBER:
            self._back_to_form(focus_phone=True)
            self.screen.phone_input.clear()
        elif action is Action.TAKE_CASH:
            self.on_take_cash()
        elif action is Action.VERIFY:
            self.verify_requested.emit()
        elif action is Action.PRINT_RECEIPT:
            self.on_print_requested()

    def new_sale(self) -> None:
        self.current = None
        self.sale_id = None
        self._enter(SaleMode.ENTRY)
        self.screen.clear()
        self.screen.show_presentation(presentation.idle(self.lang))
        self.screen.amount_input.setFocus()

    def _back_to_form(self, *, focus_phone: bool) -> None:
        self._enter(SaleMode.ENTRY)
        self.screen.show_message("")
        target = self.screen.phone_input if focus_phone else self.screen.amount_input
        target.setFocus()

    def focus(self) -> None:
        """Give the keyboard to what the mode expects: the amount, the result's New sale, or the panel."""
        button = self.screen.status_panel.focus_button()
        if self.mode is SaleMode.ENTRY:
            self.screen.amount_input.setFocus()
        elif self.mode is SaleMode.RESULT and button is not None:
            button.setFocus()
        else:
            self.screen.status_panel.setFocus()

    # ---- charging -------------------------------------------------------------------------------

    @asyncSlot()
    async def on_charge_requested(self) -> None:
        await self.charge(customer_confirms_no_sms=False)

    @asyncSlot()
    async def on_charge_again_no_sms(self) -> None:
        await self.charge(customer_confirms_no_sms=True)

    async def charge(self, *, customer_confirms_no_sms: bool) -> None:
        # One prompt per press: a second Enter while this one is in flight finds _charging set.
        if self._charging or self.mode is not SaleMode.ENTRY:
            return
        problem = self.screen.amount_input.problem(self.lang)
        if problem:
            self.screen.show_message(problem, error=True)
            self.screen.amount_input.setFocus()
            return
        phone_problem = self.screen.phone_input.problem()
        msisdn = self.screen.phone_input.msisdn()
        if phone_problem or msisdn is None:
            self.screen.show_message(phone_problem_text(phone_problem or "", self.lang), error=True)
            self.screen.phone_input.setFocus()
            return
        amount_kes = self.screen.amount_input.amount_kes() or 0
        if self.service is None:
            # Still starting: hold the charge (form read-only, Esc withdraws it) until attach() sends it.
            self._enter(SaleMode.HELD)
            self.screen.show_message("")
            self.screen.show_presentation(presentation.held(amount_kes, msisdn, self.lang))
            self.screen.status_panel.setFocus()
            return
        self._charging = True
        self._enter(SaleMode.SENDING)
        self.screen.show_message("")
        self.screen.show_presentation(presentation.sending(amount_kes, msisdn, self.lang))
        self.screen.status_panel.setFocus()
        try:
            # The form follows the mode, so busy() guards no control here; it brings the refusal policy.
            view = await busy(
                self.service.charge(
                    amount_kes,
                    msisdn,
                    self.screen.description_input.text().strip(),
                    sale_id=self.sale_id,
                    customer_confirms_no_sms=customer_confirms_no_sms,
                ),
                refused=self._charge_refused,
            )
        except Exception:
            # A bug, not a refusal: logged in full, and the cashier gets the form back with one sentence
            # instead of a screen stuck on "Sending".
            log.exception("the charge ended on an unexpected error")
            self._charge_failed()
            return
        finally:
            self._charging = False
        if view is not None:
            self._charged(view)

    # ---- cash ---------------------------------------------------------------------------------------

    @asyncSlot()
    async def on_take_cash(self) -> None:
        """F8 or Take cash: the open sale paid in cash, stored by the engine. On the form, for the amount
        typed (no phone needed); after a result, for that sale's amount. The engine refuses a paid sale or
        one whose prompt is still waiting, and the refusal is said under the form."""
        if self._charging or self.service is None or self.mode in (SaleMode.SENDING, SaleMode.HELD):
            return
        if self.mode is SaleMode.ENTRY:
            problem = self.screen.amount_input.problem(self.lang)
            if problem:
                self.screen.show_message(problem, error=True)
                self.screen.amount_input.setFocus()
                return
            amount_kes = self.screen.amount_input.amount_kes() or 0
            description = self.screen.description_input.text().strip()
        elif self.current is not None:
            amount_kes, description = self.current.amount_kes, self.current.description
        else:
            return
        self._charging = True
        try:
            view = await busy(
                self.service.take_cash(amount_kes, sale_id=self.sale_id, description=description),
                refused=self._cash_refused,
            )
        finally:
            self._charging = False
        if view is not None:
            self.screen.show_message("")
            self._charged(view)

    def _cash_refused(self, refusal: Exception) -> None:
        self.screen.show_message(
            text("cash_refused", self.lang, reason=engine_text(str(refusal), self.lang)), error=True
        )

    def _charge_refused(self, refusal: Exception) -> None:
        self._form_back(text("charge_refused", self.lang, reason=engine_text(str(refusal), self.lang)))

    def _charge_failed(self) -> None:
        self._form_back(text("charge_failed", self.lang))

    def _form_back(self, message: str) -> None:
        self._enter(SaleMode.ENTRY)
        self.screen.show_presentation(
            self._present(self.current) if self.current else presentation.idle(self.lang)
        )
        self.screen.show_message(message, error=True)
        self.screen.amount_input.setFocus()

    def show_paid(self, view: AttemptView) -> None:
        """The sale was settled another way (a payment to the till number): show it as the result."""
        self._charged(view)

    def _charged(self, view: AttemptView) -> None:
        newest = self.latest.get(view.attempt_id)
        if newest is not None and newest.updated_at > view.updated_at:
            view = newest
        self.latest[view.attempt_id] = view
        self.history.upsert(view)
        self.current = view
        self.sale_id = view.sale_id
        self._render(view)

    # ---- the receipt ----------------------------------------------------------------------------

    @asyncSlot()
    async def on_print_requested(self) -> None:
        """Print the paid sale's receipt; whatever the printer does, the sale stays paid on the screen."""
        view, service = self.current, self.service
        if view is None or service is None or view.state != "paid" or not can_print(service.config):
            return
        button = self.screen.status_panel.buttons[Action.PRINT_RECEIPT]
        printed = await busy(print_sale(view, service.config, self.lang), button, refused=self._print_refused)
        if printed is not None:
            words, ok = printed
            self.screen.show_message(words, error=not ok)
        if self.on_screen() and self.mode is SaleMode.RESULT:
            self.focus()

    def _print_refused(self, refusal: Exception) -> None:
        self.screen.show_message(text("print_setting_bad", self.lang, reason=refusal), error=True)

    def _present(self, view: AttemptView) -> Presentation:
        return present(view, self.lang, can_print=can_print(self.service.config if self.service else None))

    def _render(self, view: AttemptView) -> None:
        shown = self._present(view)
        self.screen.show_presentation(shown)
        if shown.tone is Tone.PENDING:
            self._enter(SaleMode.WAITING)
            if self.on_screen():
                self.screen.status_panel.setFocus()
        else:
            self._enter(SaleMode.RESULT)
            button = self.screen.status_panel.focus_button()
            if button is not None and self.on_screen():
                button.setFocus()
        self.attempt_shown.emit(view.attempt_id)
