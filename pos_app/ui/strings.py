"""Every word the window shows, in English and Swahili.

The engine supplies the result messages (AttemptView.message_en / message_sw, from
daraja_core.results); this table holds the window's own labels. `text(key, lang)` falls back to
English so a missing Swahili entry shows a word, never a blank.
"""

from __future__ import annotations

import re

LANGUAGES = ("en", "sw")

_TABLE: dict[str, tuple[str, str]] = {
    "window_title": ("M-Pesa Till", "M-Pesa Till"),
    "demo_banner": (
        "DEMO MODE: practice payments on the simulator. No real money moves.",
        "HALI YA MAJARIBIO: malipo ya mazoezi kwenye simulator. Hakuna pesa halisi.",
    ),
    "starting": ("Starting the till…", "Till inaanza…"),
    "start_failed": ("The till could not start: {error}", "Till imeshindwa kuanza: {error}"),
    # Navigation (each button shows its key from pos_app/ui/shortcuts.py, the same in both languages)
    "nav_sale": ("Sale", "Mauzo"),
    "nav_history": ("History", "Historia"),
    "nav_report": ("Day report", "Ripoti ya siku"),
    "nav_manual": ("Manual receipt", "Risiti kwa mkono"),
    "nav_diagnostics": ("Diagnostics", "Uchunguzi"),
    "nav_settings": ("Settings", "Mipangilio"),
    "nav_language": ("Kiswahili", "English"),
    # Sale form
    "amount_label": ("Amount (KES)", "Kiasi (KES)"),
    "amount_placeholder": ("e.g. 250", "mf. 250"),
    "phone_label": ("Customer's phone", "Simu ya mteja"),
    "phone_placeholder": ("0708 374 149", "0708 374 149"),
    "description_label": ("Description (optional)", "Maelezo (si lazima)"),
    "charge": ("Charge", "Toza"),
    # What the keys do, under the form, for each step of a sale
    "hint_entry": ("Enter: charge · Esc: clear for a new sale", "Enter: toza · Esc: futa, mauzo mapya"),
    "hint_held": (
        "Esc: do not send (it goes out when the till is ready)",
        "Esc: usitume (yatatumwa till ikiwa tayari)",
    ),
    "hint_sending": ("Sending to M-Pesa: wait for its answer", "Inatuma kwa M-Pesa: subiri jibu"),
    "hint_result": (
        "Enter or Esc: new sale · or type the next amount",
        "Enter au Esc: mauzo mapya · au andika kiasi kijacho",
    ),
    "phone_valid": ("✓ A Kenyan mobile number", "✓ Namba ya simu ya Kenya"),
    "outcome_paid": ("Paid", "Imelipwa"),
    "outcome_cancelled": ("Cancelled", "Imeghairiwa"),
    "outcome_insufficient_funds": ("Not enough money", "Pesa haitoshi"),
    "outcome_wrong_pin": ("Wrong PIN", "PIN si sahihi"),
    "outcome_unreachable": ("Phone unreachable", "Simu haipatikani"),
    "outcome_expired": ("Prompt expired", "Ombi limeisha muda"),
    "outcome_limit": ("M-Pesa limit", "Kikomo cha M-Pesa"),
    "outcome_rejected": ("Refused by M-Pesa", "Imekataliwa na M-Pesa"),
    "outcome_unknown": ("Unknown", "Haijulikani"),
    "outcome_pending": ("Still waiting", "Bado inasubiri"),
    # Status panel
    "ready_title": ("Ready", "Tayari"),
    "ready_detail": (
        "Type the amount, Tab, the customer's phone, then Enter.",
        "Andika kiasi, Tab, simu ya mteja, kisha Enter.",
    ),
    "sending_title": ("Sending prompt…", "Inatuma ombi…"),
    "sending_detail": ("Asking M-Pesa to show the PIN prompt.", "Inaomba M-Pesa ionyeshe ombi la PIN."),
    "waiting_title": ("Waiting for the customer's PIN", "Inasubiri PIN ya mteja"),
    "waiting_left": ("{left} left", "Zimebaki {left}"),
    "waiting_overdue": ("Checking with M-Pesa…", "Inathibitisha na M-Pesa…"),
    "waiting_hint": (
        "Esc: stop watching (the till keeps checking)",
        "Esc: acha kusubiri (till itaendelea kuangalia)",
    ),
    "paid_title": ("Paid", "Imelipwa"),
    "receipt_line": ("Receipt {receipt}", "Risiti {receipt}"),
    "receipt_pending": ("Receipt number on its way", "Namba ya risiti inakuja"),
    "failed_title": ("Not paid", "Haijalipwa"),
    "unknown_title": ("Unknown", "Haijulikani"),
    "unknown_detail": (
        "Check the customer's SMS before charging again.",
        "Angalia SMS ya mteja kabla ya kutoza tena.",
    ),
    "anomaly_line": ("For the owner to review: {anomaly}", "Mmiliki akague: {anomaly}"),
    "manual_line_verified": ("Entered by hand, verified", "Imewekwa kwa mkono, imethibitishwa"),
    "manual_line_unverified": ("Entered by hand, NOT verified", "Imewekwa kwa mkono, HAIJATHIBITISHWA"),
    # Next steps (each button shows its key from pos_app/ui/shortcuts.py, the same in both languages)
    "new_sale": ("New sale", "Mauzo mapya"),
    "step_retry": ("Retry", "Jaribu tena"),
    "step_another": ("Try another number", "Jaribu namba nyingine"),
    "step_cash": ("Take cash", "Pokea pesa taslimu"),
    "step_verify": ("Verify by receipt", "Thibitisha kwa risiti"),
    "step_no_sms": ("No SMS: charge again", "Hakuna SMS: toza tena"),
    "cash_taken": (
        "Take KES {amount} in cash. Sale closed.",
        "Pokea KES {amount} taslimu. Mauzo yamefungwa.",
    ),
    "charge_refused": ("Not sent: {reason}", "Haijatumwa: {reason}"),
    "charge_failed": (
        "The charge stopped on an unexpected error: check History before you charge again.",
        "Malipo yamesimama kwa hitilafu isiyotarajiwa: angalia Historia kabla ya kutoza tena.",
    ),
    "held_detail": (
        "The charge goes out as soon as the till is ready.",
        "Malipo yatatumwa mara till itakapokuwa tayari.",
    ),
    "held_withdrawn": ("Not sent.", "Haijatumwa."),
    "left_waiting": (
        "Still waiting for KES {amount} from {phone}: the result will show in History.",
        "Bado inasubiri KES {amount} kutoka {phone}: jibu litaonekana kwenye Historia.",
    ),
    "late_result": (
        "Late result: KES {amount} from {phone} is now {state}.",
        "Jibu la kuchelewa: KES {amount} kutoka {phone} sasa ni {state}.",
    ),
    # States as words (history, report)
    "state_created": ("Sending", "Inatuma"),
    "state_prompt_sent": ("Waiting", "Inasubiri"),
    "state_paid": ("Paid", "Imelipwa"),
    "state_failed": ("Not paid", "Haijalipwa"),
    "state_unknown": ("Unknown", "Haijulikani"),
    "method_stk": ("M-Pesa prompt", "Ombi la M-Pesa"),
    "method_stk_query": ("M-Pesa query", "Uliza M-Pesa"),
    "method_manual": ("Manual receipt", "Risiti kwa mkono"),
    # History
    "history_title": ("Today's payments", "Malipo ya leo"),
    "history_search": ("Search phone, receipt or amount", "Tafuta simu, risiti au kiasi"),
    "history_all": ("All", "Yote"),
    "col_time": ("Time", "Saa"),
    "col_amount": ("Amount (KES)", "Kiasi (KES)"),
    "col_phone": ("Phone", "Simu"),
    "col_status": ("Status", "Hali"),
    "col_receipt": ("Receipt", "Risiti"),
    "col_method": ("Method", "Njia"),
    "col_reason": ("Reason", "Sababu"),
    # Report
    "report_title": ("Day report: {day}", "Ripoti ya siku: {day}"),
    "report_paid_total": ("Paid today: KES {total}", "Imelipwa leo: KES {total}"),
    "report_by_outcome": ("By outcome", "Kwa matokeo"),
    "report_by_method": ("By method", "Kwa njia"),
    "report_count": ("Count", "Idadi"),
    "report_review": ("To review", "Za kukagua"),
    "report_nothing_to_review": ("Nothing to review.", "Hakuna cha kukagua."),
    "report_unknown_item": (
        "Unknown: KES {amount} · {phone} · {time}",
        "Haijulikani: KES {amount} · {phone} · {time}",
    ),
    "report_manual_item": (
        "Manual: KES {amount} · {receipt} · {verified} · {time}",
        "Kwa mkono: KES {amount} · {receipt} · {verified} · {time}",
    ),
    "report_anomaly_item": (
        "Check: KES {amount} · {phone} · {anomaly} · {time}",
        "Kagua: KES {amount} · {phone} · {anomaly} · {time}",
    ),
    "verified": ("verified", "imethibitishwa"),
    "unverified": ("NOT verified", "HAIJATHIBITISHWA"),
    "report_refresh": ("Refresh", "Onyesha upya"),
    "report_export": ("Export CSV…", "Hamisha CSV…"),
    "report_exported": ("Saved {path}", "Imehifadhiwa {path}"),
    "report_chart_empty": ("No payments yet today.", "Hakuna malipo bado leo."),
    # Manual receipt
    "manual_title": ("Enter a receipt by hand", "Weka risiti kwa mkono"),
    "manual_for": (
        "For: KES {amount} · {phone} · {time} · {state}",
        "Kwa: KES {amount} · {phone} · {time} · {state}",
    ),
    "manual_none": (
        "Pick a payment first: the last one on the sale screen or a row in History.",
        "Chagua malipo kwanza: ya mwisho kwenye mauzo au mstari kwenye Historia.",
    ),
    "manual_receipt": ("Receipt code (from the customer's SMS)", "Namba ya risiti (kutoka SMS ya mteja)"),
    "manual_pin": ("Owner PIN", "PIN ya mmiliki"),
    "manual_submit": ("Record receipt", "Hifadhi risiti"),
    "manual_close": ("Close", "Funga"),
    "manual_bad_code": (
        "A receipt code is 10 letters and digits, e.g. NLJ7RT61SV.",
        "Risiti ina herufi na tarakimu 10, mf. NLJ7RT61SV.",
    ),
    "manual_verified": ("Verified: {reason}", "Imethibitishwa: {reason}"),
    "manual_unverified": (
        "Recorded but NOT verified: {reason}",
        "Imehifadhiwa lakini HAIJATHIBITISHWA: {reason}",
    ),
    "manual_wrong_pin": ("Wrong owner PIN: {reason}", "PIN ya mmiliki si sahihi: {reason}"),
    "manual_refused": ("Refused: {reason}", "Imekataliwa: {reason}"),
    # Settings
    "settings_title": ("Settings", "Mipangilio"),
    "set_consumer_key": ("Consumer key", "Consumer key"),
    "set_consumer_secret": ("Consumer secret", "Consumer secret"),
    "set_passkey": ("Passkey", "Passkey"),
    "set_environment": ("Environment", "Mazingira"),
    "set_shortcode": ("Shortcode (paybill / store number)", "Shortcode (paybill / namba ya duka)"),
    "set_till_number": ("Till number (Buy Goods)", "Namba ya till (Buy Goods)"),
    "set_transaction_type": ("Transaction type", "Aina ya malipo"),
    "set_relay_url": ("Relay URL", "URL ya relay"),
    "set_relay_key": ("Relay till key", "Ufunguo wa relay"),
    "set_embedded": (
        "Run the relay inside this till (ngrok tunnel)",
        "Endesha relay ndani ya till hii (ngrok)",
    ),
    "set_ngrok": ("ngrok authtoken", "ngrok authtoken"),
    "set_callback_url": ("Callback URL (optional)", "Callback URL (si lazima)"),
    "set_language": ("Language", "Lugha"),
    "set_max_amount": ("Largest charge (KES)", "Kiasi kikubwa zaidi (KES)"),
    "set_secret_saved": ("saved: type to replace", "imehifadhiwa: andika kubadilisha"),
    "set_secret_empty": ("not set", "haijawekwa"),
    "set_pin_old": ("Current owner PIN", "PIN ya sasa ya mmiliki"),
    "set_pin_new": ("New owner PIN (blank: keep)", "PIN mpya ya mmiliki (wazi: bakiza)"),
    "set_test": ("Test connection", "Jaribu muunganisho"),
    "set_save": ("Save", "Hifadhi"),
    "set_cancel": ("Cancel", "Ghairi"),
    "set_saved": ("Settings saved.", "Mipangilio imehifadhiwa."),
    "set_pin_saved": ("Owner PIN changed.", "PIN ya mmiliki imebadilishwa."),
    "set_testing": ("Testing…", "Inajaribu…"),
    # Diagnostics
    "diag_title": ("Diagnostics", "Uchunguzi"),
    "diag_run": ("Run checks", "Fanya uchunguzi"),
    "diag_running": ("Checking…", "Inachunguza…"),
    "diag_fix": ("Fix: {fix}", "Suluhisho: {fix}"),
    "diag_all_ok": ("Everything checked is fine.", "Kila kitu kilichochunguzwa kiko sawa."),
    "diag_none": ("Press Run checks.", "Bonyeza Fanya uchunguzi."),
    # Status bar
    "sb_demo": ("DEMO: no real money", "MAJARIBIO: si pesa halisi"),
    "sb_mode": ("Mode: {mode}", "Hali: {mode}"),
    "sb_relay_ok": ("Relay connected", "Relay imeunganishwa"),
    "sb_relay_down": ("Relay NOT reachable", "Relay HAIPATIKANI"),
    "sb_relay_unknown": ("Relay: checking", "Relay: inaangaliwa"),
    "sb_relay_none": ("No relay (query only)", "Hakuna relay (kuuliza tu)"),
    "sb_last_callback": ("Last callback {ago}", "Callback ya mwisho {ago}"),
    "sb_no_callback": ("No callback yet", "Hakuna callback bado"),
    "ago_now": ("just now", "sasa hivi"),
    "ago_min": ("{n} min ago", "dakika {n} zilizopita"),
    "ago_hours": ("{n} h ago", "saa {n} zilizopita"),
    # Closing
    "close_pending_title": ("A payment is still waiting", "Malipo bado yanasubiri"),
    "close_pending_text": (
        "{count} payment(s) have not settled yet. If you close now, the till picks them up again the "
        "next time it starts, and no second prompt is sent. Close anyway?",
        "Malipo {count} bado hayajakamilika. Ukifunga sasa, till itayaendeleza itakapoanza tena, bila "
        "kutuma ombi la pili. Funga hata hivyo?",
    ),
    "error_title": ("Something went wrong", "Kuna tatizo"),
    "error_text": (
        "The till hit an unexpected error. The payment data is safe. Details: {error}",
        "Till imepata hitilafu isiyotarajiwa. Data ya malipo iko salama. Maelezo: {error}",
    ),
}


