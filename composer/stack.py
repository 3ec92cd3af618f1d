"""The Python API: drive a stack from code (tests, scripts) without going through the command line.

    from composer import Stack

    with Stack("compose.yaml") as s:          # up on entry: created, started, running/healthy
        host, port = s.port("web", 80)        # (a unique project name unless one is given)
        s.wait_for_log("db", r"ready to accept connections")
        s.wait_for_http("web", 80, "/health", status=200)
        result = s.exec("db", ["psql", "-c", "select 1"])
        assert result.exit_code == 0, result.stderr
        out, err = s.logs("web", stream="stdout"), s.logs("web", stream="stderr")
                                              # on exit: down, volumes included, even after an error

    Stack("compose.yaml", reuse=True) keeps the stack running after exit, for the next run
    (composer/reuse.py): the same configuration starts warm, a changed one is made anew.
"""
from __future__ import annotations

import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from composer import labels
from composer import reuse as reusing
from composer.converge.plan import UpOptions, targets
from composer.converge.reconciler import Reconciler
from composer.errors import ComposerError
from composer.load.loader import LoadOptions, load
from composer.model import Project
from engine.api import Engine


@dataclass
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class ContainerState:
    name: str
    service: str
    number: int
    state: str  # created | running | paused | restarting | exited
    health: str  # "" when there is no healthcheck
    exit_code: int
    ports: list[tuple[str, int, int, str]] = field(default_factory=list)  # (host ip, host port, port, protocol)


@dataclass
class Snapshot:
    """Saved contents of the stack's named volumes: {volume name: snapshot id}."""

    volumes: dict[str, str]


