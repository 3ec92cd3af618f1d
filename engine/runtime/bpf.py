"""The bpf(2) calls that put a device filter (engine/runtime/devicefilter.py) on a cgroup v2 directory.
Stdlib only (ctypes, already loaded by engine/runtime/syscalls.py in the monitor).

A program is attached with BPF_F_ALLOW_MULTI, as runc does, and never pinned: once attached, the
cgroup holds the only reference, so the program goes when the cgroup is removed; our descriptors are
closed right after the attach.
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct

from engine.runtime.syscalls import _libc

SYS_BPF = 321  # x86_64
PROG_LOAD = 5
PROG_ATTACH = 8
PROG_DETACH = 9
PROG_GET_FD_BY_ID = 13
PROG_QUERY = 16
PROG_TYPE_CGROUP_DEVICE = 15
ATTACH_CGROUP_DEVICE = 6
F_ALLOW_MULTI = 2
LICENSE = b"Apache\0"  # no GPL-only helper is called; the kernel only records it
PROG_NAME = b"composer_dev"


def _bpf(cmd: int, attr: bytes) -> int:
    buf = ctypes.create_string_buffer(attr, len(attr))
    ret = _libc.syscall(SYS_BPF, ctypes.c_int(cmd), buf, ctypes.c_uint(len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(ret)


def _load_once(program: bytes) -> int:
    insns = ctypes.create_string_buffer(program, len(program))
    license = ctypes.create_string_buffer(LICENSE, len(LICENSE))
    # union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns, license, log_level, log_size, log_buf,
    # kern_version, prog_flags, prog_name[16]
    attr = struct.pack("<IIQQIIQII16s", PROG_TYPE_CGROUP_DEVICE, len(program) // 8, ctypes.addressof(insns),
                       ctypes.addressof(license), 0, 0, 0, 0, 0, PROG_NAME)
    fd = _bpf(PROG_LOAD, attr)
    os.set_inheritable(fd, False)
    return fd


def load(program: bytes) -> int:
    """Load a BPF_PROG_TYPE_CGROUP_DEVICE program; its descriptor (close-on-exec)."""
    try:
        return _load_once(program)
    except OSError as e:
        if e.errno != errno.EPERM:
            raise
    # kernels before 5.11 charge programs to RLIMIT_MEMLOCK: lift it for the load only, so that the
    # container (forked later) inherits the limit it had
    import resource

    old = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    try:
        return _load_once(program)
    finally:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, old)


def attach(cgroup_fd: int, prog_fd: int) -> None:
    _bpf(PROG_ATTACH, struct.pack("<IIII", cgroup_fd, prog_fd, ATTACH_CGROUP_DEVICE, F_ALLOW_MULTI))


def detach(cgroup_fd: int, prog_fd: int) -> None:
    _bpf(PROG_DETACH, struct.pack("<IIII", cgroup_fd, prog_fd, ATTACH_CGROUP_DEVICE, 0))


def attached(cgroup_fd: int) -> list[int]:
    """The ids of the device programs attached to this cgroup itself (not those it inherits)."""
    size = 8
    while True:
        ids = (ctypes.c_uint32 * size)()
        # target_fd, attach_type, query_flags, attach_flags (out), prog_ids, prog_cnt (in: room, out: count)
        attr = bytearray(struct.pack("<IIIIQI4x", cgroup_fd, ATTACH_CGROUP_DEVICE, 0, 0, ctypes.addressof(ids),
                                     size))
        buf = ctypes.create_string_buffer(bytes(attr), len(attr))
        ret = _libc.syscall(SYS_BPF, ctypes.c_int(PROG_QUERY), buf, ctypes.c_uint(len(attr)))
        count = struct.unpack_from("<I", buf.raw, 24)[0]
        if ret < 0:
            err = ctypes.get_errno()
            if err == errno.ENOSPC and count > size:
                size = count
                continue
            raise OSError(err, os.strerror(err))
        return list(ids[:count])


def prog_fd(prog_id: int) -> int:
    """A descriptor of a loaded program, by id (ENOENT once the kernel has freed it)."""
    fd = _bpf(PROG_GET_FD_BY_ID, struct.pack("<III", prog_id, 0, 0))
    os.set_inheritable(fd, False)
    return fd


def install(cgroup_dir: str, program: bytes) -> None:
    """Make *program* the only device filter of the cgroup at *cgroup_dir*: attach it, then detach
    what an earlier start of the same container attached (a restart reuses its cgroup)."""
    cg = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = attached(cg)
        fd = load(program)
        try:
            attach(cg, fd)
        finally:
            os.close(fd)
        for prog_id in old:
            try:
                ofd = prog_fd(prog_id)
            except FileNotFoundError:
                continue
            try:
                detach(cg, ofd)
            finally:
                os.close(ofd)
    finally:
        os.close(cg)
