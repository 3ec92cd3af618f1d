"""Showing pull and push progress: bars redrawn in place on a terminal, plain lines otherwise.

`display(args)` picks the kind from the global `--progress` (auto|tty|plain|json|quiet) and
`--ansi`, and returns a callable that takes engine.api.ProgressEvent's.
"""
from __future__ import annotations

import json
import sys
import threading

BAR = 40


def _size(n: int) -> str:
    from composer.cli.output import human_size

    return human_size(n)


def _line(event) -> str:
    if not event.id:
        return event.status
    if event.total and event.status in ("Downloading", "Pushing"):
        done = min(BAR, BAR * event.current // event.total)
        bar = "=" * max(done - 1, 0) + (">" if done < BAR else "=") + " " * (BAR - done)
        return f"{event.id}: {event.status} [{bar}] {_size(event.current)}/{_size(event.total)}"
    return f"{event.id}: {event.status}"


class Plain:
    """One line per change of an item's status (not per downloaded chunk)."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.last: dict[str, str] = {}
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        with self.lock:
            if event.id and self.last.get(event.id) == event.status:
                return
            if event.id:
                self.last[event.id] = event.status
            print(event.status if not event.id else f"{event.id}: {event.status}", file=self.out, flush=True)


class Bars:
    """Docker-style: one line per layer, rewritten in place with ANSI cursor movement."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.order: list[str] = []
        self.lines: dict[str, str] = {}
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        with self.lock:
            if not event.id:
                self.out.write(event.status + "\n")
                self.order, self.lines = [], {}
            elif event.id not in self.lines:
                self.order.append(event.id)
                self.lines[event.id] = _line(event)
                self.out.write(self.lines[event.id] + "\n")
            else:
                self.lines[event.id] = _line(event)
                up = len(self.order) - self.order.index(event.id)
                self.out.write(f"\x1b[{up}A\r\x1b[2K{self.lines[event.id]}\x1b[{up}B\r")
            self.out.flush()


class Json:
    def __call__(self, event) -> None:
        doc = {"status": event.status}
        if event.id:
            doc["id"] = event.id
        if event.total:
            doc["progressDetail"] = {"current": event.current, "total": event.total}
        print(json.dumps(doc), flush=True)


def display(args, out=sys.stdout):
    mode = getattr(args, "progress", "auto") or "auto"
    if getattr(args, "quiet", False) or mode == "quiet":
        return lambda event: None
    if mode == "json":
        return Json()
    ansi = getattr(args, "ansi", "auto")
    tty = mode == "tty" or (mode == "auto" and ansi != "never" and out.isatty()) or ansi == "always"
    return Bars(out) if tty and mode != "plain" else Plain(out)
