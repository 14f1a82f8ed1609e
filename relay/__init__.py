"""The M-Pesa callback relay: durable intake of Safaricom's callbacks, per-till results."""

__version__ = "0.1.0"
