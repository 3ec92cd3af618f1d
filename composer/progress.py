"""Showing what the reconciler does, as Docker Compose shows it.

On a terminal (`--progress tty`): one line per resource with a spinner or mark, its state and the
time it took, redrawn in place under a "[+] Running k/n" header. Otherwise (`plain`) one line per
change; `json` one object per change; `quiet` nothing. Everything goes to standard error.
"""
from __future__ import annotations

import json
import sys
import threading
import time

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
DONE, FAILED, WORKING, WARNED = "done", "error", "working", "warning"


class Progress:
    def __init__(self, mode: str = "auto", stream=None, title: str = "Running", ansi: str = "auto"):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "tty" if self.stream.isatty() and ansi != "never" else "plain"
        self.mode = mode
        self.title = title
        self.lines: dict[str, list] = {}  # id -> [text, state, started, finished]
        self.lock = threading.Lock()
        self.drawn = 0
        self.last_draw = 0.0
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    # -- events --------------------------------------------------------------------
    def update(self, kind: str, name: str, text: str, state: str = WORKING) -> None:
        ident = f"{kind} {name}"
        with self.lock:
            now = time.monotonic()
            line = self.lines.setdefault(ident, [text, state, now, None])
            line[0], line[1] = text, state
            if state != WORKING:
                line[3] = now
            if self.mode == "plain":
                self.stream.write(f" {ident}  {text}\n")
                self.stream.flush()
            elif self.mode == "json":
                self.stream.write(json.dumps({"id": ident, "status": state, "text": text,
                                              "time": round(now - line[2], 3)}) + "\n")
                self.stream.flush()
            elif self.mode == "tty":
                self._start_ticker()
                self._draw(now)

    def warn(self, message: str) -> None:
        if self.mode == "quiet":
            return
        with self.lock:
            if self.mode == "json":
                self.stream.write(json.dumps({"status": WARNED, "text": message}) + "\n")
            else:
                self._erase()
                self.stream.write(("\x1b[33mWARN\x1b[0m " if self.mode == "tty" else "WARN ") + message + "\n")
                if self.mode == "tty":  # the live display comes back under the warning; plain has none
                    self._draw(time.monotonic(), force=True)
            self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join()
        self._ticker = None
        self._stop.clear()
        with self.lock:
            if self.mode == "tty" and self.lines:
                self._draw(time.monotonic(), force=True)

    # -- terminal drawing --------------------------------------------------------------
    def _start_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.1):
            with self.lock:
                self._draw(time.monotonic(), force=True)

    def _erase(self) -> None:
        if self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _draw(self, now: float, force: bool = False) -> None:
        if not force and now - self.last_draw < 0.05:
            return
        self.last_draw = now
        finished = sum(1 for line in self.lines.values() if line[1] != WORKING)
        rows = [f"\x1b[34m[+]\x1b[0m {self.title} {finished}/{len(self.lines)}"]
        width = max((len(i) for i in self.lines), default=0)
        for ident, (text, state, started, ended) in self.lines.items():
            if state == DONE:
                mark = "\x1b[32m✔\x1b[0m"
            elif state == FAILED:
                mark = "\x1b[31m✘\x1b[0m"
            else:
                mark = SPINNER[int(now * 10) % len(SPINNER)]
            took = (ended or now) - started
            rows.append(f" {mark} {ident.ljust(width)}  {text:<12} {took:5.1f}s")
        self._erase()
        self.stream.write("\n".join(rows) + "\n")
        self.stream.flush()
        self.drawn = len(rows)


def from_args(args, title: str = "Running") -> Progress:
    mode = getattr(args, "progress", "auto") or "auto"
    return Progress(mode, title=title, ansi=getattr(args, "ansi", "auto") or "auto")
