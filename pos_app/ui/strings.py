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
        "DEMO MODE: no real money moves. Ctrl+D: a customer pays the till from their phone.",
        "HALI YA MAJARIBIO: hakuna pesa halisi. Ctrl+D: mteja analipa till kwa simu yake.",
    ),
    "demo_customer_amount": (
        "Type the amount the customer pays, then Ctrl+D.",
        "Andika kiasi ambacho mteja analipa, kisha Ctrl+D.",
    ),
    "demo_customer_paid": (
        "Demo: a customer paid KES {amount} to the till; F7 shows it.",
        "Majaribio: mteja amelipa KES {amount} kwa till; F7 inaionyesha.",
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
        "Type the amount, Tab, the customer's phone, then Enter.\n\n"
        "Customer paid the till number: F7 · check an M-Pesa message: F10",
        "Andika kiasi, Tab, simu ya mteja, kisha Enter.\n\n"
        "Mteja amelipa namba ya till: F7 · kagua ujumbe wa M-Pesa: F10",
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
    # printing
    "step_print": ("Print receipt", "Chapisha risiti"),
    "history_reprint": ("Reprint", "Chapisha tena"),
    "print_sent": ("Receipt printed.", "Risiti imechapishwa."),
    "print_away": (
        "The receipt did not print because the printer is not answering; the sale is paid and can be "
        "printed again from History.",
        "Risiti haikuchapishwa kwa sababu printa haijibu; mauzo yamelipwa na yanaweza kuchapishwa tena "
        "kutoka Historia.",
    ),
    "print_setting_bad": (
        "The receipt did not print because the printer setting is not right ({reason}); the sale is paid.",
        "Risiti haikuchapishwa kwa sababu mpangilio wa printa si sahihi ({reason}); mauzo yamelipwa.",
    ),
    "cash_taken": (
        "Cash KES {amount} taken. Sale paid.",
        "Pesa taslimu KES {amount} imepokelewa. Mauzo yamelipwa.",
    ),
    "cash_refused": ("Cash not taken: {reason}", "Pesa taslimu haijapokelewa: {reason}"),
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
    "method_cash": ("Cash", "Pesa taslimu"),
    # History
    "history_title": ("Payments", "Malipo"),
    "history_search": ("Search phone, receipt or amount", "Tafuta simu, risiti au kiasi"),
    "history_all": ("All", "Yote"),
    "col_time": ("Time", "Saa"),
    "col_amount": ("Amount (KES)", "Kiasi (KES)"),
    "col_phone": ("Phone", "Simu"),
    "col_status": ("Status", "Hali"),
    "col_receipt": ("Receipt", "Risiti"),
    "col_method": ("Method", "Njia"),
    "col_reason": ("Reason", "Sababu"),
    "col_description": ("Description", "Maelezo"),
    "history_day": ("Day", "Siku"),
    # Report
    "report_title": ("Day report: {day}", "Ripoti ya siku: {day}"),
    "report_paid_total": ("Paid today: KES {total}", "Imelipwa leo: KES {total}"),
    "report_paid_on": ("Paid on {day}: KES {total}", "Imelipwa tarehe {day}: KES {total}"),
    "report_by_outcome": ("By outcome", "Kwa matokeo"),
    "report_by_method": ("By method", "Kwa njia"),
    "report_count": ("Count", "Idadi"),
    "col_tender": ("Tender", "Njia ya malipo"),
    "report_by_tender": ("Takings by tender", "Mapato kwa njia ya malipo"),
    "tender_mpesa": ("M-Pesa prompt", "Ombi la M-Pesa"),
    "tender_qr": ("M-Pesa QR", "QR ya M-Pesa"),
    "tender_c2b": ("Paid to till", "Imelipwa kwa till"),
    "tender_manual": ("Manual receipt (verified)", "Risiti kwa mkono (imethibitishwa)"),
    "tender_cash": ("Cash", "Pesa taslimu"),
    "report_cash_up": (
        "Cash-up: KES {total} in cash should be in the drawer ({count} cash sale(s)).",
        "Hesabu ya droo: KES {total} taslimu zinapaswa kuwa kwenye droo (mauzo {count} ya pesa taslimu).",
    ),
    "report_unclaimed_item": (
        "Paid to till, not taken by a sale: KES {amount} · {name} · {phone} · {time} · {code}",
        "Imelipwa kwa till, haijachukuliwa na mauzo: KES {amount} · {name} · {phone} · {time} · {code}",
    ),
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
    # Paid to till (C2B: the customer paid the shop's till number; pos_app/engine/paid_to_till.py)
    "c2b_title": ("Paid to till", "Imelipwa kwa till"),
    "c2b_offer": (
        "KES {amount} from {name}, {phone} — use it for this sale? Enter",
        "KES {amount} kutoka kwa {name}, {phone} — itumike kwa mauzo haya? Enter",
    ),
    "c2b_pick": (
        "Payments to the till number not yet taken by a sale. Pick one with the arrows, Enter uses it, "
        "Esc closes.",
        "Malipo kwa namba ya till ambayo bado hayajachukuliwa. Chagua kwa mishale, Enter itumie, Esc funga.",
    ),
    "c2b_row": ("KES {amount} · {name} · {phone} · {ago}", "KES {amount} · {name} · {phone} · {ago}"),
    "c2b_none": (
        "No payments to the till number are waiting. New ones show here as they arrive.",
        "Hakuna malipo kwa namba ya till yanayosubiri. Mapya yataonekana hapa yakifika.",
    ),
    "c2b_refused": ("Not used: {reason}", "Haikutumika: {reason}"),
    "method_c2b": ("Paid to till", "Imelipwa kwa till"),
    # QR (the customer scans the sale's Dynamic QR and pays; pos_app/engine/qr_tender.py)
    "qr_button": ("M-Pesa QR", "QR ya M-Pesa"),
    "qr_title": ("Pay by QR", "Lipa kwa QR"),
    "qr_scan": ("Scan with M-Pesa", "Skani kwa M-Pesa"),
    "qr_paybill": ("Paybill {number}, account {reference}", "Paybill {number}, akaunti {reference}"),
    "qr_till": ("Till number {number}", "Namba ya till {number}"),
    "qr_asking": ("Asking M-Pesa for the QR code…", "Inaomba M-Pesa msimbo wa QR…"),
    "qr_waiting": (
        "Waiting for the payment; the sale closes by itself when it arrives.",
        "Inasubiri malipo; mauzo yatafungwa yenyewe yakifika.",
    ),
    "qr_refused": ("No QR code: {reason}", "Hakuna msimbo wa QR: {reason}"),
    "qr_not_taken": ("Not used: {reason}", "Haikutumika: {reason}"),
    "qr_hint": ("Esc: back to the sale", "Esc: rudi kwenye mauzo"),
    "qr_hint_demo": (
        "{shortcut}: a demo customer scans it and pays · Esc: back to the sale",
        "{shortcut}: mteja wa majaribio anaiskani na kulipa · Esc: rudi kwenye mauzo",
    ),
    "qr_need_amount": (
        "Type the sale's amount first, then press {shortcut} for its QR code.",
        "Andika kiasi cha mauzo kwanza, kisha bonyeza {shortcut} kupata msimbo wake wa QR.",
    ),
    "method_qr": ("M-Pesa QR", "QR ya M-Pesa"),
    # Manual receipt
    "history_release": ("Give back payment", "Rudisha malipo"),
    "release_title": ("Give back a payment to the till number", "Rudisha malipo ya namba ya till"),
    "release_for": (
        "Payment {receipt}, {amount}, was taken by sale {sale}. Give it back so another sale can take it? "
        "This sale is then no longer paid.",
        "Malipo {receipt}, {amount}, yalichukuliwa na mauzo {sale}. Yarudishe ili mauzo mengine yayachukue? "
        "Mauzo haya hayatakuwa yamelipwa tena.",
    ),
    "release_submit": ("Give back", "Rudisha"),
    "release_done": (
        "Payment {receipt} is free again for another sale.",
        "Malipo {receipt} yako huru tena kwa mauzo mengine.",
    ),
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
    "manual_refused": ("Refused: {reason}", "Imekataliwa: {reason}"),
    # Settings screen (pos_app/ui/settings_dialog.py; labels named by pos_app/settings_schema.py)
    "settings_title": ("Settings", "Mipangilio"),
    "set_section_shop": ("Shop", "Duka"),
    "set_section_mpesa": ("M-Pesa connection", "Muunganisho wa M-Pesa"),
    "set_section_relay": ("Relay and tunnel", "Relay na tunnel"),
    "set_section_printer": ("Receipt printer", "Printa ya risiti"),
    "set_shop_name": ("Shop name (on receipts)", "Jina la duka (kwenye risiti)"),
    "set_till_number": ("Till number (Buy Goods)", "Namba ya till (Buy Goods)"),
    "set_language": ("Language", "Lugha"),
    "set_max_amount": ("Largest charge (KES)", "Kiasi kikubwa zaidi (KES)"),
    "set_pin_old": ("Current owner PIN", "PIN ya sasa ya mmiliki"),
    "set_pin_new": ("New owner PIN (blank: keep)", "PIN mpya ya mmiliki (wazi: bakiza)"),
    "set_pin_confirm": ("New owner PIN again", "PIN mpya ya mmiliki tena"),
    "set_pin_hint": (
        "4 to 8 digits. Type the new PIN twice; leave both blank to keep the current one.",
        "Tarakimu 4 hadi 8. Andika PIN mpya mara mbili; acha zote wazi kubakiza ya sasa.",
    ),
    "set_pin": ("Owner PIN", "PIN ya mmiliki"),
    "set_pin_mismatch": (
        "The two new PINs are not the same. Type the new PIN again in both boxes.",
        "PIN mpya mbili hazifanani. Andika PIN mpya tena kwenye visanduku vyote viwili.",
    ),
    "set_pin_invalid": (
        "The owner PIN must be 4 to 8 digits.",
        "PIN ya mmiliki lazima iwe tarakimu 4 hadi 8.",
    ),
    "set_pin_wrong": ("The current owner PIN is wrong.", "PIN ya sasa ya mmiliki si sahihi."),
    "set_consumer_key": ("Consumer key", "Consumer key"),
    "set_consumer_secret": ("Consumer secret", "Consumer secret"),
    "set_passkey": ("Passkey", "Passkey"),
    "set_environment": ("Environment", "Mazingira"),
    "set_shortcode": ("Shortcode (paybill / store number)", "Shortcode (paybill / namba ya duka)"),
    "set_transaction_type": ("Transaction type", "Aina ya malipo"),
    "set_relay_url": ("Relay URL", "URL ya relay"),
    "set_relay_key": ("Relay till key", "Ufunguo wa relay"),
    "set_embedded": (
        "Run the relay inside this till (ngrok tunnel)",
        "Endesha relay ndani ya till hii (ngrok)",
    ),
    "set_ngrok": ("ngrok authtoken", "ngrok authtoken"),
    "set_callback_url": ("Callback URL (optional)", "Callback URL (si lazima)"),
    "set_printer": ("Printer", "Printa"),
    "set_printer_hint": (
        "A network printer: tcp://192.168.1.50:9100. USB: usb://04b8:0202. Serial: "
        "serial:///dev/ttyUSB0?baud=19200. Leave empty if there is no printer.",
        "Printa ya mtandao: tcp://192.168.1.50:9100. USB: usb://04b8:0202. Serial: "
        "serial:///dev/ttyUSB0?baud=19200. Acha wazi kama hakuna printa.",
    ),
    "set_printer_width": ("Paper width", "Upana wa karatasi"),
    "set_width_32": ("58 mm (32 characters a line)", "mm 58 (herufi 32 kwa mstari)"),
    "set_width_42": ("80 mm (42 characters a line)", "mm 80 (herufi 42 kwa mstari)"),
    "set_width_48": (
        "80 mm, small print (48 characters a line)",
        "mm 80, herufi ndogo (herufi 48 kwa mstari)",
    ),
    "set_printer_invalid": ("This printer is not understood. {reason}", "Printa hii haieleweki. {reason}"),
    "set_print_test": ("Test print", "Jaribu kuchapisha"),
    "set_print_sample": ("Test print from Settings", "Jaribio la kuchapisha kutoka Mipangilio"),
    "set_print_none": (
        "Write the printer first, for example tcp://192.168.1.50:9100.",
        "Andika printa kwanza, kwa mfano tcp://192.168.1.50:9100.",
    ),
    "set_printing": ("Printing a test receipt…", "Inachapisha risiti ya majaribio…"),
    "set_print_done": (
        "A test receipt was sent to {printer}. Check that it came out.",
        "Risiti ya majaribio imetumwa kwa {printer}. Hakikisha imetoka.",
    ),
    "set_print_away": ("Nothing was printed. {reason}", "Hakuna kilichochapishwa. {reason}"),
    "set_secret_saved": ("saved: type to replace", "imehifadhiwa: andika kubadilisha"),
    "set_secret_empty": ("not set", "haijawekwa"),
    "set_test": ("Test connection", "Jaribu muunganisho"),
    "set_save": ("Save", "Hifadhi"),
    "set_close": ("Close", "Funga"),
    "set_saved": ("Saved: {what}.", "Imehifadhiwa: {what}."),
    "set_saved_nothing": (
        "Nothing was changed, so nothing was saved.",
        "Hakuna kilichobadilishwa, hakuna cha kuhifadhi.",
    ),
    "set_saved_restart": (
        "M-Pesa connection changes apply the next time the till starts.",
        "Mabadiliko ya muunganisho wa M-Pesa yatatumika till itakapoanza tena.",
    ),
    "set_not_saved": ("Not saved: {reason}", "Haijahifadhiwa: {reason}"),
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
    # Words around the engine's results: demo mark, codes in History, anomalies, modes
    "demo_mark": ("DEMO", "MAJARIBIO"),
    "history_code": ("code {code}", "msimbo {code}"),
    "anomaly_amount_mismatch": ("paid a different amount", "kiasi tofauti kimelipwa"),
    "anomaly_phone_mismatch": ("paid from another phone", "imelipwa kutoka simu nyingine"),
    "anomaly_phone_missing": ("no payer phone to check", "hakuna simu ya mlipaji ya kukagua"),
    "anomaly_contradicting_result": (
        "M-Pesa sent two different results",
        "M-Pesa ilituma majibu mawili tofauti",
    ),
    "anomaly_paid_after_failed": ("paid after it had failed", "imelipwa baada ya kushindwa"),
    "anomaly_sale_paid_twice": ("the sale was paid twice", "mauzo yamelipwa mara mbili"),
    "anomaly_paid_after_cash": (
        "paid by M-Pesa after the sale was paid in cash: refund one",
        "imelipwa kwa M-Pesa baada ya mauzo kulipwa kwa pesa taslimu: rudisha moja",
    ),
    "anomaly_duplicate": ("the same result came twice", "jibu lilelile lilikuja mara mbili"),
    "anomaly_duplicate_callback": ("the same result came twice", "jibu lilelile lilikuja mara mbili"),
    "anomaly_orphans_ambiguous": (
        "several M-Pesa payments of this amount and phone came after a restart: check the customer's SMS",
        "malipo kadhaa ya M-Pesa ya kiasi hiki na simu hii yalikuja baada ya kuanza upya: "
        "angalia SMS ya mteja",
    ),
    "anomaly_another_orphan_paid": (
        "another M-Pesa payment of this amount and phone came after the match: check the customer's SMS",
        "malipo mengine ya M-Pesa ya kiasi hiki na simu hii yalikuja baada ya kulinganisha: "
        "angalia SMS ya mteja",
    ),
    "mode_remote": ("remote", "relay ya mbali"),
    "mode_embedded": ("embedded", "relay ndani ya till"),
    "mode_query_only": ("query only", "kuuliza tu"),
    "mode_demo": ("demo", "majaribio"),
    # receipts: a typed receipt the relay could not confirm is held apart, not money yet
    "state_to_check": ("To check", "Ya kukagua"),
    "outcome_to_check": ("To check", "Ya kukagua"),
    "to_check_title": ("To check", "Ya kukagua"),
    # message check: the cashier checks the receipt code in the customer's M-Pesa SMS
    "check_title": ("Check the customer's message", "Kagua ujumbe wa mteja"),
    "check_prompt": (
        "Type the M-Pesa code from the customer's SMS, then press Enter.",
        "Andika msimbo wa M-Pesa kutoka SMS ya mteja, kisha bonyeza Enter.",
    ),
    "check_button": ("Check", "Kagua"),
    "check_close": ("Close", "Funga"),
    "check_someone": ("the customer", "mteja"),
    "check_genuine_free": (
        "GENUINE: KES {amount} from {who} at {time}, not used by any sale. You may accept it.",
        "HALALI: KES {amount} kutoka kwa {who} saa {time}, hayajatumika kwenye mauzo yoyote. Unaweza "
        "kuyakubali.",
    ),
    "check_genuine_used": (
        "ALREADY USED: this payment of KES {amount} was taken by sale {sale} at {time}. Do not accept it "
        "again.",
        "YAMESHATUMIKA: malipo haya ya KES {amount} yalichukuliwa na mauzo {sale} saa {time}. Usiyakubali "
        "tena.",
    ),
    "check_not_received": (
        "NOT RECEIVED: this shop has no M-Pesa payment {receipt}. Do not hand over the goods.",
        "HAYAJAPOKELEWA: duka hili halina malipo ya M-Pesa {receipt}. Usitoe bidhaa.",
    ),
    "check_cannot": (
        "CANNOT CHECK NOW: the relay could not be asked. Try again in a moment; until then it is not paid.",
        "HAIWEZEKANI KUKAGUA SASA: relay haikupatikana. Jaribu tena baadaye; hadi hapo hayajalipwa.",
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


# The engine's sentences for people (refusals, receipt checks, alerts, diagnostics findings) are English;
# these are the same sentences for a Swahili-speaking cashier or owner. "{}" stands for a value the
# engine fills in (an amount, a host, an error), carried over as {0}, {1}… in the same order. When several
# patterns match, the one with the most fixed words wins. Unknown wording falls through in English rather
# than disappearing; tests/ui/test_swahili.py finds every sentence the engine can raise or report.
_ENGINE_SW_SOURCE: tuple[tuple[str, str], ...] = (
    # Paid to till refused (pos_app/engine/paid_to_till.py)
    ("Payment {} is already used on sale {}.", "Malipo {0} tayari yametumika kwa mauzo {1}."),
    ("Sale {} is already paid.", "Mauzo {0} tayari yamelipwa."),
    (
        "Sale {} has a prompt waiting on a phone; let it finish or fail first.",
        "Mauzo {0} yana ombi linalosubiri kwenye simu; liache limalizike au lishindwe kwanza.",
    ),
    (
        "Payments to the till number need the relay; this till has none.",
        "Malipo kwa namba ya till yanahitaji relay; till hii haina.",
    ),
    ("{} is already taken by sale {}.", "{0} tayari yamechukuliwa na mauzo {1}."),
    ("The relay could not be asked to claim {}: {}.", "Relay haikuweza kuulizwa kuchukua {0}: {1}."),
    ("The relay has no payment {} to this shop.", "Relay haina malipo {0} kwa duka hili."),
    (
        "Sale {} was paid meanwhile; {} stays free for another sale.",
        "Mauzo {0} yalilipwa wakati huo huo; {1} yanabaki huru kwa mauzo mengine.",
    ),
    (
        "Sale {} was paid meanwhile; {} is still taken by it: the owner releases it from History (Alt+G).",
        "Mauzo {0} yalilipwa wakati huo huo; {1} bado yamechukuliwa nayo: mmiliki ayaachilie kutoka "
        "Historia (Alt+G).",
    ),
    # QR refused (pos_app/engine/qr_tender.py, pos_app/daraja/qr_request.py)
    ("QR payments need the relay; this till has none.", "Malipo kwa QR yanahitaji relay; till hii haina."),
    (
        "M-Pesa did not send the QR code; try again or take another payment.",
        "M-Pesa haikutuma msimbo wa QR; jaribu tena au pokea malipo kwa njia nyingine.",
    ),
    ("M-Pesa refused the QR code: {}.", "M-Pesa imekataa msimbo wa QR: {0}."),
    (
        "Payment {} came too late for this QR code; it waits in Paid to till.",
        "Malipo {0} yamechelewa kwa msimbo huu wa QR; yanasubiri kwenye Imelipwa kwa till.",
    ),
    (
        "A QR code for Buy Goods needs the till number (MPESA_TILL_NUMBER).",
        "Msimbo wa QR wa Buy Goods unahitaji namba ya till (MPESA_TILL_NUMBER).",
    ),
    (
        "A QR code for a paybill needs the paybill number (MPESA_SHORTCODE).",
        "Msimbo wa QR wa paybill unahitaji namba ya paybill (MPESA_SHORTCODE).",
    ),
    (
        "A QR code needs the shop's name and a reference of 1 to {} characters.",
        "Msimbo wa QR unahitaji jina la duka na kumbukumbu ya herufi 1 hadi {0}.",
    ),
    (
        "The amount must be a whole number of shillings, at least KES 1.",
        "Kiasi lazima kiwe shilingi kamili, angalau KES 1.",
    ),
    ("The amount is above the KES {} limit.", "Kiasi kinazidi kikomo cha KES {0}."),
    (
        "A QR code needs a till (BG) or paybill (PB) number.",
        "Msimbo wa QR unahitaji namba ya till (BG) au paybill (PB).",
    ),
    # Charging refused
    ("A payment for this sale is already being sent.", "Malipo ya mauzo haya tayari yanatumwa."),
    (
        "This sale already has a payment waiting for the customer.",
        "Mauzo haya tayari yana malipo yanayomsubiri mteja.",
    ),
    ("This sale is already paid.", "Mauzo haya tayari yamelipwa."),
    (
        "The last payment for this sale is unknown: check the customer's SMS. Charge again only when the "
        "customer confirms no M-Pesa SMS arrived.",
        "Malipo ya mwisho ya mauzo haya hayajulikani: angalia SMS ya mteja. Toza tena tu mteja akithibitisha "
        "kwamba hakupata SMS ya M-Pesa.",
    ),
    (
        "The till has never reached its relay, so it does not know where M-Pesa should send the result. "
        "Check the relay (mpesa-till doctor) or set MPESA_CALLBACK_URL.",
        "Till haijawahi kufikia relay yake, kwa hiyo haijui M-Pesa itume jibu wapi. Kagua relay "
        "(mpesa-till doctor) au weka MPESA_CALLBACK_URL.",
    ),
    ("No payment {} in this till.", "Hakuna malipo {0} kwenye till hii."),
    ("No payment or sale {} in this till.", "Hakuna malipo wala mauzo {0} kwenye till hii."),
    # Owner PIN, receipts and settings refused
    (
        "No owner PIN is set yet: set one in Settings (or `mpesa-till set-pin`).",
        "Bado hakuna PIN ya mmiliki: iweke kwenye Mipangilio (au `mpesa-till set-pin`).",
    ),
    ("Wrong owner PIN.", "PIN ya mmiliki si sahihi."),
    ("The current owner PIN is wrong.", "PIN ya sasa ya mmiliki si sahihi."),
    ("The owner PIN must be 4 to 8 digits.", "PIN ya mmiliki lazima iwe tarakimu 4 hadi 8."),
    (
        "An M-Pesa receipt is 10 letters and digits, like NLJ7RT61SV.",
        "Risiti ya M-Pesa ina herufi na tarakimu 10, kama NLJ7RT61SV.",
    ),
    ("This payment is already paid (receipt {}).", "Malipo haya tayari yamelipwa (risiti {0})."),
    (
        "This payment is already paid (receipt by STK Query).",
        "Malipo haya tayari yamelipwa (yalithibitishwa kwa kuuliza M-Pesa).",
    ),
    ("Receipt {} is already used on sale {}.", "Risiti {0} tayari imetumika kwenye mauzo {1}."),
    ("language must be one of {}", "Lugha lazima iwe mojawapo ya {0}"),
    ("environment must be sandbox or production", "Mazingira lazima yawe sandbox au production"),
    (
        "max_amount_kes must be a whole number of shillings, at least 1",
        "Kiasi kikubwa zaidi lazima kiwe shilingi kamili, angalau 1",
    ),
    # Checking a receipt entered by hand
    (
        "No relay to check the receipt against (query-only mode).",
        "Hakuna relay ya kukagua risiti (hali ya kuuliza tu).",
    ),
    ("The relay could not be asked ({}).", "Relay haikuweza kuulizwa ({0})."),
    ("The relay has no M-Pesa payment with this receipt.", "Relay haina malipo ya M-Pesa yenye risiti hii."),
    (
        "The relay's record of this receipt is not a payment (code {}).",
        "Rekodi ya relay ya risiti hii si malipo (msimbo {0}).",
    ),
    (
        "The relay's payment with this receipt is KES {}, not KES {}.",
        "Malipo ya relay yenye risiti hii ni KES {0}, si KES {1}.",
    ),
    (
        "Matches the M-Pesa payment of KES {} the relay received.",
        "Inalingana na malipo ya M-Pesa ya KES {0} yaliyopokelewa na relay.",
    ),
    # Alerts (the banner)
    (
        "DEMO mode: Daraja simulator, no real money.",
        "HALI YA MAJARIBIO: simulator ya Daraja, si pesa halisi.",
    ),
    (
        "{} payment(s) pending or unknown for more than 5 minutes.",
        "Malipo {0} yanasubiri au hayajulikani kwa zaidi ya dakika 5.",
    ),
    ("{} payment(s) with an anomaly to review.", "Malipo {0} yana hitilafu ya kukagua."),
    (
        "The relay is not reachable: payments settle by STK Query.",
        "Relay haipatikani: malipo yanathibitishwa kwa STK Query.",
    ),
    (
        "No ngrok token: set NGROK_AUTHTOKEN (Settings → embedded relay) or use a relay URL.",
        "Hakuna tokeni ya ngrok: weka NGROK_AUTHTOKEN (Mipangilio → relay ya ndani) au tumia URL ya relay.",
    ),
    ("pyngrok is not installed: pip install '.[till]'", "pyngrok haijasakinishwa: pip install '.[till]'"),
    (
        "The ngrok tunnel could not start ({}). Payments are confirmed by STK Query only until it works: "
        "check NGROK_AUTHTOKEN and the internet connection.",
        "Tunnel ya ngrok haikuweza kuanza ({0}). Malipo yanathibitishwa kwa kuuliza M-Pesa tu hadi "
        "ifanye kazi: kagua NGROK_AUTHTOKEN na muunganisho wa intaneti.",
    ),
    (
        "ngrok gave no HTTPS address ({}); payments use STK Query only.",
        "ngrok haikutoa anwani ya HTTPS ({0}); malipo yanatumia kuuliza M-Pesa tu.",
    ),
    # Diagnostics findings and their fixes
    ("Daraja accepted the credentials.", "Daraja imekubali funguo."),
    ("Daraja refused the consumer key and secret.", "Daraja imekataa consumer key na secret."),
    (
        "Copy MPESA_CONSUMER_KEY and MPESA_CONSUMER_SECRET again from the Daraja portal, and check "
        "MPESA_ENVIRONMENT (sandbox keys do not work in production).",
        "Nakili tena MPESA_CONSUMER_KEY na MPESA_CONSUMER_SECRET kutoka tovuti ya Daraja, na kagua "
        "MPESA_ENVIRONMENT (funguo za sandbox hazifanyi kazi katika production).",
    ),
    ("Daraja did not answer: {}", "Daraja haikujibu: {0}"),
    (
        "Check the internet connection; payments cannot start until Daraja answers.",
        "Kagua muunganisho wa intaneti; malipo hayawezi kuanza hadi Daraja ijibu.",
    ),
    ("{} is not set.", "{0} haijawekwa."),
    (
        "Set {} in Settings, in the .env file or in the environment.",
        "Weka {0} kwenye Mipangilio, kwenye faili ya .env au kwenye mazingira.",
    ),
    (
        "No relay and no MPESA_CALLBACK_URL: payments are confirmed by STK Query only, without receipt "
        "numbers.",
        "Hakuna relay wala MPESA_CALLBACK_URL: malipo yanathibitishwa kwa kuuliza M-Pesa tu, bila namba "
        "za risiti.",
    ),
    (
        "Set MPESA_RELAY_URL and MPESA_RELAY_KEY, or NGROK_AUTHTOKEN for the embedded relay.",
        "Weka MPESA_RELAY_URL na MPESA_RELAY_KEY, au NGROK_AUTHTOKEN kwa relay ya ndani.",
    ),
    ("The callback URL contains spaces.", "Callback URL ina nafasi."),
    ("Remove the spaces.", "Ondoa nafasi."),
    (
        "The callback URL is not HTTPS ({}); Safaricom posts to public HTTPS only.",
        "Callback URL si HTTPS ({0}); Safaricom hutuma kwa HTTPS ya umma tu.",
    ),
    (
        "Use the relay's https:// address (a host with TLS) or the embedded relay with ngrok.",
        "Tumia anwani ya https:// ya relay (seva yenye TLS) au relay ya ndani na ngrok.",
    ),
    (
        "The callback URL points at {}: Safaricom cannot reach this machine.",
        "Callback URL inaelekeza {0}: Safaricom haiwezi kufikia kompyuta hii.",
    ),
    ("The callback URL points at {}, this machine.", "Callback URL inaelekeza {0}, kompyuta hii."),
    (
        "The callback URL host {} is a local network name.",
        "Seva ya callback URL {0} ni jina la mtandao wa ndani.",
    ),
    (
        "The callback URL points at a private address ({}) Safaricom cannot reach.",
        "Callback URL inaelekeza anwani ya ndani ({0}) ambayo Safaricom haiwezi kufikia.",
    ),
    ("Use the relay's public address.", "Tumia anwani ya umma ya relay."),
    (
        "The callback URL contains {}, which Safaricom rejects in URLs.",
        "Callback URL ina {0}, ambayo Safaricom hukataa kwenye URL.",
    ),
    (
        "Use the relay's tokenised path /api/v1/callbacks/stk/<token> and a host name without these words.",
        "Tumia njia ya relay yenye tokeni /api/v1/callbacks/stk/<token> na jina la seva lisilo na "
        "maneno haya.",
    ),
    (
        "The callback URL is on a tunnel host ({}); Safaricom is reported to block some of these.",
        "Callback URL iko kwenye seva ya tunnel ({0}); inasemekana Safaricom huzuia baadhi yake.",
    ),
    (
        "Fine for trials; use a relay on your own domain in production.",
        "Inafaa kwa majaribio; tumia relay kwenye domain yako mwenyewe katika production.",
    ),
    ("The callback URL answered HTTP {}.", "Callback URL imejibu HTTP {0}."),
    (
        "The callback URL answered HTTP {}: the relay, or the proxy or tunnel in front of it, is failing.",
        "Callback URL imejibu HTTP {0}: relay, au proxy au tunnel iliyo mbele yake, ina hitilafu.",
    ),
    (
        "Check the relay (mpesa-relay doctor on its host) and the proxy or tunnel before it.",
        "Kagua relay (mpesa-relay doctor kwenye seva yake) na proxy au tunnel iliyo mbele yake.",
    ),
    (
        "Point MPESA_CALLBACK_URL at the relay's callback path.",
        "Elekeza MPESA_CALLBACK_URL kwenye njia ya callback ya relay.",
    ),
    ("The callback URL could not be reached ({}).", "Callback URL haikufikiwa ({0})."),
    (
        "Check the address and that the relay (or the tunnel) is up.",
        "Kagua anwani na kwamba relay (au tunnel) inafanya kazi.",
    ),
    (
        "A test callback sent to the callback URL never reached this till's relay.",
        "Callback ya majaribio iliyotumwa kwa callback URL haikufika kwenye relay ya till hii.",
    ),
    (
        "The callback URL points somewhere else: use the relay's tokenised callback path for this till.",
        "Callback URL inaelekeza kwingine: tumia njia ya callback ya relay yenye tokeni ya till hii.",
    ),
    (
        "A test callback went through the callback URL to the relay.",
        "Callback ya majaribio imepita kwenye callback URL hadi kwenye relay.",
    ),
    ("The relay answers but reports a problem.", "Relay inajibu lakini inaripoti tatizo."),
    ("Run mpesa-relay doctor.", "Endesha mpesa-relay doctor."),
    ("The relay at {} answers and knows this till.", "Relay iliyo {0} inajibu na inaitambua till hii."),
    ("The relay at {} does not answer ({}).", "Relay iliyo {0} haijibu ({1})."),
    (
        "Check MPESA_RELAY_URL and that the relay is running (mpesa-relay doctor on its host). Payments "
        "still settle by STK Query meanwhile.",
        "Kagua MPESA_RELAY_URL na kwamba relay inafanya kazi (mpesa-relay doctor kwenye seva yake). Kwa "
        "sasa malipo bado yanakamilika kwa kuuliza M-Pesa.",
    ),
    ("The relay refused this till's key.", "Relay imekataa ufunguo wa till hii."),
    (
        "Create a key with `mpesa-relay create-till-key NAME` and set MPESA_RELAY_KEY.",
        "Tengeneza ufunguo kwa `mpesa-relay create-till-key NAME` na uweke MPESA_RELAY_KEY.",
    ),
    ("The relay's till API failed ({}).", "API ya till ya relay imeshindwa ({0})."),
    ("The relay did not answer the self-test ({}).", "Relay haikujibu jaribio lake ({0})."),
    (
        "This computer's clock is {} s ahead of the relay's.",
        "Saa ya kompyuta hii iko mbele ya saa ya relay kwa sekunde {0}.",
    ),
    (
        "This computer's clock is {} s behind the relay's.",
        "Saa ya kompyuta hii iko nyuma ya saa ya relay kwa sekunde {0}.",
    ),
    (
        "Turn on automatic time (NTP): M-Pesa refuses requests stamped with a wrong time.",
        "Washa saa ya kiotomatiki (NTP): M-Pesa inakataa maombi yenye saa isiyo sahihi.",
    ),
    (
        "Demo mode: the Daraja simulator and a relay on this computer.",
        "Hali ya majaribio: simulator ya Daraja na relay kwenye kompyuta hii.",
    ),
    ("Check NGROK_AUTHTOKEN and the connection.", "Kagua NGROK_AUTHTOKEN na muunganisho."),
    # The same URL rules for the C2B URLs (the name in front, e.g. "C2B confirmation URL")
    ("The {} contains spaces.", "{0} ina nafasi."),
    (
        "The {} is not HTTPS ({}); Safaricom posts to public HTTPS only.",
        "{0} si HTTPS ({1}); Safaricom hutuma kwa HTTPS ya umma tu.",
    ),
    (
        "The {} points at {}: Safaricom cannot reach this machine.",
        "{0} inaelekeza {1}: Safaricom haiwezi kufikia kompyuta hii.",
    ),
    ("The {} points at {}, this machine.", "{0} inaelekeza {1}, kompyuta hii."),
    ("The {} host {} is a local network name.", "Seva ya {0}, {1}, ni jina la mtandao wa ndani."),
    (
        "The {} points at a private address ({}) Safaricom cannot reach.",
        "{0} inaelekeza anwani ya ndani ({1}) ambayo Safaricom haiwezi kufikia.",
    ),
    (
        "The {} contains {}, which Safaricom rejects in URLs.",
        "{0} ina {1}, ambayo Safaricom hukataa kwenye URL.",
    ),
    (
        "Use the relay's tokenised path {} and a host name without these words.",
        "Tumia njia ya relay yenye tokeni {0} na jina la seva lisilo na maneno haya.",
    ),
    (
        "The {} is on a tunnel host ({}); Safaricom is reported to block some of these.",
        "{0} iko kwenye seva ya tunnel ({1}); inasemekana Safaricom huzuia baadhi yake.",
    ),
    # C2B URLs: registration and the self-test (diagnostics)
    (
        "A test C2B validation went through the public address to the relay.",
        "Jaribio la uthibitisho wa C2B limepita kwenye anwani ya umma hadi kwenye relay.",
    ),
    ("C2B URLs registered for shortcode {}.", "URL za C2B zimesajiliwa kwa namba {0}."),
    (
        "The C2B validation URL answered HTTP {}, not the relay's acceptance.",
        "URL ya uthibitisho wa C2B imejibu HTTP {0}, si kukubali kwa relay.",
    ),
    ("The C2B validation URL could not be reached ({}).", "URL ya uthibitisho wa C2B haikufikiwa ({0})."),
    (
        "This till has no record of registering the C2B URLs of shortcode {}.",
        "Till hii haina kumbukumbu ya kusajili URL za C2B za namba {0}.",
    ),
    (
        "Run `mpesa-till c2b register` once, unless another till or the Daraja portal did.",
        "Endesha `mpesa-till c2b register` mara moja, isipokuwa till nyingine au tovuti ya Daraja "
        "imefanya hivyo.",
    ),
    (
        "The C2B confirmation URL registered from this till is not the relay's current one.",
        "URL ya C2B iliyosajiliwa kutoka till hii si ile ya sasa ya relay.",
    ),
    (
        "Delete the old URLs in the Daraja portal, then run `mpesa-till c2b register`.",
        "Futa URL za zamani kwenye tovuti ya Daraja, kisha endesha `mpesa-till c2b register`.",
    ),
    ("The relay could not be asked to release {}: {}.", "Relay haikuweza kuombwa kuachilia {0}: {1}."),
    # An attempt settled from the relay's one orphan result (pos_app/engine/orphans.py): History says how
    (
        "Matched by amount and phone after a restart.",
        "Imelinganishwa kwa kiasi na simu baada ya kuanza upya.",
    ),
    # Cash (pos_app/engine/cash.py): refusals, the alert and the diagnostics finding
    (
        "Cash is taken in whole shillings, at least KES 1.",
        "Pesa taslimu hupokelewa kwa shilingi kamili, angalau KES 1.",
    ),
    ("Sale {} is already paid in cash (KES {}).", "Mauzo {0} tayari yamelipwa kwa pesa taslimu (KES {1})."),
    (
        "Sale {} is already paid to the till number ({}).",
        "Mauzo {0} tayari yamelipwa kwa namba ya till ({1}).",
    ),
    ("Sale {} is already paid by M-Pesa.", "Mauzo {0} tayari yamelipwa kwa M-Pesa."),
    (
        "A payment is still waiting on the customer's phone: wait for it or check it.",
        "Malipo bado yanasubiri kwenye simu ya mteja: yasubiri au yakague.",
    ),
    (
        "{} sale(s) paid in cash were paid by M-Pesa too: refund one of the two.",
        "Mauzo {0} yaliyolipwa kwa pesa taslimu yamelipwa pia kwa M-Pesa: rudisha moja kati ya hayo mawili.",
    ),
    (
        "{} sale(s) paid in cash were paid by M-Pesa too.",
        "Mauzo {0} yaliyolipwa kwa pesa taslimu yamelipwa pia kwa M-Pesa.",
    ),
    (
        "Find them in the Day report under To review: refund the M-Pesa payment or give the cash back.",
        "Yatafute kwenye Ripoti ya siku chini ya Za kukagua: rudisha malipo ya M-Pesa au rudisha pesa "
        "taslimu.",
    ),
    # receipts: a receipt typed for a sale another attempt already paid
    ("This sale is already paid (receipt {}).", "Mauzo haya tayari yamelipwa (risiti {0})."),
    (
        "This sale is already paid (receipt by STK Query).",
        "Mauzo haya tayari yamelipwa (yalithibitishwa kwa kuuliza M-Pesa).",
    ),
    (
        "Only the demo till can play a customer paying.",
        "Till ya majaribio pekee inaweza kuigiza mteja akilipa.",
    ),
    ("Type the amount the customer pays first.", "Andika kwanza kiasi ambacho mteja analipa."),
)


def _engine_pattern(english: str) -> re.Pattern[str]:
    return re.compile("(.+?)".join(re.escape(part) for part in english.split("{}")), re.DOTALL)


_ENGINE_SW: tuple[tuple[re.Pattern[str], int, str], ...] = tuple(
    (_engine_pattern(english), len(english.replace("{}", "")), swahili)
    for english, swahili in _ENGINE_SW_SOURCE
)


def engine_sentences() -> tuple[tuple[str, str], ...]:
    """The engine's English sentences ("{}" for values) and their Swahili, as the table holds them."""
    return _ENGINE_SW_SOURCE


def engine_text(message: str, lang: str) -> str:
    """One of the engine's sentences for people, in `lang`."""
    if lang != "sw":
        return message
    best: tuple[int, str] | None = None
    for pattern, fixed, swahili in _ENGINE_SW:
        found = pattern.fullmatch(message)
        if found and (best is None or fixed > best[0]):
            best = (fixed, swahili.format(*found.groups()))
    return best[1] if best else message
