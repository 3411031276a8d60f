"""The SIGTERM exception, in a module that imports nothing (the CLI must catch it even during start-up)."""

from __future__ import annotations

__all__ = ["Terminated"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that every ``finally`` and atomic write cleans
    up; the CLI exits with status 143."""
