"""Entry script for the PyInstaller build (build.spec): the same `mpesa-till` as the installed command.

Absolute imports only: a frozen entry script runs as `__main__` outside its package, where relative
imports break (PyInstaller issue #2560, docs/stack-notes.md "PyInstaller").
"""

import sys

from pos_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
