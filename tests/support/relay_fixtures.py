"""Fixtures that run the relay under uvicorn on a loopback port (filled in with the relay)."""
