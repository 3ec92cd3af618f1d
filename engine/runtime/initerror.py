"""The error of a container process that could not be set up or started: a one-line, Docker-like
message and the exit code Docker would report. Stdlib only: the container's first process, the
monitor, exec, sync and procfs raise it."""
from __future__ import annotations


class InitError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code
