"""The engine's event journal: one JSON line per thing that happened (container create, start, die,
stop, kill, pause, unpause, destroy; network and volume create and destroy), appended to
``events.jsonl`` in the engine root by whichever process did it (the CLI or a container's monitor).

Lines are written with one O_APPEND write each, so writers never interleave; past MAX_BYTES the
journal moves to ``events.jsonl.1`` (one older generation is kept). Standard library only: the
monitor imports this.
"""
from __future__ import annotations

import json
import os
import time
from typing import Iterator

NAME = "events.jsonl"
MAX_BYTES = 4 << 20


def record(root: str, kind: str, action: str, ident: str, attributes: dict | None = None) -> None:
    """Append one event; never fails the operation it reports (a full disk loses the event only)."""
    now = time.time_ns()
    line = json.dumps({"type": kind, "action": action, "id": ident, "time": now // 1_000_000_000,
                       "timeNano": now, "attributes": attributes or {}}, separators=(",", ":")) + "\n"
    path = os.path.join(root, NAME)
    try:
        if os.path.getsize(path) > MAX_BYTES:
            os.replace(path, path + ".1")
    except OSError:
        pass
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def read(root: str, since: float | None = None, until: float | None = None, follow: bool = False,
         poll: float = 0.1) -> Iterator[dict]:
    """Events in order, from *since* (seconds since the epoch; default: only new ones when following,
    all otherwise) to *until*; with *follow*, waits for more until *until* passes."""
    path = os.path.join(root, NAME)
    if since is None and follow:
        since = time.time()
    for old in (path + ".1", path):
        if old.endswith(".1") and since is None:
            continue
        yield from _lines(old, since, until)
    if not follow:
        return
    offset = _size(path)
    while until is None or time.time() < until:
        size = _size(path)
        if size < offset:  # rotated
            offset = 0
        if size > offset:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            complete = data[:data.rfind(b"\n") + 1]
            offset += len(complete)
            for line in complete.splitlines():
                event = _parse(line)
                if event and (until is None or event["timeNano"] <= until * 1e9):
                    yield event
        time.sleep(poll)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _parse(line: bytes) -> dict | None:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _lines(path: str, since: float | None, until: float | None) -> Iterator[dict]:
    try:
        f = open(path, "rb")
    except OSError:
        return
    with f:
        for line in f:
            event = _parse(line)
            if not event or not line.endswith(b"\n"):
                continue
            t = event["timeNano"] / 1e9
            if (since is None or t >= since) and (until is None or t <= until):
                yield event


class Journal:
    """The event journal of one engine root, as the services that report to it hold it."""

    def __init__(self, root: str):
        self.root = root

    def record(self, kind: str, action: str, ident: str, attributes: dict | None = None) -> None:
        record(self.root, kind, action, ident, attributes)

    def container(self, action: str, rec: dict, **extra: str) -> None:
        """A container's event, with its name, image and labels as attributes (as Docker's)."""
        spec = rec["spec"]
        record(self.root, "container", action, rec["id"], {"name": rec["name"], "image": spec.get("image", ""),
                                                            **spec.get("labels", {}), **extra})

    def read(self, since: float | None = None, until: float | None = None, follow: bool = False) -> Iterator[dict]:
        return read(self.root, since, until, follow)
