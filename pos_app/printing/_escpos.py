"""python-escpos, imported without its import-time side effects on the till.

Importing `escpos` (3.1) calls `logging.basicConfig()`, which would make the till's own logging setup a
no-op when printing is imported first, and pickles its printer database into a fresh `mkdtemp()` folder
that is never removed (one left behind per run). Here the handler it adds is taken off again and the
pickle goes to a private temporary folder that is deleted at exit.
"""

from __future__ import annotations

import logging
import os
import tempfile

_root = logging.getLogger()
_handlers_before = list(_root.handlers)
_pickle_dir = tempfile.TemporaryDirectory(prefix="mpesa-till-escpos-")  # mode 0700: nobody else's pickle
os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", _pickle_dir.name)

from escpos.exceptions import Error as EscposError  # noqa: E402 - the setup above must come first
from escpos.printer import Dummy, Network, Serial, Usb  # noqa: E402

for _handler in list(_root.handlers):
    if _handler not in _handlers_before:
        _root.removeHandler(_handler)

__all__ = ["Dummy", "EscposError", "Network", "Serial", "Usb"]
