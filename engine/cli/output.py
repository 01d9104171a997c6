"""Writing a CLI's result: checked before the work starts, and never lost after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.images import check_output

__all__ = ["OutputFailed", "check_output", "save_or_rescue"]


class OutputFailed(Exception):
    """The work is done but the output could not be written (the message says where it went)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def save_or_rescue(picture: Any, path: str) -> None:
    """Write the result; if that still fails (disk full, folder gone), never lose the work: save
    it to a temporary PNG and name it in the error."""
    from engine.images import save_picture, save_rescue_copy

    try:
        save_picture(picture, path)
        return
    except Exception as exc:  # loop edge: whatever the failure, the finished work is kept
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    try:
        rescued = save_rescue_copy(picture, Path(path).stem or "stylized")
    except Exception as exc:
        raise OutputFailed(f"cannot write {path!r} ({why}), nor a copy in the temporary folder "
                           f"({getattr(exc, 'strerror', None) or exc}); the result is lost") \
            from None
    raise OutputFailed(f"cannot write {path!r} ({why}); the result was saved to {rescued}")
