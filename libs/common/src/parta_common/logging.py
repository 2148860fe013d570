"""structlog JSON logging with request/correlation ids from contextvars and masking of personal data."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

# Keys whose values are never logged, whatever they hold.
_SECRET_KEYS = re.compile(
    r"(^|_)(tokens?|secret|password|authorization|otp|cookie|credentials?|body|text|sdp|code|private_key)(_|$)",
    re.I,
)
# Things that look like phone numbers, JWTs, bearer tokens or one-time codes inside free text.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)bearer\s+\S+")
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d\s\-()]{8,}\d(?![\w-])")
_CODE = re.compile(r"(?<![\w-])\d{6}(?![\w-])")
_SAFE_KEYS = frozenset(
    {"event", "level", "timestamp", "logger", "service", "request_id", "correlation_id", "rpc", "grpc_code"}
)


def mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:
        return "***"
    return f"+{digits[:1]}***{digits[-2:]}"


def scrub_text(value: str) -> str:
    value = _JWT.sub("[token]", value)
    value = _BEARER.sub("Bearer [token]", value)
    value = _PHONE.sub(lambda m: mask_phone(m.group(0)), value)
    return _CODE.sub("[code]", value)


def _scrub(key: str, value: Any) -> Any:
    if key in _SAFE_KEYS:
        return scrub_text(value) if isinstance(value, str) and key == "event" else value
    if _SECRET_KEYS.search(key):
        return "[redacted]"
    if key == "phone" and isinstance(value, str):
        return mask_phone(value)
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: _scrub(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(key, v) for v in value]
    return value


def scrub_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _scrub(key, event_dict[key])
    return event_dict


def _scrub_exception(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if "exception" in event_dict and isinstance(event_dict["exception"], str):
        event_dict["exception"] = scrub_text(event_dict["exception"])
    return event_dict


def configure_logging(service: str, level: str = "info", stream: TextIO | None = None) -> None:
    """JSON lines to stdout; safe to call again (tests reconfigure with their own stream)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            scrub_processor,
            structlog.processors.format_exc_info,
            _scrub_exception,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Route the standard library (aiokafka, pymongo, grpc) through the same masking, quietly.
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(_StdlibScrubbingFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


class _StdlibScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub_text(super().format(record))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
