"""Triggers: what makes a task run without ``task run``.

Base-image updates (``images``: the registry's events for this server's registries, polling
for external ones), commits (``commits``: a webhook per task, and polling of the context's
branch) and timers (``timers``: cron schedules). Each queues runs through the run service with
its TRIGGER (``Image Update``, ``Commit``, ``Timer``), exactly once per cause (``firings``).
"""
