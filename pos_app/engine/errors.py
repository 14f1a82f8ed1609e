"""Errors the engine raises to people (the cashier, the owner). Each message is a sentence to show as is."""

from __future__ import annotations


class TillError(Exception):
    """Base for engine errors with a message meant for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ChargeRefused(TillError):
    """A charge was not started: one already in flight for this sale, or an unknown not yet cleared."""


class WrongPin(TillError):
    """The owner PIN is wrong, or none is set yet."""


class ReceiptRefused(TillError):
    """A manual receipt cannot be entered (malformed, already used, attempt already paid)."""


class AttemptNotFound(TillError):
    """No attempt or sale with that id in this till's store."""
