"""Errors the engine raises. Each carries a one-line, user-facing message."""


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
