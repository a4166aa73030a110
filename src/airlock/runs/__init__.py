"""Task runs in the database: the queue workers claim from, and the record people read
(``airlock.runs.store``), the lines runs print (``logs``), tasks (``tasks``) and the
registry credentials of tasks (``credentials``). The runner that executes them lives above,
in ``airlock.runner``."""

from airlock.runs.credentials import CredentialMaterial, TaskCredential, TaskCredentialStore
from airlock.runs.logs import LogLine, LogStore
from airlock.runs.store import Run, RunStore, StepRecord

__all__ = [
    "CredentialMaterial",
    "LogLine",
    "LogStore",
    "Run",
    "RunStore",
    "StepRecord",
    "TaskCredential",
    "TaskCredentialStore",
]
