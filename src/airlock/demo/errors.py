"""The one error the demo raises: an expected outcome was not seen."""


class DemoError(Exception):
    """What went wrong, where, and what to look at; ``airlock demo`` exits 1 with it."""
