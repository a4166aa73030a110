"""What the demo prints: phase headings, each command as a user would type it, its output,
and notes; every known secret value masked."""

from __future__ import annotations

import re
import sys
import time
from typing import TextIO

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class Console:
    def __init__(self, out: TextIO | None = None, color: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.color = self.out.isatty() if color is None else color
        self._secrets: set[str] = set()

    def hide(self, value: str) -> None:
        """From now on ``value`` prints as ``***`` wherever it appears."""
        if len(value) >= 4:
            self._secrets.add(value)

    def mask(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def phase(self, title: str) -> None:
        self._line("")
        self._line(self._style("1", f"== {title}"))

    def command(self, shown: str) -> None:
        self._line(self._style("36", f"$ {self.mask(shown)}"))

    def output(self, text: str) -> None:
        if text:
            self.out.write(self.mask(text if text.endswith("\n") else text + "\n"))
            self.out.flush()

    def note(self, text: str) -> None:
        self._line(self._style("2", f"# {self.mask(text)}"))

    def good(self, text: str) -> None:
        self._line(self._style("32", f"ok: {self.mask(text)}"))

    def progress(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self._line(self._style("2", f"   [{stamp}] {self.mask(text)}"))

    def _style(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()
