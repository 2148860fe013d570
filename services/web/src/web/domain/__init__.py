"""Pure pieces of the gateway: status mapping, error bodies, origin checks, token peeks, rate limits."""
