"""Errors the engine raises. Each carries a one-line, user-facing message."""
from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: the monitor imports this module
if TYPE_CHECKING:
    from collections.abc import Callable


class EngineError(Exception):
    """Base class: str(err) is a complete one-line message for the user."""


class NotFound(EngineError):
    """An image, container, volume or network does not exist."""


class Conflict(EngineError):
    """The object exists already, or is in use (a port, a name, a volume)."""


class InvalidArgument(EngineError):
    """The request itself is malformed (bad reference, bad archive, bad option)."""


class RegistryError(EngineError):
    """A registry refused a request, could not be reached, or sent content that failed verification."""


class Unauthorized(RegistryError):
    """The registry wants credentials we do not have, or refused the ones we sent."""


def quietly(fn: Callable[[], object]) -> None:
    """Run a clean-up step whose failure (gone already, a busy leftover) must not hide the error
    being handled, nor fail an operation that is done."""
    try:
        fn()
    except (OSError, EngineError):
        pass