class Stack:
    """One stack file (or several, merged) as a project on the engine.

    *project*: the project name (default: a unique one, so parallel runs never collide);
    *env*: variables for interpolation on top of the process environment; *profiles*: profiles to
    enable; *root*: the engine root (default: $COMPOSER_ROOT or /var/lib/composer)."""

    def __init__(self, files: str | Sequence[str] = "compose.yaml", project: str | None = None,
                 env: Mapping[str, str] | None = None, profiles: Sequence[str] = (), root: str | None = None,
                 project_dir: str | None = None, reuse: bool = False, reuse_ttl: float | None = None):
        files = [files] if isinstance(files, str) else list(files)
        self.files = [os.path.abspath(f) for f in files]
        for f in self.files:
            if not os.path.isfile(f):
                raise ComposerError(f"stack file not found: {f}")
        environ = {**os.environ, **(env or {})}
        self.engine = Engine(root)
        self.reuse = reuse
        self.reuse_ttl = reuse_ttl
        self._lease = None
        base = _base_name(self.files[0], project_dir)
        if project:
            name = project
        elif reuse:
            name = reusing.project_name(base, self.files, self.engine.paths.root)
        else:
            name = f"{base}-{uuid.uuid4().hex[:8]}"
        self.project = load(LoadOptions(files=self.files, project_name=name, project_dir=project_dir,
                                        environ=environ, profiles=list(profiles)),
                            cwd=os.path.dirname(self.files[0]))

    @property
    def name(self) -> str:
        return self.project.name

    def _reconciler(self):
        return Reconciler(self.engine, self.project)

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> "Stack":
        """Up and ready (as up() with its defaults); a stack that fails to come up is removed again."""
        try:
            self.up()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.reuse:
            self.release()
        else:
            self.down(volumes=True)

    def up(self, wait: bool = True, services: Sequence[str] | None = None, build: bool = False,
           timeout: float | None = 120) -> None:
        """Create and start the services (all, or *services* and their dependencies); with *wait*,
        return once every one runs (and is healthy, where it has a healthcheck), and raise
        ComposerError (`container X exited (N)`) if one exits instead, as `up --wait` fails (a
        one-shot that others wait for with service_completed_successfully may exit 0). A reused
        stack that already runs as configured is only checked."""
        if self.reuse and self._lease is None:
            run = self.engine.paths.run
            reusing.sweep(run, self._down_project)
            self._lease = reusing.acquire(run, self.name, reusing.config_hash(self.project.raw),
                                          self.reuse_ttl or reusing.DEFAULT_TTL,
                                          lambda: self._up(wait, services, build, timeout),
                                          lambda: self._down_project(self.name))
            return
        self._up(wait, services, build, timeout)

    def _up(self, wait: bool, services: Sequence[str] | None, build: bool, timeout: float | None) -> None:
        rec = self._reconciler()
        chosen = list(services or [])
        with rec.lock():
            rec.prepare_images(targets(self.project, chosen, False), None, build)
            rec.up(UpOptions(services=chosen))
            if wait:
                rec.wait_ready(targets(self.project, chosen, False), timeout)

    def down(self, volumes: bool = True) -> None:
        """Stop and remove the containers and networks (and, with *volumes*, the named volumes).
        For a reused stack this removes it for good (the next run makes it anew)."""
        rec = self._reconciler()
        with rec.lock():
            rec.down(volumes=volumes, remove_orphans=True, timeout=0 if volumes else None)
        if self.reuse:
            self.release()
            reusing.forget(self.engine.paths.run, self.name)

    def release(self) -> None:
        """A reused stack: let go of it, leaving it running for the next run (until its idle TTL)."""
        if self._lease is not None:
            self._lease.release()
            self._lease = None

    def _down_project(self, name: str) -> None:
        down_project(self.engine, name)

    def stop(self, service: str | None = None) -> None:
        rec = self._reconciler()
        with rec.lock():
            rec.stop(self._services(service))

    def start(self, service: str | None = None) -> None:
        rec = self._reconciler()
        with rec.lock():
            rec.start(self._services(service))

    def restart(self, service: str | None = None) -> None:
        rec = self._reconciler()
        with rec.lock():
            rec.stop(self._services(service))
            rec.start(self._services(service))

    def _services(self, service: str | None) -> list[str] | None:
        if service is None:
            return None
        self.project.service(service)
        return [service]

    # -- looking at it ---------------------------------------------------------------
    def ps(self) -> list[ContainerState]:
        out = []
        for c in self._reconciler().containers():
            out.append(ContainerState(
                c.name, c.labels.get(labels.LABEL_SERVICE, ""), int(c.labels.get(labels.LABEL_NUMBER, "1")),
                c.status, getattr(c, "health", "") or "", c.exit_code,
                [(p.host_ip, p.host_port, p.container_port, p.protocol) for p in c.ports]))
        return sorted(out, key=lambda s: (s.service, s.number))

    def _container(self, service: str, index: int = 1):
        self.project.service(service)
        for c in self._reconciler().containers(service):
            if c.labels.get(labels.LABEL_NUMBER) == str(index):
                return c
        raise ComposerError(f"service {service} has no container #{index}: is the stack up?")

    def port(self, service: str, container_port: int, protocol: str = "tcp", index: int = 1) -> tuple[str, int]:
        """Where on the host *container_port* of the service is published: (host, port)."""
        for p in self._container(service, index).ports:
            if p.container_port == container_port and p.protocol == protocol:
                host = "127.0.0.1" if p.host_ip in ("", "0.0.0.0") else ("::1" if p.host_ip == "::" else p.host_ip)
                return host, p.host_port
        raise ComposerError(f"service {service}: port {container_port}/{protocol} is not published")

    def exec(self, service: str, cmd: str | Sequence[str], index: int = 1, env: Mapping[str, str] | None = None,
             user: str | None = None, workdir: str | None = None) -> ExecResult:
        """Run *cmd* (a list, or a string for `sh -c`) in a running container of the service."""
        args = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        target = self._container(service, index)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, open(os.devnull, "rb") as nul:
            code = self.engine.exec_container(target.id, args, env=dict(env or {}), user=user, workdir=workdir,
                                              stdin=nul.fileno(), stdout=out.fileno(), stderr=err.fileno())
            out.seek(0)
            err.seek(0)
            return ExecResult(code, out.read().decode(errors="replace"), err.read().decode(errors="replace"))

    def logs(self, service: str | None = None, stream: str | None = None) -> str:
        """The output so far: of one service, or of all (each line prefixed with its container);
        *stream* "stdout" or "stderr" keeps that stream alone (default: both, in order)."""
        if stream not in (None, "stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout', 'stderr' or None, not {stream!r}")
        if service is not None:
            self.project.service(service)
        containers = self._reconciler().containers(service)
        lines = []
        for c in sorted(containers, key=lambda c: c.name):
            prefix = "" if service else f"{c.name} | "
            for entry in self.engine.logs(c.id):
                if stream is not None and entry.get("stream", "stdout") != stream:
                    continue
                text = entry["log"]
                lines.append(prefix + (text if text.endswith("\n") else text + "\n"))
        return "".join(lines)

    def wait_for_log(self, service: str, pattern: str, timeout: float = 30, stream: str | None = None) -> str:
        """Until a line of the service's output matches the regular expression *pattern*; that line.
        ComposerError after *timeout* seconds, or as soon as the service has no running container left."""
        import re

        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.logs(service, stream)
            for line in text.splitlines():
                if regex.search(line):
                    return line
            states = [c.state for c in self.ps() if c.service == service]
            if states and all(s == "exited" for s in states):
                raise ComposerError(f"service {service} exited before its output matched {pattern!r}; "
                                    f"last lines: {' / '.join(text.splitlines()[-3:]) or '(none)'}")
            if time.monotonic() >= deadline:
                raise ComposerError(f"service {service}: no output matched {pattern!r} within {timeout:g} s; "
                                    f"last lines: {' / '.join(text.splitlines()[-3:]) or '(none)'}")
            time.sleep(0.1)

    def wait_for_http(self, service: str, port: int, path: str = "/", status: int = 200, timeout: float = 30,
                      index: int = 1) -> bytes:
        """Until GET *path* on the service's *port* answers *status*; the response body. The port is
        reached where it is published on the host, else at the container's address on its network."""
        import http.client

        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            host, hport = self._http_address(service, port, index)
            conn = http.client.HTTPConnection(host, hport, timeout=max(0.5, min(5.0, deadline - time.monotonic())))
            try:
                conn.request("GET", path if path.startswith("/") else "/" + path)
                res = conn.getresponse()
                body = res.read()
                if res.status == status:
                    return body
                last = f"status {res.status}"
            except (OSError, http.client.HTTPException) as e:
                last = str(e) or type(e).__name__
            finally:
                conn.close()
            if time.monotonic() >= deadline:
                raise ComposerError(f"service {service}: http://{host}:{hport}{path} did not answer {status} "
                                    f"within {timeout:g} s (last: {last})")
            time.sleep(0.1)

    def _http_address(self, service: str, port: int, index: int) -> tuple[str, int]:
        try:
            return self.port(service, port, "tcp", index)
        except ComposerError:
            c = self._container(service, index)
            for address in c.networks.values():
                if address:
                    return address, port
            raise

    # -- volume snapshots ----------------------------------------------------------------
    def _volume_users(self) -> dict[str, list]:
        users: dict[str, list] = {}
        for c in self._reconciler().containers():
            for m in c.spec.mounts:
                if m.type == "volume":
                    users.setdefault(m.source, []).append(c)
        return users

    def _volumes(self) -> list[str]:
        names = {v.name for v in self.engine.list_volumes()}
        return [v.name for v in self.project.volumes.values() if v.name in names]

    def snapshot(self) -> Snapshot:
        """Save the contents of the stack's named volumes. Containers using them are paused while
        their volumes are copied, so the copy is consistent on disk."""
        users = self._volume_users()
        saved = {}
        for name in self._volumes():
            running = [c for c in users.get(name, []) if c.status == "running"]
            for c in running:
                self.engine.pause_container(c.id, True)
            try:
                saved[name] = self.engine.snapshot_volume(name)
            finally:
                for c in running:
                    self.engine.pause_container(c.id, False)
        return Snapshot(saved)

    def restore(self, snapshot: Snapshot) -> None:
        """Put the volumes back as they were at *snapshot*: the services using them are stopped,
        the contents replaced, and the services started again."""
        users = self._volume_users()
        services = sorted({c.labels.get(labels.LABEL_SERVICE, "") for name in snapshot.volumes
                           for c in users.get(name, []) if c.status == "running"})
        rec = self._reconciler()
        with rec.lock():
            if services:
                rec.stop(services)
            try:
                for name, sid in snapshot.volumes.items():
                    self.engine.restore_volume(name, sid)
            finally:  # a snapshot that is gone (dropped) fails the restore, not the services
                if services:
                    rec.start(services)
                    rec.wait_ready(services, 120)

    def drop(self, snapshot: Snapshot) -> None:
        """Free the copies *snapshot* keeps (otherwise they last as long as their volumes: a reused
        stack would pile them up run after run). Restoring it afterwards is an error."""
        from engine.api import NotFound

        for name, sid in snapshot.volumes.items():
            try:
                self.engine.remove_volume_snapshot(name, sid)
            except NotFound:
                pass  # the volume is gone, and its snapshots with it


def _base_name(first_file: str, project_dir: str | None) -> str:
    import re

    base = os.path.basename(os.path.abspath(project_dir or os.path.dirname(first_file))).lower()
    return re.sub(r"[^a-z0-9_-]", "", base) or "stack"


def down_project(engine, name: str) -> None:
    """Take down project *name* from what the engine has (no stack file needed), volumes too."""
    rec = Reconciler(engine, Project(name, os.getcwd(), [], {}, {}, {}, {}))
    with rec.lock():
        rec.down(volumes=True, remove_orphans=True, timeout=0)
