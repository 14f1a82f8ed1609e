"""One way for a cashier's or owner's action to wait on the engine.

`await busy(work, *controls, refused=show)` disables the controls, awaits the work and always enables
them again, whatever happened. Its one error policy:

- A refusal (the engine's TillError, or a ValueError from checking a request: an invalid phone, an
  invalid payment request, a setting out of range) carries a sentence meant for people. With `refused`,
  it is handed to `refused` once, where the action shows its messages, and busy() returns None.
- Anything else is a bug and propagates to sys.excepthook, which logs it and tells the cashier without
  closing the till (pos_app/ui/app.py). So do refusals of an action that passes no `refused`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

from PySide6.QtWidgets import QWidget

from pos_app.engine.errors import TillError

T = TypeVar("T")

REFUSALS: tuple[type[Exception], ...] = (TillError, ValueError)


@overload
async def busy(work: Awaitable[T], *controls: QWidget) -> T: ...


@overload
async def busy(work: Awaitable[T], *controls: QWidget, refused: Callable[[Exception], None]) -> T | None: ...


async def busy(
    work: Awaitable[T], *controls: QWidget, refused: Callable[[Exception], None] | None = None
) -> T | None:
    for control in controls:
        control.setEnabled(False)
    try:
        return await work
    except REFUSALS as refusal:
        if refused is None:
            raise
        refused(refusal)
        return None
    finally:
        for control in controls:
            control.setEnabled(True)
