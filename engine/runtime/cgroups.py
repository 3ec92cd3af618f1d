"""Per-container cgroups, on cgroup v1 controllers or the v2 unified hierarchy. Stdlib only.

A container's cgroup is ``<parent>/<container id>`` where the parent (``composer-<root_id>``) is
per engine root, so two roots never share cgroups.

The device allow-list is the v1 devices controller's, and on cgroup v2 (which has none) an eBPF
program attached to the container's cgroup (engine/runtime/devicefilter.py). A hybrid host (v1
controllers, a v2 hierarchy without controllers at /sys/fs/cgroup/unified) gets both: the container
joins a cgroup in the v2 hierarchy too, and the program is attached there.
"""
from __future__ import annotations

import _signal as signal  # the C module: `signal` would import enum into the monitor
import os
import time

BASE = "/sys/fs/cgroup"
UNIFIED = "/sys/fs/cgroup/unified"  # the v2 hierarchy of a hybrid host
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "cpuset", "freezer", "blkio", "devices")
V2_CONTROLLERS = "+cpu +cpuset +io +memory +pids"


def is_v2() -> bool:
    return os.path.exists(os.path.join(BASE, "cgroup.controllers"))


def hybrid_unified() -> bool:
    """v1 controllers and a writable v2 hierarchy beside them (systemd's "hybrid" layout)."""
    return os.path.exists(os.path.join(UNIFIED, "cgroup.controllers")) and os.access(UNIFIED, os.W_OK)


def controller_dirs() -> list[str]:
    """The hierarchies a container joins: v2's single one, or every v1 controller mounted (and the
    v2 hierarchy of a hybrid host, last: the device filter's place)."""
    if is_v2():
        return [BASE]
    seen: set[str] = set()
    out = []
    for name in V1_CONTROLLERS:
        path = os.path.join(BASE, name)
        real = os.path.realpath(path)
        if os.path.isdir(path) and real not in seen and os.path.exists(os.path.join(path, "cgroup.procs")):
            seen.add(real)
            out.append(path)
    if hybrid_unified():
        out.append(UNIFIED)
    return out


def _copy_if_empty(src_dir: str, dst_dir: str, name: str) -> None:
    dst = os.path.join(dst_dir, name)
    try:
        with open(dst) as f:
            if f.read().strip():
                return
        with open(os.path.join(src_dir, name)) as f:
            value = f.read().strip()
        with open(dst, "w") as f:
            f.write(value)
    except OSError:
        pass


class Cgroup:
    def __init__(self, parent: str, name: str):
        self.parent = parent
        self.name = name
        self.dirs = [os.path.join(base, parent, name) for base in controller_dirs()]
        # the directory of the v2 hierarchy (v2, or hybrid), where the device filter is attached
        self.unified: str | None = (self.dirs[0] if is_v2() else
                                    next((d for d in self.dirs if d.startswith(UNIFIED + "/")), None))

    def controller(self, name: str) -> str | None:
        """The container's directory for a controller (v2: the one directory)."""
        for d in self.dirs:
            base = os.path.dirname(os.path.dirname(d))
            if base == BASE or name in os.path.basename(os.path.realpath(base)).split(","):
                return d
        return None

    def configure(self, resources: dict, device_rules: list[str] | None) -> None:
        """Limits and device rules; raises resources.ResourceError with a one-line reason."""
        from engine.runtime import resources as res

        if is_v2():
            res.apply_v2(self.dirs[0], resources)
        else:
            res.apply_v1({n: d for n in V1_CONTROLLERS if (d := self.controller(n))}, resources, device_rules)
        if device_rules is not None and self.unified:
            self.filter_devices(device_rules)

    def filter_devices(self, device_rules: list[str]) -> None:
        """Attach the allow-list as an eBPF program to the container's v2 cgroup, before any process
        joins it. Where the v1 devices controller enforces the list too (hybrid), a kernel that cannot
        load the program keeps that one; where it is the only enforcement, the container does not start."""
        from engine.runtime import bpf, devicefilter
        from engine.runtime.resources import ResourceError

        try:
            program = devicefilter.build(device_rules)
        except devicefilter.RuleError as e:
            raise ResourceError(str(e)) from None
        try:
            bpf.install(self.unified, program)
        except OSError as e:
            if not is_v2() and self.controller("devices"):
                return
            raise ResourceError(f"cannot enforce the device rules on cgroup v2 (eBPF device filter): "
                                f"{e.strerror or e}") from None

    def freeze(self, frozen: bool) -> None:
        d = self.controller("freezer")
        if d is None:
            raise OSError("no freezer cgroup")
        if is_v2():
            with open(os.path.join(d, "cgroup.freeze"), "w") as f:
                f.write("1" if frozen else "0")
            return
        with open(os.path.join(d, "freezer.state"), "w") as f:
            f.write("FROZEN" if frozen else "THAWED")
        want = "FROZEN" if frozen else "THAWED"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # FREEZING until every task has stopped
            with open(os.path.join(d, "freezer.state")) as f:
                if f.read().strip() == want:
                    return
            time.sleep(0.005)

    def create(self) -> None:
        if is_v2():
            for d in (BASE, os.path.join(BASE, self.parent)):
                os.makedirs(d, exist_ok=True)
                for token in V2_CONTROLLERS.split():
                    try:
                        with open(os.path.join(d, "cgroup.subtree_control"), "w") as f:
                            f.write(token)
                    except OSError:
                        pass  # a controller this host lacks: a limit that needs it will say so
        for d in self.dirs:
            base = os.path.dirname(os.path.dirname(d))
            parent_dir = os.path.dirname(d)
            os.makedirs(d, exist_ok=True)
            if os.path.basename(base) == "cpuset":
                # a v1 cpuset cgroup accepts no task until it has cpus and mems
                _copy_if_empty(base, parent_dir, "cpuset.cpus")
                _copy_if_empty(base, parent_dir, "cpuset.mems")
                _copy_if_empty(parent_dir, d, "cpuset.cpus")
                _copy_if_empty(parent_dir, d, "cpuset.mems")

    def add(self, pid: int) -> None:
        for d in self.dirs:
            try:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except FileNotFoundError:
                if d != self.unified or is_v2():
                    raise
                # hybrid: a container started before its v2 cgroup was made (an older composer)

    def pids(self) -> list[int]:
        for d in self.dirs:
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    return [int(x) for x in f.read().split()]
            except OSError:
                continue
        return []

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has ended in this cgroup so far."""
        for d in self.dirs:
            for name in ("memory.oom_control", "memory.events"):
                try:
                    with open(os.path.join(d, name)) as f:
                        for line in f:
                            k, _, v = line.partition(" ")
                            if k == "oom_kill":
                                return int(v)
                except (OSError, ValueError):
                    continue
        return 0

    def remove(self, timeout: float = 2.0) -> None:
        """Remove the container's cgroups (waiting briefly for exiting tasks), then empty parents."""
        deadline = time.monotonic() + timeout
        for d in self.dirs:
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    self.kill_all()
                    time.sleep(0.01)
            try:
                os.rmdir(os.path.dirname(d))
            except OSError:
                pass  # other containers of this root still use it
