"""Daraja's wire protocol, shared by the till and the relay: phone numbers, passwords, result codes,
callback parsing, and the Daraja simulator. Pure code with no Qt and no till or relay imports; see
docs/daraja.md for every fact it encodes."""