def text(key: str, lang: str = "en", **values: object) -> str:
    """The words for `key` in `lang` ("en" or "sw"), with `values` filled in."""
    english, swahili = _TABLE[key]
    template = swahili if lang == "sw" and swahili else english
    return template.format(**values) if values else template


def keys() -> frozenset[str]:
    return frozenset(_TABLE)


# daraja_core.phones explains a bad number in English; the same sentences for a Swahili-speaking cashier.
# Unknown wording falls through in English rather than disappearing.
_PHONE_SW: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Enter the customer's phone number\."), "Weka namba ya simu ya mteja."),
    (
        re.compile(r"Only Kenyan numbers \(\+254\) can pay by M-Pesa\."),
        "Namba za Kenya (+254) pekee hulipa kwa M-Pesa.",
    ),
    (re.compile(r"A phone number has digits only\."), "Namba ya simu ina tarakimu pekee."),
    (re.compile(r"Start the number with 07, 01, \+254 or 254\."), "Anza namba na 07, 01, +254 au 254."),
    (
        re.compile(r"This is not a mobile number: it must start with 07 or 01\."),
        "Hii si namba ya simu ya mkononi: lazima ianze na 07 au 01.",
    ),
    (
        re.compile(r"The number is too short: (\d+) digit\(s\) missing\."),
        r"Namba ni fupi: tarakimu \1 zimepungua.",
    ),
    (
        re.compile(r"The number is too long: (\d+) digit\(s\) too many\."),
        r"Namba ni ndefu: tarakimu \1 zimezidi.",
    ),
)


def phone_problem_text(message: str, lang: str) -> str:
    if lang != "sw":
        return message
    for pattern, swahili in _PHONE_SW:
        if pattern.fullmatch(message):
            return pattern.sub(swahili, message)
    return message
