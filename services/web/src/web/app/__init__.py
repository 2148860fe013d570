"""Ports of the gateway: what its HTTP edge (api/) needs from the services behind it."""
