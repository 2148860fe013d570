"""The audit service: a school's hash-chained audit trail (docs/audit.md)."""
