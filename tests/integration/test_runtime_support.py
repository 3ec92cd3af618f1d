"""Helpers (no tests here) for the runtime tests: a busybox lowerdir, hand-written config.json, and cleanup."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from typing import Iterator

from engine.paths import Paths
from engine.store.records import read_json, write_json

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def make_busybox_rootfs(target: str) -> str:
    """A minimal root filesystem: /bin/busybox, its applets as symlinks, passwd and group."""
    os.makedirs(os.path.join(target, "bin"))
    shutil.copy2("/bin/busybox", os.path.join(target, "bin", "busybox"))
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    for name in applets:
        if name != "busybox":
            os.symlink("busybox", os.path.join(target, "bin", name))
    etc = os.path.join(target, "etc")
    os.makedirs(etc)
    with open(os.path.join(etc, "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n"
                "app:x:1000:1000:app:/home/app:/bin/sh\n"
                "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    with open(os.path.join(etc, "group"), "w") as f:
        f.write("root:x:0:\nwheel:x:10:app\napp:x:1000:\nnogroup:x:65534:\n")
    for d in ("tmp", "root", "home/app"):
        os.makedirs(os.path.join(target, d))
    os.chmod(os.path.join(target, "tmp"), 0o1777)
    with open(os.path.join(target, "bin", "notexec"), "w") as f:
        f.write("#!/bin/sh\necho no\n")
    os.chmod(os.path.join(target, "bin", "notexec"), 0o644)
    return target


class Host:
    """One engine root with a busybox lowerdir; makes containers from hand-written configs."""

    def __init__(self, root: str):
        self.paths = Paths.open(root)
        self.lower = make_busybox_rootfs(os.path.join(root, "lower"))
        self.cdirs: list[str] = []

    def container(self, args: list[str], **overrides) -> str:
        cid = uuid.uuid4().hex[:12]
        cdir = self.paths.container_dir(cid)
        for sub in ("upper", "work", "rootfs"):
            os.makedirs(os.path.join(cdir, sub))
        files = {}
        for name, text in (("hosts", "127.0.0.1\tlocalhost\n"), ("hostname", cid + "\n"),
                           ("resolv.conf", "nameserver 127.0.0.1\n")):
            with open(os.path.join(cdir, name), "w") as f:
                f.write(text)
            files[f"/etc/{name}"] = os.path.join(cdir, name)
        process = {"args": args, "env": [f"PATH={PATH}", "HOSTNAME=" + cid], "cwd": "/", "user": ""}
        process.update(overrides.pop("process", {}))
        config = {
            "id": cid, "name": f"test-{cid}",
            "rootfs": {"lower": [self.lower], "upper": os.path.join(cdir, "upper"),
                       "work": os.path.join(cdir, "work"), "mountpoint": os.path.join(cdir, "rootfs")},
            "process": process, "hostname": cid, "mounts": [], "files": files, "netns": None,
            "dns": [], "ports": [], "cgroup_parent": self.paths.cgroup_parent, "stop_signal": "SIGTERM",
            "restart": "no", "log": os.path.join(cdir, "container.log"), "state": os.path.join(cdir, "state.json"),
        }
        config.update(overrides)
        write_json(os.path.join(cdir, "config.json"), config)
        self.cdirs.append(cdir)
        return cdir

    def cleanup(self) -> None:
        from engine.runtime import launch

        for cdir in self.cdirs:
            try:
                state = read_json(os.path.join(cdir, "state.json"), {}) or {}
                if state.get("status") == "running":
                    launch.stop(cdir, 0)
                launch.clean_after_monitor(cdir)
            except Exception:  # noqa: BLE001 - best effort; the leak check reports what remains
                pass


def log_entries(cdir: str) -> list[dict]:
    from engine.runtime.logs import read_log

    return list(read_log(cdir))


def output(cdir: str, stream: str | None = None) -> str:
    return "".join(e["log"] for e in log_entries(cdir) if stream is None or e["stream"] == stream)


def wait_exit(cdir: str, timeout: float = 10) -> dict:
    """Wait until the monitor has recorded the exit and gone."""
    from engine.runtime import launch

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = launch.read_state(cdir)
        if state.get("status") == "exited" and not launch._monitor_alive(int(state.get("monitor_pid") or 0)):
            return state
        time.sleep(0.02)
    raise AssertionError(f"container {cdir} did not exit: {launch.read_state(cdir)}")


def wait_for(predicate, timeout: float = 10, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def host_fixture() -> Iterator[Host]:
    """Body of the `host` fixture: a fresh root, and after the test nothing of it left on the host."""
    from tests.support.host import leftovers

    root = tempfile.mkdtemp(prefix="composer-test-")
    host = Host(root)
    try:
        yield host
    finally:
        left = leftovers(root)
        host.cleanup()
        still = leftovers(root)
        shutil.rmtree(root, ignore_errors=True)
    assert not left, "left behind after the test:\n" + "\n".join(left)
    assert not still, "could not clean up:\n" + "\n".join(still)
