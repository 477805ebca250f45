"""Log lines: the server's plain format, or one JSON object per line (MEDIAVAULT_LOG_FORMAT).

In JSON mode every record is an object with `time`, `level`, `logger` and `message`, the
request id of the request it belongs to (`requestId`, from a context variable the request
middleware sets), the fields a record carries in `extra={"fields": {...}}` and, for an error,
its `traceback` in the same object. What goes into a line is chosen where it is logged:
requests are logged by route template, method, status, sizes and time, never with their
headers or query string, so keys, Authorization headers, `ik-s` signatures, tokens and session
cookies never reach a line.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("mediavault_request_id", default=None)
TEXT_FORMAT = "[%(levelname)s] %(name)s: %(message)s"
access_log = logging.getLogger("mediavault.requests")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["requestId"] = request_id
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def _iso_time(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def configure(level: str, log_format: str) -> None:
    """The `mediavault` logger's handler, in the chosen format (once per process)."""
    logger = logging.getLogger("mediavault")
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler())
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in logger.handlers:
        handler.setFormatter(formatter)
    # In JSON mode a record is one line: not repeated by the root handler Litestar installs,
    # in its own text format.
    logger.propagate = log_format != "json"
    logger.setLevel(level.upper())


def granian_config(log_format: str) -> dict[str, Any] | None:
    """granian's dictConfig for its own lines in JSON mode; None keeps its plain format."""
    if log_format != "json":
        return None
    formatter = {"()": "mediavault.ops.logs.JsonFormatter"}
    return {"formatters": {"generic": formatter, "access": formatter}}
