"""`python -m pos_app`: the same as `mpesa-till`. Absolute import: relative imports in `__main__` break
frozen builds (docs/stack-notes.md "PyInstaller")."""

import sys

from pos_app.cli import main

sys.exit(main())
