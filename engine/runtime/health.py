"""Healthchecks, run by the container's monitor inside its event loop. Stdlib only; imported by the
monitor only for a container that has a healthcheck.

Docker's semantics: the status is ``starting`` until the first success (``healthy``); after
``retries`` consecutive failures it is ``unhealthy``; failures during ``start_period`` do not count,
and checks then run every ``start_interval`` instead of every ``interval``. A check that outlives
``timeout`` is killed and counts as a failure. The last five results (start, end, exit code, output)
are kept in ``health.json`` beside the state, as Docker's State.Health.Log.
"""
from __future__ import annotations

import os
import time

from engine.store.records import encode_flat, write_atomic

KEEP = 5  # results kept, as Docker
MAX_OUTPUT = 4096  # bytes of output kept per result, as Docker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.runtime.exec import ExecProcess


def health_path(cdir: str) -> str:
    return os.path.join(cdir, "health.json")


def check_args(test: list[str]) -> list[str] | None:
    """The command a healthcheck's ``test`` runs; None when it is disabled (NONE or empty)."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:]) or None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])] if len(test) > 1 else None
    return ["/bin/sh", "-c", " ".join(test)]  # a bare string: the shell form


def _encode(health: dict) -> bytes:
    log = b"[" + b", ".join(encode_flat(e) for e in health["Log"]) + b"]"
    head = encode_flat({"Status": health["Status"], "FailingStreak": health["FailingStreak"]})
    return head[:-1] + b', "Log": ' + log + b"}"


class HealthChecker:
    """One container process's checks. The monitor calls `timeout_ms` before each poll, hands
    readable descriptors it does not own to `on_event`, and calls `tick` after each poll."""

    def __init__(self, cdir: str, config: dict, pid: int, now_text):
        self.cdir = cdir
        self.config = config  # the container's runtime config
        self.pid = pid  # of the container's process
        self.process = config["process"]  # a check runs with its env, user and working dir
        cfg = config["healthcheck"]
        self.args = check_args(cfg.get("test") or [])
        self.interval = float(cfg.get("interval") or 30)
        self.timeout = float(cfg.get("timeout") or 30)
        self.retries = int(cfg.get("retries") or 3)
        self.start_period = float(cfg.get("start_period") or 0)
        self.start_interval = float(cfg.get("start_interval") or 5)
        self.poller = None  # the monitor's, set before the first check
        self.now_text = now_text
        self.health = {"Status": "starting", "FailingStreak": 0, "Log": []}
        self.started = time.monotonic()
        self.in_start_period = self.start_period > 0
        self.next_at = self.started + self._gap()
        self.proc: ExecProcess | None = None
        self.out_fd = -1
        self.pidfd = -1
        self.output = b""
        self.check_started = ""
        self.deadline = 0.0
        self.save()

    # -- scheduling ----------------------------------------------------------------------
    def _gap(self) -> float:
        return self.start_interval if self.in_start_period else self.interval

    def timeout_ms(self) -> int:
        due = self.deadline if self.proc else self.next_at
        return max(0, int((due - time.monotonic()) * 1000) + 1)

    def owns(self, fd: int) -> bool:
        return fd in (self.out_fd, self.pidfd) and fd >= 0

    def tick(self) -> None:
        now = time.monotonic()
        if self.in_start_period and now - self.started >= self.start_period:
            self.in_start_period = False
        if self.proc is not None:
            if now >= self.deadline:
                self.proc.kill()
                self._finish(-1, f"Health check exceeded timeout ({self.timeout:g}s)")
            return
        if now >= self.next_at:
            self._start()

    def on_event(self, fd: int) -> None:
        if fd == self.out_fd:
            data = os.read(fd, 65536)
            if data:
                if len(self.output) < MAX_OUTPUT:
                    self.output += data[:MAX_OUTPUT - len(self.output)]
                return
            self.poller.unregister(fd)
            os.close(fd)
            self.out_fd = -1
        elif fd == self.pidfd and self.proc is not None:
            code = self.proc.wait()
            self._drain()
            self._finish(code, self.output.decode(errors="replace"))

    # -- one check -----------------------------------------------------------------------
    def _start(self) -> None:
        from engine.errors import EngineError
        from engine.runtime.exec import exec_start

        self.check_started = self.now_text()
        self.output = b""
        read_fd, write_fd = os.pipe()
        try:
            proc = exec_start(self.cdir, self.args, list(self.process.get("env") or []),
                              self.process.get("user") or "", self.process.get("cwd") or "/", None, write_fd,
                              write_fd, running=(self.pid, self.config))
        except (EngineError, OSError) as e:
            os.close(read_fd)
            self._record(-1, f"cannot run the health check: {e}")
            return
        finally:
            os.close(write_fd)
        self.proc = proc
        self.out_fd = read_fd
        self.pidfd = os.pidfd_open(proc.pid)
        self.poller.register(self.out_fd, 1)  # POLLIN
        self.poller.register(self.pidfd, 1)
        self.deadline = time.monotonic() + self.timeout

    def _drain(self) -> None:
        """Output still buffered in the pipe when the check exits (background children may keep the
        pipe open: stop reading then, as Docker does)."""
        if self.out_fd < 0:
            return
        import select

        while select.select([self.out_fd], [], [], 0)[0]:
            data = os.read(self.out_fd, 65536)
            if not data:
                break
            self.output += data[:max(0, MAX_OUTPUT - len(self.output))]

    def _release(self) -> None:
        for fd in (self.out_fd, self.pidfd):
            if fd >= 0:
                self.poller.unregister(fd)
                os.close(fd)
        self.out_fd = self.pidfd = -1
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def _finish(self, code: int, output: str) -> None:
        self._release()
        self._record(code, output)

    def _record(self, code: int, output: str) -> None:
        h = self.health
        h["Log"] = (h["Log"] + [{"Start": self.check_started or self.now_text(), "End": self.now_text(),
                                 "ExitCode": code, "Output": output}])[-KEEP:]
        if code == 0:
            h["Status"] = "healthy"
            h["FailingStreak"] = 0
            self.in_start_period = False
        elif not self.in_start_period:
            h["FailingStreak"] += 1
            if h["FailingStreak"] >= self.retries:
                h["Status"] = "unhealthy"
        self.save()
        self.next_at = time.monotonic() + self._gap()

    def save(self) -> None:
        try:
            write_atomic(health_path(self.cdir), _encode(self.health), durable=False)
        except OSError:
            pass  # a full disk: the monitor carries on, the next check records the status again

    def close(self) -> None:
        """The container process ended: abandon a check in flight; a stopped container is not healthy."""
        self._release()
        self.health["Status"] = "unhealthy"
        self.save()


_IMAGE_FIELDS = (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                 ("start_interval", "StartInterval"))


def effective_healthcheck(service: dict | None, image: dict | None) -> dict | None:
    """The check a container runs: the service's fields over the image's HEALTHCHECK (durations in
    nanoseconds there). None when neither defines one or it is disabled (test NONE)."""
    image = image or {}
    out: dict = {"test": list(image.get("Test") or [])}
    for ours, theirs in _IMAGE_FIELDS:
        if image.get(theirs):
            out[ours] = image[theirs] / 1e9
    if image.get("Retries"):
        out["retries"] = int(image["Retries"])
    for key, value in (service or {}).items():
        if value is not None and value != []:
            out[key] = value
    return out if check_args(out["test"]) is not None else None


def read_health(cdir: str) -> dict | None:
    from engine.store.records import read_json

    return read_json(health_path(cdir), runtime=True)
