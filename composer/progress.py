"""Showing what the reconciler does, as Docker Compose shows it.

On a terminal (`--progress tty`): one line per resource with a spinner or mark, its state and the
time it took, redrawn in place under a "[+] Running k/n" header. Otherwise (`plain`) one line per
change; `json` one object per change; `quiet` nothing. Everything goes to standard error.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

def human_size(n: int) -> str:
    """A byte count as Docker prints it (decimal units): 532B, 1.2kB, 3.4MB."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.3g}{unit}" if unit != "B" else f"{int(size)}B"
        size /= 1000
    return f"{n}B"


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
    def downloading(self, kind: str, name: str, done: int, total: int) -> None:
        """A transfer's line: "Downloading 1.2MB/3.4MB"."""
        self.update(kind, name, f"Downloading {human_size(done)}/{human_size(total)}")

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
            elif self.mode == "tty":
                self._draw(time.monotonic(), force=True, above="\x1b[33mWARN\x1b[0m " + message)
            else:
                self.stream.write("WARN " + message + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Stop redrawing and show the final state; the block stays, so a later step (up --wait after
        up) goes on updating it in place."""
        self._stop.set()
        if self._ticker:
            self._ticker.join()
        self._ticker = None
        self._stop.clear()
        with self.lock:
            if self.mode == "tty" and self.lines:
                self._draw(time.monotonic(), force=True)

    def finish(self) -> None:
        """Close the block for good: other output follows it (attached logs), and what is shown next
        starts a block of its own below instead of redrawing over that output."""
        self.close()
        with self.lock:
            self.lines.clear()
            self.drawn = 0

    # -- terminal drawing --------------------------------------------------------------
    def _start_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.1):
            with self.lock:
                self._draw(time.monotonic(), force=True)

    def _size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.stream.fileno())
            return size.columns or 80, size.lines or 24
        except (OSError, ValueError, AttributeError):
            return 80, 24

    def _draw(self, now: float, force: bool = False, above: str | None = None) -> None:
        """Redraw the block in place (with *above*, a line that stays, printed over it first). Every
        row fits on one terminal line and the block fits on the screen (finished rows give way first),
        so moving the cursor back up always reaches the header; rows are overwritten, never the whole
        screen cleared (tmux would keep each cleared screen in its scrollback): nothing is left behind."""
        if not force and above is None and now - self.last_draw < 0.05:
            return
        self.last_draw = now
        columns, height = self._size()
        columns -= 1  # a row as wide as the terminal may wrap on some terminals
        finished = sum(1 for line in self.lines.values() if line[1] != WORKING)
        items = list(self.lines.items())
        room = max(height - 2, 1)
        if len(items) > room:
            finished_keys = [k for k, line in items if line[1] != WORKING]
            drop = set(finished_keys[:len(items) - room])  # the oldest finished rows give way first
            items = [i for i in items if i[0] not in drop][-room:]
        header = f"[+] {self.title} {finished}/{len(self.lines)}"
        rows = ["\x1b[34m[+]\x1b[0m" + _fit(header, columns)[3:]]
        width = max((len(i) for i, _ in items), default=0)
        for ident, (text, state, started, ended) in items:
            if state == DONE:
                mark = "\x1b[32m✔\x1b[0m"
            elif state == FAILED:
                mark = "\x1b[31m✘\x1b[0m"
            elif state == WARNED:
                mark = "\x1b[33m!\x1b[0m"
            else:
                mark = SPINNER[int(now * 10) % len(SPINNER)]
            took = f" {(ended or now) - started:5.1f}s"
            body = _fit(f"{ident.ljust(width)}  {text:<12}", columns - 3 - len(took))
            rows.append(f" {mark} {body}{took}")
        if above is not None:
            rows.insert(0, above)
        if not self.lines:
            rows = rows[:1] if above is not None else []
        out = f"\x1b[{self.drawn}A\r" if self.drawn else ""
        out += "".join(row + "\x1b[K\n" for row in rows) + "\x1b[J"  # each row cleared after it; then below
        self.stream.write(out)
        self.stream.flush()
        self.drawn = len(rows) - (above is not None)


def _fit(text: str, width: int) -> str:
    """*text* cut to *width* characters (with an ellipsis), so a row never wraps."""
    width = max(width, 1)
    return text if len(text) <= width else text[:width - 1] + "…"


def from_args(args, title: str = "Running") -> Progress:
    mode = getattr(args, "progress", "auto") or "auto"
    return Progress(mode, title=title, ansi=getattr(args, "ansi", "auto") or "auto")
