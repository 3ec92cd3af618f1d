"""Running another process inside a running container (`exec`)."""
from __future__ import annotations

import os
import signal

from engine.errors import EngineError
from engine.runtime import syscalls as sc
from engine.runtime.cgroups import Cgroup
from engine.runtime.container_init import InitError, enter_process
from engine.runtime.launch import read_state
from engine.store.records import read_json

NAMESPACES = (("ipc", sc.CLONE_NEWIPC), ("uts", sc.CLONE_NEWUTS), ("net", sc.CLONE_NEWNET),
              ("pid", sc.CLONE_NEWPID), ("mnt", sc.CLONE_NEWNS))


def exec_in(cdir: str, args: list[str], env: list[str], user: str, cwd: str, stdin: int | None,
            stdout: int | None, stderr: int | None) -> int:
    """Run *args* in the container's namespaces and cgroups; returns the exit code (126/127 like Docker)."""
    state = read_state(cdir)
    if state.get("status") != "running" or not state.get("pid"):
        raise EngineError("container is not running")
    cfg = read_json(os.path.join(cdir, "config.json"))
    pid = int(state["pid"])
    try:
        fds = [(os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), kind) for name, kind in NAMESPACES]
    except OSError as e:
        raise EngineError(f"container is not running ({e.strerror})") from None
    cgroup = Cgroup(cfg["cgroup_parent"], cfg["id"])
    child = os.fork()
    if child == 0:
        code = 126
        try:
            for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
                if fd is None:
                    fd = os.open("/dev/null", os.O_RDWR)
                if fd != target:
                    os.dup2(fd, target)
            cgroup.add(os.getpid())
            for fd, kind in fds:
                sc.setns(fd, kind)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            grandchild = os.fork()  # joins the pid namespace
            if grandchild == 0:
                try:
                    enter_process({"args": args, "env": env, "user": user, "cwd": cwd})
                except InitError as e:
                    os.write(2, f"{e}\n".encode())
                    os._exit(e.code)
            _, status = os.waitpid(grandchild, 0)
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code
        except BaseException as e:  # noqa: BLE001 - nothing may escape the forked child
            os.write(2, f"exec failed: {e}\n".encode())
        os._exit(code)
    for fd, _ in fds:
        os.close(fd)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
