"""A default container cannot use the host's disks through a device node (issue 12, device rules on
cgroup v2).

A default container holds CAP_MKNOD, as in Docker, and may make any node (Docker's "b *:* m"), or
find one in an image layer; what stops it from reading the host's disk through that node is the
device allow-list. The v1 devices cgroup enforced it alone, and a cgroup v2 host has no such
controller: there the list is an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) on the container's
cgroup, as runc attaches it. This host is hybrid (v1 controllers, a v2 hierarchy at
/sys/fs/cgroup/unified), so to prove the program itself enforces the list the tests either open the
v1 devices cgroup of the running container from the host, or run the program alone in a v2 cgroup
made for the test.
"""
from __future__ import annotations

import errno
import glob
import io
import json
import os
import stat
import tarfile
import time
import uuid

import pytest

from engine.runtime import bpf, devicefilter
from engine.runtime.cgroups import BASE, is_v2
from engine.runtime.resources import DEFAULT_DEVICE_RULES

DENIED = "Operation not permitted"
UNIFIED = "/sys/fs/cgroup/unified"  # the v2 hierarchy of a hybrid host


def host_disk(scratch) -> tuple[str, int, int]:
    """A block device of the host that the host itself can open through a node made anywhere (a disk
    rather than a loop or zram device where one allows that: a sandboxing host may refuse its own
    disk through nodes outside its /dev, which would prove nothing about the container)."""
    found = []
    for path in sorted(glob.glob("/sys/block/*/dev")):
        name = path.split("/")[3]
        with open(path) as f:
            major, minor = (int(x) for x in f.read().split(":"))
        if os.path.exists(f"/dev/{name}"):
            found.append((name.startswith(("loop", "zram", "ram")), name, major, minor))
    for _, name, major, minor in sorted(found):
        node = os.path.join(str(scratch), f"probe-{name}")
        os.mknod(node, 0o600 | stat.S_IFBLK, os.makedev(major, minor))
        try:
            os.close(os.open(node, os.O_RDONLY))
            return f"/dev/{name}", major, minor
        except OSError:
            continue
        finally:
            os.unlink(node)
    pytest.skip("no block device of this host opens through a node of its own")


def v2_base() -> str | None:
    if is_v2():
        return BASE
    return UNIFIED if os.path.exists(os.path.join(UNIFIED, "cgroup.controllers")) else None


def planted_image(rootfs_tar: str, out: str, major: int, minor: int) -> str:
    """busybox plus a block device node /disk of the host's disk, as an image layer can carry one."""
    with tarfile.open(rootfs_tar) as src, tarfile.open(out, "w") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        node = tarfile.TarInfo("disk")
        node.type, node.mode, node.devmajor, node.devminor = tarfile.BLKTYPE, 0o600, major, minor
        dst.addfile(node)
        script = b"#!/bin/sh\nwhile [ ! -e /tmp/go ]; do sleep 0.1; done\n" \
                 b"dd if=/disk of=/dev/null bs=512 count=1 > /tmp/pid1.out 2>&1; echo \"rc=$?\" >> /tmp/pid1.out\n" \
                 b"exec sleep 300\n"
        info = tarfile.TarInfo("attack.sh")
        info.size, info.mode = len(script), 0o755
        dst.addfile(info, io.BytesIO(script))
    return out


def container_dir(cli, engine_root: str, service: str) -> str:
    rows = [json.loads(line) for line in cli("ps", "--format", "json").stdout.splitlines()]
    (short,) = [r["ID"] for r in rows if r.get("Service") == service]
    (cdir,) = glob.glob(os.path.join(engine_root, "containers", short + "*"))
    return cdir


def prog_ids(cgroup_dir: str) -> list[int]:
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return bpf.attached(fd)
    finally:
        os.close(fd)


def freed(prog_id: int, timeout: float = 10) -> bool:
    """The kernel no longer holds the program (it goes with the last cgroup it is attached to)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.close(bpf.prog_fd(prog_id))
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


STACK = """
services:
  box:
    image: planted
    command: ["/attack.sh"]
    stop_signal: SIGKILL
    devices: ["/dev/zero:/dev/myzero"]
