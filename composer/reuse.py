"""Stacks kept running between test runs (`Stack(reuse=True)`, `@pytest.mark.stack(..., reuse=True)`).

A reused stack has a project name fixed by its stack files' location, so every run (and every
pytest-xdist worker) finds the same one. Its record, ``<engine root>/run/reuse/<project>.json``, holds
the hash of the configuration it was made from and when it was last used:

- a run whose configuration hashes the same uses the running stack as it is (a warm start);
- a changed configuration (any file, variable or profile that changes the resolved model) takes the
  old stack down, volumes too, and makes a new one;
- a stack unused for longer than its idle time-to-live is taken down by the next reusing run, or at the
  end of a pytest session.

Two locks per stack (flock, released when a process dies): ``setup`` is held while a stack is checked
and brought up, so two workers never build one twice; ``users`` is held shared by every Stack object
using it, and exclusively by whoever removes or recreates it, so nobody takes a stack away from
under a running test.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time

DEFAULT_TTL = 15 * 60  # seconds a reused stack may sit idle before it is removed


def project_name(base: str, files: list[str], root: str) -> str:
    """The fixed project name of a reused stack: its directory's name and a digest of where it lives."""
    digest = hashlib.sha256("\0".join([root, *files]).encode()).hexdigest()[:10]
    return f"{base}-reuse-{digest}"


def config_hash(raw: dict) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _dir(run_dir: str) -> str:
    path = os.path.join(run_dir, "reuse")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _open_lock(run_dir: str, project: str, which: str) -> int:
    return os.open(os.path.join(_dir(run_dir), f"{project}.{which}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                   0o600)


def _record_path(run_dir: str, project: str) -> str:
    return os.path.join(_dir(run_dir), f"{project}.json")


def read_record(run_dir: str, project: str) -> dict | None:
    try:
        with open(_record_path(run_dir, project)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_record(run_dir: str, project: str, rec: dict) -> None:
    path = _record_path(run_dir, project)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


class Lease:
    """One Stack's use of a reused stack: the shared `users` lock, held until release()."""

    def __init__(self, run_dir: str, project: str, fd: int, ttl: float):
        self.run_dir, self.project, self.fd, self.ttl = run_dir, project, fd, ttl

    def release(self) -> None:
        if self.fd < 0:
            return
        rec = read_record(self.run_dir, self.project)
        if rec is not None:
            rec["last_used"] = time.time()
            _write_record(self.run_dir, self.project, rec)
        os.close(self.fd)
        self.fd = -1


def acquire(run_dir: str, project: str, digest: str, ttl: float, bring_up, take_down) -> Lease:
    """Make sure *project* runs as configured (*digest*) and take a lease on it. *bring_up()* brings the
    stack up and waits for it (cheap when it already runs); *take_down()* removes it, volumes too."""
    setup = _open_lock(run_dir, project, "setup")
    users = _open_lock(run_dir, project, "users")
    try:
        fcntl.flock(setup, fcntl.LOCK_EX)
        rec = read_record(run_dir, project)
        if rec is not None and rec.get("hash") != digest:
            fcntl.flock(users, fcntl.LOCK_EX)  # waits for the runs still using the old configuration
            take_down()
            os.unlink(_record_path(run_dir, project))
        fcntl.flock(users, fcntl.LOCK_SH)
        try:
            bring_up()
        except BaseException:
            os.close(users)
            raise
        _write_record(run_dir, project, {"hash": digest, "last_used": time.time(), "ttl": ttl})
        return Lease(run_dir, project, users, ttl)
    except BaseException:
        try:
            os.close(users)
        except OSError:
            pass
        raise
    finally:
        os.close(setup)


def forget(run_dir: str, project: str) -> None:
    """The stack was taken down on purpose: the next reusing run makes it anew."""
    try:
        os.unlink(_record_path(run_dir, project))
    except OSError:
        pass


def sweep(run_dir: str, take_down, now: float | None = None) -> list[str]:
    """Remove the reused stacks idle past their time-to-live and used by nobody; their project names.
    *take_down(project)* removes one."""
    now = time.time() if now is None else now
    try:
        names = [n[:-5] for n in os.listdir(os.path.join(run_dir, "reuse")) if n.endswith(".json")]
    except OSError:
        return []
    removed = []
    for project in names:
        rec = read_record(run_dir, project)
        if rec is None or now - float(rec.get("last_used", 0)) < float(rec.get("ttl", DEFAULT_TTL)):
            continue
        setup = _open_lock(run_dir, project, "setup")
        users = _open_lock(run_dir, project, "users")
        try:
            fcntl.flock(setup, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(setup)
            os.close(users)
            continue  # someone is setting it up or using it
        try:
            rec = read_record(run_dir, project)  # looked at again under the locks
            if rec is not None and now - float(rec.get("last_used", 0)) >= float(rec.get("ttl", DEFAULT_TTL)):
                take_down(project)
                os.unlink(_record_path(run_dir, project))  # the lock files stay: unlinking a lock races
                removed.append(project)
        finally:
            os.close(setup)
            os.close(users)
    return removed
