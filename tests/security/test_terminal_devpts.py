"""`exec -it` opens the pseudo-terminal inside the container (its own devpts), so a hostile container
controls what sits at /dev/pts/ptmx. Whatever it puts there (a FIFO, a symlink, another device), the
exec gets no terminal and says so in one line; nothing but a pty of the container's own devpts is
ever handed to the process or to our terminal relay."""
from __future__ import annotations

import os
import pty
import shutil
import termios

import pytest

from tests.integration.test_lifecycle_tty import Terminal

STACK = """
services:
  evil:
    image: composer/busybox
    privileged: true
    command: ["sleep", "300"]
    stop_signal: SIGKILL
"""

FAKES = {
    "fifo": "mkfifo /dev/pts/ptmx",
    "symlink": "ln -s /dev/null /dev/pts/ptmx",
    "device": "mknod /dev/pts/ptmx c 1 3",  # /dev/null's numbers
    "regular file": "echo x > /dev/pts/ptmx",
}


@pytest.mark.parametrize("fake", sorted(FAKES))
def test_a_fake_ptmx_gives_a_clean_error_not_a_terminal(cli, base_image, fake):
    cli.write("compose.yaml", STACK)
    cli("up", "-d")
    try:
        # the container covers its devpts with a tmpfs of its own and plants the fake multiplexer
        cli("exec", "-T", "evil", "sh", "-c", f"mount -t tmpfs none /dev/pts && {FAKES[fake]}")
        term = Terminal(cli, "exec", "-it", "evil", "sh", "-c", "echo GOT-A-SHELL")
        try:
            code = term.wait(60)
            out = term.seen.decode(errors="replace")
            attrs = termios.tcgetattr(term.master)
        finally:
            term.close()
        assert code != 0 and "GOT-A-SHELL" not in out, out
        lines = [line for line in out.replace("\r", "").split("\n") if line.strip()]
        assert len(lines) == 1 and "pseudo-terminal" in lines[0] and "Traceback" not in out, out
        assert attrs[3] & termios.ECHO  # our terminal was not left in raw mode
        # the container is unharmed and a plain exec still works
        assert cli("exec", "-T", "evil", "echo", "ok").stdout == "ok\n"
    finally:
        cli("down", "-t", "0")



def test_a_fuse_ptmx_cannot_hand_a_host_terminal_to_the_container(cli, base_image, tmp_path):
    """The container mounts a FUSE file system on its /dev/pts whose ptmx answers TIOCGPTPEER with N:
    the number of a descriptor the CLI inherited (here another host terminal, as IDEs and terminal
    emulators leak them), which the host-side exec helper holds too. Trusting the answer would make
    that host terminal the container process's stdio and controlling terminal (its output there, its
    TIOCSTI into it). exec -it must refuse in one line, and nothing reach that terminal."""
    import fcntl
    import select
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    if not os.path.exists("/dev/fuse") or not shutil.which("gcc"):
        pytest.skip("needs /dev/fuse and gcc")
    bindir = tmp_path / "attack"
    bindir.mkdir()
    src = os.path.join(os.path.dirname(__file__), "src", "fake_ptmx.c")
    subprocess.run(["gcc", "-static", "-O1", "-o", str(bindir / "fake_ptmx"), src], check=True)
    cli.write("compose.yaml", STACK + f"""    volumes:
      - {bindir}:/attack:ro
""")
    cli("up", "-d")
    ours, slave = pty.openpty()  # the user's terminal
    other, other_slave = pty.openpty()  # a host terminal the CLI merely inherited, at descriptor N
    try:
        cli("exec", "-T", "evil", "/attack/fake_ptmx", "/dev/pts", str(other_slave))
        assert "fake" in cli("exec", "-T", "evil", "grep", "/dev/pts", "/proc/mounts").stdout

        def controlling_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        proc = subprocess.Popen([sys.executable, "-m", "composer", "--root", cli.root, "-p", cli.project, "exec",
                                 "-it", "evil", "sh", "-c", "echo GOT-A-SHELL; readlink /proc/self/fd/0"],
                                cwd=cli.cwd, stdin=slave, stdout=slave, stderr=slave, pass_fds=(other_slave,),
                                env={**os.environ, "PYTHONPATH": REPO}, preexec_fn=controlling_terminal)
        os.close(slave)
        slave = -1
        code = proc.wait(timeout=60)
        time.sleep(0.5)
        out, stolen = b"", b""
        while select.select([ours], [], [], 0.2)[0]:
            try:
                chunk = os.read(ours, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        while select.select([other], [], [], 0.2)[0]:
            stolen += os.read(other, 4096)
        assert b"GOT-A-SHELL" not in stolen, f"the container's process wrote on a host terminal: {stolen!r}"
        lines = [line for line in out.decode(errors="replace").replace("\r", "").split("\n") if line.strip()]
        assert code != 0 and len(lines) == 1 and "pseudo-terminal" in lines[0], out
    finally:
        for fd in (ours, other, other_slave, slave):
            if fd >= 0:
                os.close(fd)
        cli("down", "-t", "0")
