"""Structured logging: every line carries the request id of the request it belongs to."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

from onestack.common.context import request_id_var


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(data).decode()


def setup(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    ACCESS.json = fmt == "json"
    ACCESS.enabled = root.isEnabledFor(logging.INFO)
    # uvicorn's own access log would duplicate ours, without the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class AccessLog:
    """One line per answered request, written cheaply.

    Going through ``logging`` costs more than answering a cached request (a record, a
    formatter, a flush per line), so access lines are formatted here and written in batches:
    at most ``batch`` lines or ``interval`` seconds late (``flush`` runs every second too).
    The format follows :func:`setup`'s.
    """

    def __init__(self, fmt: str = "text", batch: int = 256, interval: float = 0.5) -> None:
        self.json = fmt == "json"
        self.batch = batch
        self.interval = interval
        self.enabled = True
        self._lines: list[str] = []
        self._last_flush = time.monotonic()
        self._second = -1
        self._stamp = ""

    def _now(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{int((now - second) * 1000):03d}"

    def write(
        self, request_id: str, service: str, method: str, path: str, status: int, ms: float
    ) -> None:
        if not self.enabled:
            return
        if self.json:
            line = orjson.dumps(
                {
                    "time": self._now(),
                    "level": "INFO",
                    "logger": "onestack.access",
                    "request_id": request_id,
                    "service": service,
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": round(ms, 2),
                }
            ).decode()
        else:
            line = (
                f"{self._now()} INFO onestack.access [{request_id}] "
                f"{method} {path} -> {status} in {ms:.1f} ms"
            )
        self._lines.append(line)
        if len(self._lines) >= self.batch or time.monotonic() - self._last_flush > self.interval:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines.clear()
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # a closed stderr must not fail requests


ACCESS = AccessLog()
