"""The per-container monitor (like conmon). Stdlib only: its memory is paid once per container.

    python3 -S -c "...from engine.runtime.monitor import main..." CONTAINER_DIR --ready-fd N  (config on stdin)

Detached from the CLI, it starts the container's process in new namespaces, reports readiness (or
the start error) on the ready fd, copies the process's output into the JSON-lines log, waits for
the exit, records it, applies the restart policy, and at the end removes what the container had on
the host: its network namespace, its DNS entries and its cgroups.
"""
from __future__ import annotations

import _signal as signal  # the C module: `signal` itself would import enum (memory paid per container)
import marshal
import os
import select
import sys
import time

from engine.runtime import syscalls as sc
from engine.runtime.cgroups import Cgroup
from engine.runtime.initerror import InitError
from engine.runtime.state import PAUSED, STOPPING
from engine.store.records import encode_flat, open_log, write_atomic



def complain(message: str) -> None:
    """A line in the monitor's own log (monitor.log); nothing if that cannot be written either."""
    try:
        os.write(2, f"{now()} monitor: {message}\n".encode())
    except OSError:
        pass


def now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


class Monitor:
    """*cfg* is the container's runtime config (config.json), handed over by the launcher."""

    def __init__(self, cdir: str, cfg: dict):
        self.cdir = cdir
        self.cfg = cfg
        self.state_path = cfg["state"]
        self.state: dict = {"status": "created", "restart_count": int(cfg.get("restart_count") or 0)}
        self.cgroup = Cgroup(cfg["cgroup_parent"], cfg["id"])
        self.log = open_log(cfg["log"])
        self.log_size = os.fstat(self.log.fileno()).st_size
        self.log_max_size = int(cfg.get("log_max_size") or 0)  # 0: unbounded
        self.log_max_file = max(1, int(cfg.get("log_max_file") or 1))
        self.log_failing = False  # the last write of the log failed (a full disk)
        self.health = None  # a HealthChecker while a process with a healthcheck runs
        self.stdin_fd = -1  # stdin_open: the read side of the container's stdin FIFO (`attach` writes)
        self.pid = 0
        self.terminating = False  # SIGTERM received: end the container, no restart

    def event(self, action: str, **attributes: str) -> None:
        """Append to the engine's event journal (engine/events.py), as the CLI does for its actions."""
        from engine import events

        root = os.path.dirname(os.path.dirname(self.cdir))
        events.record(root, "container", action, os.path.basename(self.cdir),
                      attributes)

    def save(self, **changes) -> None:
        """Record the state; a failed write (a full disk) is reported and the next save catches up."""
        self.state.update(changes)
        try:
            write_atomic(self.state_path, encode_flat(self.state), durable=False)
        except OSError as e:
            complain(f"cannot record the state: {e.strerror or e}")

    # -- starting ------------------------------------------------------------------------
    def spawn(self) -> tuple[int, int, int]:
        """Fork the container process. Returns (pid, stdout fd, stderr fd); raises InitError.

        An intermediate child makes the pid namespace and forks its PID 1, then exits; the monitor,
        a child subreaper, inherits that process. (A process that unshares CLONE_NEWPID itself can no
        longer start threads, and the monitor needs threads for the port proxy.)
        """
        tty = bool(self.cfg.get("tty")) and not self.cfg.get("stdio")
        if tty:  # the child opens the pty in the container's devpts and sends us its master (read as stdout)
            from engine.runtime import console

            out_r, out_w = console.socket_pair()
        else:
            out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        sync_r, sync_w = os.pipe()
        fail_r, fail_w = os.pipe2(os.O_CLOEXEC)
        pid_r, pid_w = os.pipe()
        me = os.pidfd_open(os.getpid())  # readable once the monitor is gone (a child's check)
        middle = os.fork()
        if middle == 0:
            code = 1
            try:
                os.close(pid_r)
                self._pid_namespace()
                pid = os.fork()
                if pid == 0:
                    os.close(pid_w)
                    code = self._child(out_r, out_w, err_r, err_w, sync_r, sync_w, fail_r, fail_w, me)
                else:
                    os.write(pid_w, str(pid).encode())
                    code = 0
            except BaseException as e:  # noqa: BLE001 - nothing may escape a forked child
                os.write(fail_w, f"1 cannot create the pid namespace: {e}".encode())
            os._exit(code)
        for fd in (out_w, err_w, sync_r, fail_w, pid_w, me):
            os.close(fd)
        stdio = self.cfg.pop("stdio", None)
        for fd in set(stdio["fds"]) if stdio else ():  # only the first process gets them; restarts log
            os.close(fd)
        os.waitpid(middle, 0)
        with os.fdopen(pid_r, "rb") as f:
            text = f.read()
        pid = int(text) if text.strip().isdigit() else 0
        joined = False
        try:
            if pid:
                self.cgroup.add(pid)
                joined = True
        except OSError as e:
            cgroup_error = f"cannot put the container in its cgroup: {e.strerror or e}"
        finally:
            if joined:
                os.write(sync_w, b"x")  # go on; closing the pipe unsent makes the child give up
            os.close(sync_w)
        if pid and not joined:
            os.waitpid(pid, 0)
            os.close(out_r)
            os.close(err_r)
            os.close(fail_r)
            raise InitError(cgroup_error, 125)
        failure = b""
        while True:
            chunk = os.read(fail_r, 4096)
            if not chunk:
                break
            failure += chunk
        os.close(fail_r)
        if failure or not pid:
            if pid:
                os.waitpid(pid, 0)
            os.close(out_r)
            os.close(err_r)
            code, _, message = failure.decode(errors="replace").partition(" ")
            raise InitError(message or "the container process could not be started", int(code) if code.isdigit() else 1)
        if tty:
            try:
                master = console.receive_master(out_r)
            except console.ConsoleError as e:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(err_r)
                raise InitError(str(e), 125) from None
            finally:
                os.close(out_r)
            out_r = master
        return pid, out_r, err_r

    def _pid_namespace(self) -> None:
        """In the intermediate child: a new pid namespace, the host's, or another container's."""
        mode = self.cfg.get("pid") or "private"
        if mode.startswith("join:"):
            fd = os.open(f"/proc/{mode[5:]}/ns/pid", os.O_RDONLY)
            try:
                sc.setns(fd, sc.CLONE_NEWPID)
            finally:
                os.close(fd)
        elif mode != "host":
            sc.unshare(sc.CLONE_NEWPID)

    def _child(self, out_r, out_w, err_r, err_w, sync_r, sync_w, fail_r, fail_w, monitor_fd) -> int:
        """PID 1 of the container, up to exec. Returns an exit code only on failure."""
        code = 1
        try:
            sc.hide_host_process("composer-init")  # a process sharing the pid namespace sees nothing of ours
            for fd in (out_r, err_r, sync_w, fail_r):
                os.close(fd)
            stdio = self.cfg.get("stdio")
            console_sock = -1  # a tty: where the master of the pty opened in the container goes
            if stdio and stdio.get("console"):  # a foreground `run -t`: the caller gets the master
                console_sock = stdio["fds"][0]
            elif stdio:  # the caller's own descriptors (a foreground `run`): no log
                for target, fd in enumerate(stdio["fds"]):
                    os.dup2(fd, target)
                for fd in set(stdio["fds"]) - {0, 1, 2}:
                    os.close(fd)
            elif self.cfg.get("tty"):  # the pty's slave for all three, as Docker's -t (its master: ours)
                console_sock = out_w
            else:
                stdin = self.stdin_fd if self.stdin_fd >= 0 else os.open("/dev/null", os.O_RDONLY)
                os.dup2(stdin, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
            keep = {sync_r, fail_w, monitor_fd} | ({console_sock} if console_sock >= 0 else set())
            sc.close_fds(keep)  # the monitor's sockets, pipes, log: not ours (the console socket goes below)
            if os.read(sync_r, 1) != b"x":  # wait until the monitor has put us in our cgroups
                return 125
            os.close(sync_r)
            # the monitor is our parent now (the middle child has exited): its death is ours, even by
            # SIGKILL; if it died before this was armed, give up now
            sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
            if select.select([monitor_fd], [], [], 0)[0]:
                return 125
            os.close(monitor_fd)
            from engine.runtime.container_init import enter_process, setup_root

            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            if console_sock >= 0:
                from engine.runtime import console  # before pivot_root: the host's modules are out of reach after
            setup_root(self.cfg)
            if console_sock >= 0:  # inside the new root: the pty is one of the container's /dev/pts
                master, slave = console.open_pty(tuple(stdio.get("size") or ()) if stdio else None)
                console.send_master(console_sock, master)
                os.close(master)
                os.close(console_sock)
                console.become_terminal(slave)  # its controlling terminal: ^C works
            process = {**self.cfg["process"], "terminal": True} if console_sock >= 0 else self.cfg["process"]
            enter_process(process, init=bool(self.cfg.get("init")), pdeathsig=signal.SIGKILL)
        except InitError as e:
            code = e.code
            os.write(fail_w, f"{code} {e}".encode())
        except OSError as e:
            os.write(fail_w, f"1 {e.strerror or e}".encode())
        except BaseException as e:  # noqa: BLE001 - nothing may escape the child
            os.write(fail_w, f"1 {type(e).__name__}: {e}".encode())
        return code

    # -- running -------------------------------------------------------------------------
    def pump(self, out_r: int, err_r: int) -> None:
        """Copy output into the log until the process closes both pipes, running healthchecks meanwhile."""
        poller = select.poll()
        names = {out_r: "stdout", err_r: "stderr"}
        partial = {out_r: b"", err_r: b""}
        for fd in names:
            poller.register(fd, select.POLLIN)
        health = self.health
        if health:
            health.poller = poller
        terminal = out_r if os.isatty(out_r) else -1
        relay = self.stdin_fd if terminal >= 0 and self.stdin_fd >= 0 else -1
        if relay >= 0:  # a tty's input goes in through its master
            poller.register(relay, select.POLLIN)
        # the process's exit, seen on a pidfd: healthchecks go on while it runs, even once it has
        # closed (or replaced) both its outputs; and what it leaves running (in a pid namespace that
        # is not its own, holding its outputs) ends with it, as in Docker
        proc_fd = -1
        if self.pid:
            try:
                proc_fd = os.pidfd_open(self.pid)
                poller.register(proc_fd, select.POLLIN)
            except OSError:
                pass  # a kernel before 5.3: the end of both outputs ends the pump
        try:
            while names or proc_fd >= 0:
                for fd, _ in poller.poll(health.timeout_ms() if health else -1):
                    if fd == relay:
                        try:
                            os.write(out_r, os.read(relay, 65536))
                        except OSError:
                            pass
                        continue
                    if fd == proc_fd:
                        poller.unregister(fd)
                        os.close(fd)
                        proc_fd = -1
                        if (self.cfg.get("pid") or "private") != "private":
                            self.cgroup.kill_all()
                        continue
                    if fd not in names:  # a healthcheck's (its numbers may be those of closed outputs)
                        if health and health.owns(fd):
                            health.on_event(fd)
                        continue
                    try:
                        data = os.read(fd, 65536)
                    except OSError:  # EIO: every holder of the tty's slave side closed it
                        data = b""
                    if not data:
                        poller.unregister(fd)
                        if fd == terminal and relay >= 0:
                            poller.unregister(relay)
                            relay = -1
                        os.close(fd)
                        if partial[fd]:
                            self.write_log(names[fd], partial[fd])
                        del names[fd], partial[fd]  # its number is free for a healthcheck's pipe
                        continue
                    if fd == terminal:  # a terminal's output goes to the log as it comes (prompts too)
                        self.write_log("stdout", data)
                        continue
                    buf = partial[fd] + data
                    *lines, partial[fd] = buf.split(b"\n")
                    for line in lines:
                        self.write_log(names[fd], line + b"\n")
                    if len(partial[fd]) >= 16384:
                        self.write_log(names[fd], partial[fd])
                        partial[fd] = b""
                if health:
                    health.tick()
        finally:
            if proc_fd >= 0:
                os.close(proc_fd)
            if health:
                health.close()
            self.health = None

    def open_stdin(self) -> None:
        """The container's stdin: a FIFO in its directory that `attach` writes into. Held open for
        reading and writing, so the process never sees an end of input when a writer leaves."""
        path = os.path.join(self.cdir, "stdin")
        try:
            os.mkfifo(path, 0o600)
        except FileExistsError:
            pass
        self.stdin_fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)

    def start_health(self):
        """The healthchecker of the process just started, if the container has a healthcheck."""
        check = self.cfg.get("healthcheck")
        if not check:
            return None
        from engine.runtime.health import HealthChecker, check_args

        if check_args(check.get("test") or []) is None:
            return None
        return HealthChecker(self.cdir, self.cfg, self.pid, now)

    def write_log(self, stream: str, data: bytes) -> None:
        entry = {"log": data.decode(errors="replace"), "stream": stream, "time": now()}
        line = encode_flat(entry) + b"\n"
        try:
            if self.log.closed:  # a rotation that failed half-way: try again with a fresh file
                self.log = open_log(self.cfg["log"])
                self.log_size = os.fstat(self.log.fileno()).st_size
            if self.log_max_size and self.log_size and self.log_size + len(line) > self.log_max_size:
                self.rotate_log()
            if self.log.write(line) != len(line):
                raise OSError(28, "No space left on device")
        except (OSError, ValueError) as e:  # a full disk loses the line, not the container
            if not self.log_failing:  # once per spell of failures: monitor.log is on the same disk
                complain(f"cannot write the log: {getattr(e, 'strerror', None) or e}; lines are lost")
            self.log_failing = True
            try:
                self.log.truncate(self.log_size)  # no torn line for the readers
            except (OSError, ValueError):
                pass
            return
        self.log_size += len(line)
        self.log_failing = False

    def rotate_log(self) -> None:
        """Like Docker's json-file driver: container.log -> .1 -> .2 ..., keeping max-file files in all."""
        path = self.cfg["log"]
        self.log.close()
        if self.log_max_file > 1:
            for i in range(self.log_max_file - 1, 1, -1):
                if os.path.exists(f"{path}.{i - 1}"):
                    os.replace(f"{path}.{i - 1}", f"{path}.{i}")
            os.replace(path, f"{path}.1")
        else:
            os.unlink(path)  # a new inode: a follower finishes the old file, then opens the new one
        self.log = open_log(path)
        self.log_size = 0

    def wait(self, pid: int) -> int:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except ChildProcessError:
                return 255
            except InterruptedError:
                continue
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)
        return os.WEXITSTATUS(status)

    def should_restart(self, code: int, count: int) -> bool:
        """Docker's restart policies: no, always, unless-stopped, on-failure[:N] (N restarts at most);
        deploy.restart_policy's max_attempts bounds any policy. A stop by the user always wins."""
        if self.terminating or os.path.exists(os.path.join(self.cdir, STOPPING)):
            return False
        policy, _, limit = (self.cfg.get("restart") or "no").partition(":")
        attempts = self.cfg.get("restart_max_attempts")
        if attempts is not None and count >= int(attempts):
            return False
        if policy in ("always", "unless-stopped"):
            return True
        if policy == "on-failure" and code != 0:
            return not limit or count < int(limit)
        return False

    # -- the whole life ------------------------------------------------------------------
    def run(self, ready_fd: int) -> int:
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        if self.cfg.get("stdin_open") and not self.cfg.get("stdio"):
            self.open_stdin()
        restarts = int(self.state.get("restart_count") or 0)
        delay = 0.1
        proxy_started = False
        code = 0
        try:
            while True:
                try:
                    self.make_cgroup()
                    ooms = self.cgroup.oom_kills()
                    pid, out_r, err_r = self.spawn()
                except InitError as e:
                    self.save(status="exited", pid=0, exit_code=e.code, error=str(e), finished_at=now())
                    self.write_log("stderr", (str(e) + "\n").encode())
                    if ready_fd >= 0:
                        os.write(ready_fd, f"err {e.code} {e}\n".encode())
                    return e.code
                self.pid = pid
                if self.terminating:  # SIGTERM arrived while the process was being started
                    os.kill(pid, signal.SIGKILL)
                started = time.monotonic()
                self.health = self.start_health()  # "starting" from the moment the process runs
                self.save(status="running", pid=pid, monitor_pid=os.getpid(), started_at=now(), error="",
                          exit_code=0, finished_at="", restart_count=restarts, oom_killed=False)
                if ready_fd >= 0:
                    os.write(ready_fd, f"ok {pid}\n".encode())
                    os.close(ready_fd)
                    ready_fd = -1
                if not proxy_started and self.cfg.get("ports"):
                    self.start_proxy()
                    proxy_started = True
                self.pump(out_r, err_r)
                code = self.wait(pid)
                self.pid = 0
                oom = self.cgroup.oom_kills() > ooms
                again = self.should_restart(code, restarts)
                self.save(status="restarting" if again else "exited", pid=0, exit_code=code, finished_at=now(),
                          oom_killed=oom)
                if oom:
                    self.event("oom")
                self.event("die", exitCode=str(code))
                if not again:
                    return code
                if time.monotonic() - started >= 10:
                    delay = 0.1  # it ran a while: the back-off starts over, as in Docker
                fixed = self.cfg.get("restart_delay")
                if self.stopped_during(delay if fixed is None else float(fixed)):
                    self.save(status="exited")
                    return code
                delay = min(delay * 2, 60)
                restarts += 1
        finally:
            self.cleanup()

    def make_cgroup(self) -> None:
        """The container's cgroups with their limits and device rules (InitError when refused)."""
        self.cgroup.create()
        if self.cfg.get("ipc") == "shareable":
            self.mount_shared_shm()
        if self.cfg.get("resources") or self.cfg.get("device_rules") is not None:
            from engine.runtime.resources import ResourceError

            try:
                self.cgroup.configure(self.cfg.get("resources") or {}, self.cfg.get("device_rules"))
            except ResourceError as e:
                raise InitError(str(e), 125) from None

    def mount_shared_shm(self) -> None:
        """A shareable container's /dev/shm is a tmpfs on the host, so that others can bind it too."""
        path = self.cfg["shm_path"]
        if os.path.ismount(path):
            return
        os.makedirs(path, exist_ok=True)
        size = int(self.cfg.get("shm_size") or 64 * 1024 * 1024)
        try:
            sc.mount("shm", path, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, f"mode=1777,size={size}")
        except OSError as e:
            raise InitError(f"cannot make the shareable /dev/shm: {e.strerror}", 125) from None

    def stopped_during(self, delay: float) -> bool:
        """Sleep out a restart back-off, returning early (True) as soon as the user stops the container."""
        flag = os.path.join(self.cdir, STOPPING)
        deadline = time.monotonic() + delay
        while True:
            if os.path.exists(flag):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, 0.05))

    def start_proxy(self) -> None:
        import socket

        from engine.network.ports import serve

        listeners = []
        for p in self.cfg["ports"]:
            sock = socket.socket(fileno=p["fd"])  # its family and type (TCP or UDP) come from the descriptor
            listeners.append((sock, p["target_ip"], int(p["target_port"]), p["proto"]))
        serve(listeners)

    def cleanup(self) -> None:
        """Remove what the container held on the host. Each step is independent of the others."""
        run_dir = os.path.join(os.path.dirname(os.path.dirname(self.cdir)), "run")
        netns = self.cfg.get("netns")
        for entry in self.cfg.get("dns") or []:
            try:
                from engine.network.registry import unregister

                unregister(entry["records"], self.cfg["id"])
            except OSError:
                pass
        # only its own: a container in another's namespace (network_mode container:) leaves that one alone
        if netns and os.path.abspath(netns) == os.path.join(run_dir, "netns", self.cfg["id"]):
            try:
                from engine.network.netns import destroy_netns

                destroy_netns(netns)
            except OSError:
                pass
        try:
            os.unlink(os.path.join(self.cdir, PAUSED))
        except FileNotFoundError:
            pass
        shm = self.cfg.get("shm_path")
        if self.cfg.get("ipc") == "shareable" and shm:
            try:
                sc.umount(shm, sc.MNT_DETACH)
            except OSError:
                pass  # not mounted
            try:
                os.rmdir(shm)
            except OSError:
                pass
        self.cgroup.remove()

    def terminate(self, signum, frame) -> None:
        """The monitor itself is being stopped: take the container down with it."""
        self.terminating = True
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            open(os.path.join(self.cdir, STOPPING), "a").close()
        except OSError:
            pass


def main(argv: list[str], config: dict | None = None) -> int:
    """Run the monitor of the container dir argv[0]; its config is *config* (forked by
    engine/runtime/forkserver.py) or comes marshalled on stdin (started directly by the launcher)."""
    cdir = argv[0]
    ready_fd = int(argv[argv.index("--ready-fd") + 1]) if "--ready-fd" in argv else -1
    if config is None:
        chunks = []
        while chunk := os.read(0, 65536):  # marshalled by the launcher (no json to import)
            chunks.append(chunk)
        config = marshal.loads(b"".join(chunks))
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    monitor = Monitor(cdir, config)
    signal.signal(signal.SIGTERM, monitor.terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    code = monitor.run(ready_fd)
    return 0 if code >= 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
