"""`parta`: the command line for the whole Parta flow, a real gRPC client of every service.

Each command opens the profile's session ($PARTA_HOME/profiles/<profile>.json), makes its calls and
prints the result (tables for people, `--json` for scripts). Expected failures print the gRPC status
and the service's reason (e.g. `PERMISSION_DENIED STAFF_NOT_VERIFIED: …`) and exit 1; input that
cannot become a request exits 2; nothing prints a traceback for them.
"""

from parta_client.cli.root import app, main

__all__ = ["app", "main"]
