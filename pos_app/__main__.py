"""`python -m pos_app`: the same as `mpesa-till`. Absolute import: relative imports in `__main__` break
frozen builds (stack-notes.md, PyInstaller issue #2560)."""

import sys

from pos_app.cli import main

sys.exit(main())
