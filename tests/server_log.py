"""What a test server logged during one request: its records, split from the server's output.

The server's own handler writes `[LEVEL] mediavault: message`, then the traceback if any;
granian's root handler may repeat the record in its own format (`LEVEL - date - ...`), which
is skipped here.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from tests.support import ServerProcess

_OWN_RECORD = re.compile(r"^\[(?P<level>[A-Z]+)\] (?P<logger>[\w.]+): (?P<message>.*)$")
_OTHER_RECORD = re.compile(r"^(\[[A-Z]+\] |[A-Z]+ - \d{4}-\d\d-\d\d )")


@dataclass(frozen=True)
class LogRecord:
    level: str
    logger: str
    message: str
    traceback: tuple[str, ...]  # the lines after the message, empty without an exception

    @property
    def exception(self) -> str:
        """The traceback's last line: `ExceptionType: text`."""
        return self.traceback[-1] if self.traceback else ""


class LogCursor:
    """Reads what the server logs from the moment the cursor is made."""

    def __init__(self, server: ServerProcess) -> None:
        self._path = server.log_path
        self._offset = self._path.stat().st_size

    def records(self, wait_for: str, timeout: float = 10) -> list[LogRecord]:
        """The records logged since the last read, once one of them contains `wait_for`."""
        deadline = time.monotonic() + timeout
        while True:
            with open(self._path, "rb") as log:
                log.seek(self._offset)
                data = log.read()
            records = parse_records(data.decode("utf-8", errors="replace"))
            if any(wait_for in r.message for r in records) or time.monotonic() > deadline:
                self._offset += len(data)
                return records
            time.sleep(0.05)


def parse_records(text: str) -> list[LogRecord]:
    records: list[LogRecord] = []
    current: dict[str, str] | None = None
    lines: list[str] = []
    for line in [*text.splitlines(), "[END] end: "]:
        if _OTHER_RECORD.match(line):
            if current is not None:
                records.append(LogRecord(**current, traceback=tuple(lines)))
            own = _OWN_RECORD.match(line)
            current = own.groupdict() if own and own["level"] != "END" else None
            lines = []
        elif current is not None:
            lines.append(line)
    return records
