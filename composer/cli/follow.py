"""Printing containers' output, one thread per container, prefixed with the container's short name
(in a colour of its own on a terminal, as Docker Compose does)."""
from __future__ import annotations

import sys
import threading
import time
from typing import Callable

from composer import labels
from engine.api import ContainerInfo

COLOURS = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"]
RESTART_GRACE = 2.0  # seconds to wait for a stopped container to come back (`composer restart`)


def short_name(c: ContainerInfo) -> str:
    project = c.labels.get(labels.LABEL_PROJECT, "")
    return c.name[len(project) + 1:] if project and c.name.startswith(project + "-") else c.name


def use_colour(ansi: str = "auto", no_color: bool = False) -> bool:
    if no_color or ansi == "never":
        return False
    return ansi == "always" or sys.stdout.isatty()


class Printer:
    """Writes whole lines from several threads; each container keeps its colour."""

    def __init__(self, containers: list[ContainerInfo], prefix: bool = True, colour: bool = False,
                 timestamps: bool = False):
        self.width = max((len(short_name(c)) for c in containers), default=0)
        self.prefix, self.colour, self.timestamps = prefix, colour, timestamps
        self.lock = threading.Lock()
        self.out = sys.stdout.buffer
        self.colours: dict[str, str] = {}

    def head(self, c: ContainerInfo) -> bytes:
        if not self.prefix:
            return b""
        text = short_name(c).ljust(self.width) + "  | "
        if self.colour:
            code = self.colours.setdefault(c.name, COLOURS[len(self.colours) % len(COLOURS)])
            text = f"\x1b[{code}m{text}\x1b[0m"
        return text.encode()

    def line(self, c: ContainerInfo, entry: dict) -> None:
        data = entry["log"].encode()
        if self.timestamps:
            data = entry.get("time", "").encode() + b" " + data
        with self.lock:
            self.out.write(self.head(c) + (data if data.endswith(b"\n") else data + b"\n"))
            self.out.flush()

    def note(self, text: str) -> None:
        with self.lock:
            self.out.write(text.encode() + b"\n")
            self.out.flush()


def follow(engine, containers: list[ContainerInfo], follow: bool, tail: int | None, prefix: bool,
           printer: Printer | None = None, on_end: Callable[[ContainerInfo], None] | None = None,
           wait: bool = True, since: float | None = None, until: float | None = None,
           across_restarts: bool = False) -> list[threading.Thread]:
    """Print each container's log entries within [since, until]; with *follow*, until it stops (then
    *on_end* is called for it). With *across_restarts*, a container that stops is waited for while
    others still run (and briefly after) and followed again when it is started anew."""
    printer = printer or Printer(containers, prefix)
    live = [len(containers)]
    lock = threading.Lock()

    def pump(c: ContainerInfo) -> None:
        last = None
        want_tail, lo = tail, since
        started = c.started_at
        while True:
            for entry in engine.logs(c.id, follow=follow, tail=want_tail, since=lo, until=until):
                if last is not None and entry["time"] <= last:
                    continue  # printed before the restart
                last = entry["time"]
                printer.line(c, entry)
            if not (follow and across_restarts):
                break
            with lock:
                live[0] -= 1
            started = _restarted(engine, c.id, started, live)
            if started is None:
                break
            with lock:
                live[0] += 1
            want_tail = None
            if last is not None:
                from composer.cli.timearg import parse_log_time

                lo = parse_log_time(last)
        if on_end:
            on_end(c)

    if not wait:
        threads = [threading.Thread(target=pump, args=(c,), daemon=True) for c in containers]
        for t in threads:
            t.start()
        return threads
    if len(containers) == 1 or not follow:
        for c in containers:
            pump(c)
        return []
    threads = [threading.Thread(target=pump, args=(c,), daemon=True) for c in containers]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    return []


def _restarted(engine, cid: str, started: str, live: list[int]) -> str | None:
    """Wait for the container to run again (a new start time); its start time, or None when it does
    not come back while others still run, nor within the grace period after the last one stopped."""
    from engine.api import EngineError

    alone_since = None
    while True:
        try:
            info = engine.inspect_container(cid)
        except EngineError:
            return None  # removed
        if info.status in ("running", "restarting") and info.started_at != started:
            return info.started_at
        if live[0] > 0:
            alone_since = None
        elif alone_since is None:
            alone_since = time.monotonic()
        elif time.monotonic() - alone_since > RESTART_GRACE:
            return None
        time.sleep(0.1)
