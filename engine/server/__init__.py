"""The local HTTP service: `create_app(settings, token, runner=...)` builds the app; `jobs` holds
the queue. Run it with `python -m engine serve`."""

from engine.server.app import create_app, idle_seconds

__all__ = ["create_app", "idle_seconds"]
