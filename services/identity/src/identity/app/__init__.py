"""Use cases of identity and the ports they need (Protocols implemented by adapters and fakes)."""
