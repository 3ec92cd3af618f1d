"""`exec -it` opens the pseudo-terminal inside the container (its own devpts), so a hostile container
controls what sits at /dev/pts/ptmx. Whatever it puts there (a FIFO, a symlink, another device), the
exec gets no terminal and says so in one line; nothing but a pty of the container's own devpts is
ever handed to the process or to our terminal relay."""
from __future__ import annotations

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