"""


def test_a_default_container_cannot_read_a_host_disk(cli, engine_root, rootfs_tar, tmp_path):
    disk, major, minor = host_disk(tmp_path)
    cli("image", "import", planted_image(rootfs_tar, str(tmp_path / "planted.tar"), major, minor), "planted",
        project=False)
    # the first process of a `run`: makes a node of the host's disk (allowed: "b *:* m") and reads it
    res = cli("container", "run", "--rm", "planted", "sh", "-c",
              f"mknod /tmp/disk b {major} {minor} && echo MKNOD-OK; dd if=/tmp/disk of=/dev/null bs=512 count=1",
              project=False, check=False)
    assert "MKNOD-OK" in res.stdout, res.stderr
    assert res.returncode != 0 and DENIED in res.stderr, f"{disk} read through a node made in the container"

    cli.write("compose.yaml", STACK)
    prog_id = None
    try:
        cli("up", "-d")
        cdir = container_dir(cli, engine_root, "box")

        def sh(script: str):
            return cli("exec", "-T", "box", "sh", "-c", script, check=False)

        for node in ("/disk", "/tmp/disk"):  # planted in the image layer / made by mknod
            res = sh(f"[ -e {node} ] || mknod {node} b {major} {minor}; dd if={node} of=/dev/null bs=512 count=1")
            assert res.returncode != 0 and DENIED in res.stderr, f"{disk} read through {node}: {res.stderr}"
            res = sh(f"echo x > {node}")
            assert res.returncode != 0 and DENIED in res.stderr, f"{disk} opened for writing through {node}"
        # what Docker allows keeps working, and the service's mapped device too
        res = sh("head -c 8 /dev/zero | wc -c; head -c 8 /dev/urandom | wc -c; head -c 8 /dev/myzero | wc -c;"
                 " echo x > /dev/null && echo NULL-OK; exec 3<>/dev/ptmx && echo PTMX-OK;"
                 " echo x > /dev/full; echo FULL-$?")
        assert res.stdout.split() == ["8", "8", "8", "NULL-OK", "PTMX-OK", "FULL-1"], res.stdout + res.stderr
        assert "No space left on device" in res.stderr

        base = v2_base()
        if base is None:
            pytest.skip("no cgroup v2 hierarchy on this host: the v1 devices cgroup is the only enforcement")
        with open(os.path.join(cdir, "config.json")) as f:
            cfg = json.load(f)
        with open(os.path.join(cdir, "state.json")) as f:
            pid = int(json.load(f)["pid"])

        # take the v1 devices controller out of the way (allow everything): the eBPF program alone refuses
        v1_dir = os.path.join(BASE, "devices", cfg["cgroup_parent"], cfg["id"])
        if os.path.isdir(v1_dir):
            with open(os.path.join(v1_dir, "devices.allow"), "w") as f:
                f.write("a")
            with open(os.path.join(v1_dir, "devices.list")) as f:
                assert f.read().split() == ["a", "*:*", "rwm"]
        for node in ("/disk", "/tmp/disk"):
            res = sh(f"dd if={node} of=/dev/null bs=512 count=1")
            assert res.returncode != 0 and DENIED in res.stderr, \
                f"{disk} read through {node} once the v1 devices cgroup allows it: no eBPF filter"
        res = sh("head -c 8 /dev/myzero | wc -c")
        assert res.stdout.split() == ["8"], res.stderr
        # the container's first process (started by the monitor, not by exec) is under the filter too
        sh("touch /tmp/go")
        deadline = time.monotonic() + 30
        while "rc=" not in (out := sh("cat /tmp/pid1.out 2>/dev/null").stdout) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert DENIED in out and "rc=1" in out, f"PID 1 read {disk}: {out}"
        # where that comes from: the container's processes are in a v2 cgroup of their own, one program on it
        v2_dir = os.path.join(base, cfg["cgroup_parent"], cfg["id"])
        with open(f"/proc/{pid}/cgroup") as f:
            assert f"0::/{cfg['cgroup_parent']}/{cfg['id']}\n" in f.read(), "the container is not in its v2 cgroup"
        (prog_id,) = prog_ids(v2_dir)
    finally:
        cli("down", "-t", "0", check=False)
    assert prog_id is None or freed(prog_id), "the device program outlived the container's cgroup"


def test_a_privileged_container_gets_every_device(cli, base_image, tmp_path):
    """As in Docker: `privileged: true` has no device filter (and no v1 device rules)."""
    disk, major, minor = host_disk(tmp_path)
    cli.write("compose.yaml", f"""
services:
  root:
    image: {base_image}
    privileged: true
