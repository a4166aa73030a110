"""Progress of a copy, reported to the caller as events.

``copy_image`` calls the caller's function from its worker threads, one call at a time
(it holds a lock around the call), so the function needs no locking of its own but must
return quickly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

ProgressKind = Literal["blob-start", "blob-progress", "blob-done", "blob-skipped", "manifest"]


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    kind: ProgressKind
    digest: str
    bytes_done: int = 0
    bytes_total: int | None = None


ProgressCallback = Callable[[ProgressEvent], None]
