"""Structured JSON logs: one object per line, carrying the request id and the event ids.

A support question ("my offer from 10:32 is missing") is answered by grepping the request id
the client got in ``X-Request-ID``: the log line names the events it produced.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from services.common import logfilters

log = logging.getLogger("ketnoi.gateway")

_request_id: ContextVar[str | None] = ContextVar("ketnoi_request_id", default=None)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> object:
    return _request_id.set(value)


def reset_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", "request_id", ...extra fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "info") -> dict[str, Any]:
    """Route our logs and uvicorn's through the JSON formatter; returns uvicorn's log config."""
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": sys.stdout}
        },
        "loggers": {
            "ketnoi": {"handlers": ["stdout"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stdout"], "level": level.upper(), "propagate": False},
            # Every request is logged once by our middleware, with its ids: no second line.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
    logging.config.dictConfig(config)
    logfilters.install()
    return config