""")
    try:
        res = cli("run", "--rm", "-T", "root", "sh", "-c",
                  f"mknod /tmp/disk b {major} {minor} && dd if=/tmp/disk of=/dev/null bs=512 count=1",
                  check=False)
        assert res.returncode == 0 and "records in" in res.stderr, \
            f"a privileged container could not read {disk}: {res.stderr}"
    finally:
        cli("down", "-t", "0", check=False)


def _join(cgroup_dir: str):
    def join() -> None:
        with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
            f.write("0")
    return join


def _child_opens(join, paths: list[str], mknod_at: str, major: int, minor: int) -> dict:
    """Fork a child that calls *join* (a v2 cgroup; its v1 devices cgroup stays the test's), makes a
    node of the disk, and opens each path; {path: errno or 0}, plus "mknod"."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            join()
            out = {}
            try:
                os.mknod(mknod_at, 0o600 | stat.S_IFBLK, os.makedev(major, minor))
                out["mknod"] = 0
            except OSError as e:
                out["mknod"] = e.errno
            for path in [*paths, mknod_at]:
                try:
                    os.close(os.open(path, os.O_RDONLY))  # what the device rules decide
                    out[path] = 0
                except OSError as e:
                    out[path] = e.errno
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        text = f.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def v1_allows_all() -> None:
    """The test's own v1 devices cgroup allows everything, or a refusal would prove nothing."""
    with open("/proc/self/cgroup") as f:
        v1_devices = [line.split(":", 2)[2].strip() for line in f if ":devices:" in line]
    if v1_devices:
        with open(os.path.join(BASE, "devices", v1_devices[0].lstrip("/"), "devices.list")) as f:
            assert f.read().split() == ["a", "*:*", "rwm"]


def test_the_ebpf_program_alone_refuses_the_host_disk(tmp_path):
    """The program made for Docker's default rules, in a v2 cgroup of our own, with no v1 devices
    rule in the way: the host's disk cannot be opened, by its /dev node or a node made here, while
    /dev/null, /dev/zero and /dev/urandom can; without the program the same child reads the disk."""
    disk, major, minor = host_disk(tmp_path)
    base = v2_base()
    if base is None:
        pytest.skip("no cgroup v2 hierarchy on this host")
    v1_allows_all()
    cg = os.path.join(base, f"composer-devtest-{uuid.uuid4().hex[:8]}")
    os.mkdir(cg)
    ids: list[int] = []
    try:
        allowed = ["/dev/null", "/dev/zero", "/dev/urandom"]
        plain = _child_opens(_join(cg), [disk, *allowed], str(tmp_path / "n0"), major, minor)
        assert plain == {"mknod": 0, disk: 0, **dict.fromkeys(allowed, 0), str(tmp_path / "n0"): 0}, plain

        program = devicefilter.build(DEFAULT_DEVICE_RULES)
        bpf.install(cg, program)
        bpf.install(cg, program)  # a restart reuses the cgroup: the new program replaces the old one
        ids = prog_ids(cg)
        assert len(ids) == 1, f"programs attached: {ids}"
        filtered = _child_opens(_join(cg), [disk, *allowed], str(tmp_path / "n1"), major, minor)
        assert filtered == {"mknod": 0, disk: errno.EPERM, **dict.fromkeys(allowed, 0),
                            str(tmp_path / "n1"): errno.EPERM}, filtered
    finally:
        for _ in range(100):
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.05)
    assert not os.path.exists(cg)
    assert all(freed(i) for i in ids), "the program outlived its cgroup (nothing may be pinned)"


def test_on_a_v2_only_host_the_container_cgroup_enforces_the_device_rules(tmp_path, monkeypatch):
    """The pure cgroup v2 path of engine/runtime/cgroups.py (no v1 devices controller at all), run on
    this host's real v2 hierarchy by pointing the module at it: configure() attaches the filter, a
    process that joins is refused the disk and /dev/tty0 and allowed /dev/null and the service's mapped device, and
    remove() takes the cgroup and its program away."""
    from engine.runtime import cgroups

    disk, major, minor = host_disk(tmp_path)
    base = v2_base()
    if base is None:
        pytest.skip("no cgroup v2 hierarchy on this host")
    v1_allows_all()
    monkeypatch.setattr(cgroups, "BASE", base)
    assert cgroups.is_v2()
    cg = cgroups.Cgroup(f"composer-devtest-{uuid.uuid4().hex[:8]}", "c1")
    assert cg.dirs == [cg.unified] == [os.path.join(base, cg.parent, "c1")]
    cg.create()
    ids: list[int] = []
    try:
        cg.configure({}, [*DEFAULT_DEVICE_RULES, "c 10:237 r"])  # + devices: ["/dev/loop-control:/x:r"]
        ids = prog_ids(cg.unified)
        assert len(ids) == 1
        got = _child_opens(lambda: cg.add(os.getpid()), [disk, "/dev/null", "/dev/loop-control", "/dev/tty0"],
                           str(tmp_path / "n"), major, minor)
        assert got == {"mknod": 0, disk: errno.EPERM, "/dev/null": 0, "/dev/loop-control": 0,
                       "/dev/tty0": errno.EPERM, str(tmp_path / "n"): errno.EPERM}, got
    finally:
        cg.remove()
    assert not os.path.exists(os.path.join(base, cg.parent))
    assert all(freed(i) for i in ids), "the program outlived its cgroup"
