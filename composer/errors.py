"""Errors of the front end. str(err) is the complete one-line message for the user."""


class ComposerError(Exception):
    """A user-facing failure: printed as one line, exit status 1 (or .exit_code)."""

    exit_code = 1


class StackFileError(ComposerError):
    """The stack file cannot be read, parsed, interpolated or validated."""

    exit_code = 1
