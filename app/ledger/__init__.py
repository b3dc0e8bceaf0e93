"""Ledger reconciliation: what upstream's balance dropped by against what the gateway charged."""
