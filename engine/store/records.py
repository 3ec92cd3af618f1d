"""Atomic records on disk.

A record is written to a temporary file in the same directory and renamed over the old one, so a
reader (or a killed process) never sees a half-written record. Records that must survive a power
loss (containers, networks, volumes, images) are fsynced first; runtime state that is made again
when a container starts (the monitor's state, health, the start config, DNS names) is not: an fsync
costs milliseconds, several times per container start. Stdlib only, and cheap to import:
the per-container monitor uses it, so `json` (which pulls in `re` and `enum`) is imported only by
the functions that need it; the monitor writes its flat records with `encode_flat` instead.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing would import re, collections and functools into the monitor
    from typing import Any

from _json import encode_basestring_ascii as _quote  # the C string encoder, without json's imports


def write_atomic(path: str, data: bytes, durable: bool = True) -> None:
    """Replace *path* by *data* (mode 0600: records are root's alone). On failure (a full disk) the
    old record stays as it was and the temporary file is removed."""
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def open_log(path: str):
    """*path* opened for appending, unbuffered; made 0600 when it is new (logs are root's alone)."""
    return open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600), "ab", buffering=0)


def write_json(path: str, data: Any, durable: bool = True) -> None:
    import json

    write_atomic(path, json.dumps(data, indent=1, sort_keys=True).encode(), durable)


def read_json(path: str, default: Any = None, runtime: bool = False) -> Any:
    """The record at *path*, or *default* when it does not exist (with *runtime*, also when a power
    loss left it unreadable: runtime state is not fsynced)."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default
    except ValueError:
        if runtime:
            return default
        raise


def encode_flat(record: dict[str, str | int | float | bool | None]) -> bytes:
    """JSON for a flat mapping of strings, numbers, booleans and None (what the monitor records)."""
    parts = []
    for key, value in record.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif value is None:
            text = "null"
        elif isinstance(value, (int, float)):
            text = repr(value)
        else:
            text = _quote(str(value))
        parts.append(f"{_quote(key)}: {text}")
    return ("{" + ", ".join(parts) + "}").encode()


def now() -> str:
    """A record's timestamp: UTC, ISO 8601, ending in Z (as Docker's `Created`)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
