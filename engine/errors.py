"""Domain exceptions. Each carries an ErrorCode and a message a user can act on; the CLI and the
server map them to exit codes / HTTP statuses at their boundary."""

from __future__ import annotations

from engine.contract import ErrorCode


class EngineError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, code: ErrorCode | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadImage(EngineError):
    code = ErrorCode.BAD_IMAGE


class ImageTooLarge(EngineError):
    code = ErrorCode.IMAGE_TOO_LARGE


class BadParameter(EngineError):
    code = ErrorCode.BAD_PARAMETER


class UnknownModel(EngineError):
    code = ErrorCode.UNKNOWN_MODEL


class BadModel(EngineError):
    code = ErrorCode.BAD_MODEL


class WeightsMissing(EngineError):
    code = ErrorCode.WEIGHTS_MISSING


class DeviceUnavailable(EngineError):
    code = ErrorCode.DEVICE_UNAVAILABLE


class Cancelled(EngineError):
    code = ErrorCode.CANCELLED

    def __init__(self, message: str = "Cancelled."):
        super().__init__(message)
