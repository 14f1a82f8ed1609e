"""Fixtures that run the Daraja simulator on a loopback port (filled in with the simulator)."""
