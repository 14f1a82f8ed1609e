"""The desktop till's window: the only package that imports PySide6 or qasync (docs/architecture.md)."""
