"""The descriptor and process-hiding helpers every entry into a container uses (engine/runtime/syscalls.py),
each run in a forked child so this process keeps its descriptors."""
from __future__ import annotations

import os

from engine.runtime import syscalls as sc


def in_child(body) -> bytes:
    """Run *body*() in a fork; what it returns (bytes) comes back through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.write(w, body(w))
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def test_close_fds_keeps_only_what_it_is_told():
    def body(w):
        a, b, c = (os.open("/dev/null", os.O_RDONLY) for _ in range(3))
        high = os.dup2(a, 1000, inheritable=True)
        sc.close_fds({w, b})
        return repr([is_open(fd) for fd in (0, 1, 2, w, b, a, c, high)]).encode()

    assert eval(in_child(body)) == [True, True, True, True, True, False, False, False]


def test_cloexec_fds_marks_every_descriptor_from_3():
    def body(w):
        fd = os.dup2(os.open("/dev/null", os.O_RDONLY), 777, inheritable=True)
        sc.cloexec_fds()
        return repr((os.get_inheritable(fd), os.get_inheritable(0))).encode()

    assert eval(in_child(body)) == (False, True)


def test_hide_host_process_wipes_cmdline_and_environ_and_is_not_dumpable():
    with open("/proc/self/environ", "rb") as f:
        assert f.read().strip(b"\0")  # there is something to wipe

    def body(w):
        sc.hide_host_process("composer-exec")
        with open("/proc/self/environ", "rb") as f:
            env = f.read()
        with open("/proc/self/cmdline", "rb") as f:
            cmd = f.read()
        return repr((sc.prctl(3), env.strip(b"\0"), cmd.rstrip(b"\0"))).encode()  # 3: PR_GET_DUMPABLE

    dumpable, env, cmd = eval(in_child(body))
    assert dumpable == 0 and env == b"" and cmd == b"composer-exec"
