"""The container engine: Airlock's own podman configuration, probed once per home."""

from airlock.engine.config import EnginePaths, engine_env
from airlock.engine.errors import EngineError, EngineNotFoundError, EngineProbeError
from airlock.engine.probe import EngineProbe, probe

__all__ = [
    "EngineError",
    "EngineNotFoundError",
    "EnginePaths",
    "EngineProbe",
    "EngineProbeError",
    "engine_env",
    "probe",
]
