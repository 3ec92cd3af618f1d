"""`exec` and `run` on a real pseudo-terminal: the CLI is driven through a pty as a user's terminal would."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.conftest import REPO

STACK = """
services:
  web:
    image: composer/busybox
    command: ["sleep", "300"]
"""


class Terminal:
    """The CLI running with a pseudo-terminal as its controlling terminal and stdio."""

    def __init__(self, cli, *args: str, rows: int = 37, cols: int = 101):
        self.master, slave = pty.openpty()
        self.resize(rows, cols)
        cmd = [sys.executable, "-m", "composer", "--root", cli.root, "-p", cli.project, *args]

        def controlling_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(cmd, cwd=cli.cwd, stdin=slave, stdout=slave, stderr=slave,
                                     env={**os.environ, "PYTHONPATH": REPO}, preexec_fn=controlling_terminal)
        os.close(slave)
        self.seen = b""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, text: bytes, timeout: float = 20) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"did not see {text!r} in {self.seen!r}")
            if select.select([self.master], [], [], left)[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"terminal closed before {text!r}: {self.seen!r}")
                self.seen += chunk
        return self.seen

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"the CLI did not exit: {self.seen!r}")
            if select.select([self.master], [], [], 0.05)[0]:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:
                    pass
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.fixture
def stack(cli, base_image):
    cli.write("compose.yaml", STACK)
    cli("up", "-d")
    yield cli
    cli("down", "-t", "0")


def test_exec_gets_a_terminal_with_our_window_size_and_follows_resizes(stack):
    term = Terminal(stack, "exec", "web", "sh")
    try:
        term.expect(b"# ")  # the shell flushes what was typed before its prompt
        term.send(b"stty size; tty >/dev/null && echo IS-A-TTY\r")
        term.expect(b"37 101")
        term.expect(b"IS-A-TTY")
        term.resize(50, 132)
        term.proc.send_signal(signal.SIGWINCH)  # as the kernel would for the foreground process
        deadline = time.monotonic() + 10
        while b"50 132" not in term.seen and time.monotonic() < deadline:
            term.send(b"stty size\r")
            time.sleep(0.2)
            term.expect(b"stty size")
        term.expect(b"50 132")
        term.send(b"exit 7\r")
        assert term.wait() == 7
    finally:
        term.close()


def test_ctrl_c_goes_to_the_container_process(stack):
    term = Terminal(stack, "exec", "web", "sh", "-c", "echo READY; sleep 100; echo after")
    try:
        term.expect(b"READY")
        started = time.monotonic()
        term.send(b"\x03")
        assert term.wait() == 130  # the exec'd shell died of SIGINT, passed through as 128+2
        assert time.monotonic() - started < 10
        assert b"after" not in term.seen
    finally:
        term.close()
    # the service container itself is untouched
    assert "running" in stack("ps", "--format", "json").stdout


def test_exec_T_on_a_terminal_has_no_tty(stack):
    term = Terminal(stack, "exec", "-T", "web", "sh", "-c", "tty || echo NO-TTY; exit 3")
    try:
        term.expect(b"NO-TTY")
        assert term.wait() == 3
    finally:
        term.close()


def test_run_on_a_terminal_is_interactive(stack):
    term = Terminal(stack, "run", "--rm", "web", "sh")
    try:
        term.expect(b"# ")
        term.send(b"stty size; echo $((6*7))\r")
        term.expect(b"37 101")
        term.expect(b"42")
        term.send(b"exit 4\r")
        assert term.wait() == 4
    finally:
        term.close()
    assert stack("ps", "-a", "--format", "json").stdout.count("\n") == 1  # only web: --rm removed the run


def test_attach_to_a_tty_service(cli, base_image):
    cli.write("compose.yaml", """
services:
  shell:
    image: composer/busybox
    tty: true
    stdin_open: true
    command: ["sh"]
""")
    cli("up", "-d")
    logs = ""
    for _ in range(100):
        logs = cli("logs", "shell").stdout
        if "# " in logs:
            break
        time.sleep(0.1)
    assert "# " in logs  # the shell's prompt, through its terminal, in the log
    term = Terminal(cli, "attach", "shell")
    try:
        deadline = time.monotonic() + 30
        while termios.tcgetattr(term.master)[3] & termios.ECHO:  # until attach made our terminal raw
            assert time.monotonic() < deadline and term.proc.poll() is None, term.seen
            time.sleep(0.05)
        term.send(b"echo $((6*7))-tty\r")
        term.expect(b"42-tty")
        term.send(b"exit 5\r")
        assert term.wait() == 5
    finally:
        term.close()
    cli("down", "-t", "0")
