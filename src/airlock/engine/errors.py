"""Engine errors.

EngineError
├── EngineNotFoundError   a tool Airlock needs (podman, runc) is not on PATH
└── EngineProbeError      podman is there but cannot run with any storage driver
"""

from __future__ import annotations


class EngineError(Exception):
    """Root of the engine errors."""


class EngineNotFoundError(EngineError):
    def __init__(self, tool: str) -> None:
        super().__init__(f"{tool} is not installed or not on PATH; run scripts/bootstrap")
        self.tool = tool


class EngineProbeError(EngineError):
    """Podman could not start with any storage driver; the message holds each complaint."""
