"""The relay's HTTP handlers: callbacks (Safaricom), till (the till's contract), ops (operator)."""
