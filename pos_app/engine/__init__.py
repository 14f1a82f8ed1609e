"""The till's payment engine: state machine, persistence-then-announcement, relay client, settlement,
reconciliation, manual receipts and diagnostics. No Qt here (docs/architecture.md)."""
