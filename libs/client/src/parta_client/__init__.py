"""The Parta client: an async SDK over the services' gRPC APIs (`Parta`) and the `parta` command line."""

from parta_client.client import Parta
from parta_client.config import Endpoints, parta_home
from parta_client.devsms import DevSmsFile
from parta_client.errors import CallError, NotSignedIn, describe
from parta_client.session import Session, SessionStore

__all__ = [
    "CallError",
    "DevSmsFile",
    "Endpoints",
    "NotSignedIn",
    "Parta",
    "Session",
    "SessionStore",
    "describe",
    "parta_home",
]
