"""Printing containers' output, one thread per container, prefixed with the container's short name."""
from __future__ import annotations

import sys
import threading

from composer import desired
from engine.api import ContainerInfo


def short_name(c: ContainerInfo) -> str:
    project = c.labels.get(desired.LABEL_PROJECT, "")
    return c.name[len(project) + 1:] if project and c.name.startswith(project + "-") else c.name


def follow(engine, containers: list[ContainerInfo], follow: bool, tail: int | None, prefix: bool) -> None:
    width = max((len(short_name(c)) for c in containers), default=0)
    lock = threading.Lock()
    out = sys.stdout.buffer

    def pump(c: ContainerInfo) -> None:
        head = (short_name(c).ljust(width) + "  | ").encode() if prefix else b""
        for entry in engine.logs(c.id, follow=follow, tail=tail):
            data = entry["log"].encode()
            with lock:
                out.write(head + data if data.endswith(b"\n") else head + data + b"\n")
                out.flush()

    if len(containers) == 1 or not follow:
        for c in containers:
            pump(c)
        return
    threads = [threading.Thread(target=pump, args=(c,), daemon=True) for c in containers]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
