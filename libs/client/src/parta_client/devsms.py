"""Sign-in codes from identity's development SMS gateway (JSON lines {"phone","code","sent_at"} in a file).

Only for local stacks and tests: production identity refuses to run the file gateway.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path


def normalize_phone(phone: str) -> str:
    """Best-effort E.164 for Russian-style input ("8 999 …", "+7 (999) …"), the way identity records it."""
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("+"):
        return "+" + digits
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10:
        return "+7" + digits
    return "+" + digits


class DevSmsFile:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    def mark(self) -> int:
        """The current number of lines: codes sent after this call are after this line."""
        try:
            with self.path.open("rb") as handle:
                return sum(1 for _ in handle)
        except FileNotFoundError:
            return 0

    def find(self, phone: str, after_line: int = 0) -> str | None:
        try:
            lines = self.path.read_text().splitlines()[after_line:]
        except FileNotFoundError:
            return None
        wanted = normalize_phone(phone)
        for line in reversed(lines):
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            if isinstance(record, dict) and record.get("phone") == wanted and record.get("code"):
                return str(record["code"])
        return None

    async def wait_code(self, phone: str, after_line: int = 0, timeout: float = 15.0) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            code = self.find(phone, after_line)
            if code is not None:
                return code
            if loop.time() > deadline:
                raise TimeoutError(f"no sign-in code for {mask_phone(phone)} appeared in {self.path}")
            await asyncio.sleep(0.05)


def mask_phone(phone: str) -> str:
    normalized = normalize_phone(phone)
    return normalized[:3] + "•" * max(len(normalized) - 5, 0) + normalized[-2:]
