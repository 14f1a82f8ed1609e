"""The desktop till's window: the only package that imports PySide6 or qasync (style.md habit 1)."""
