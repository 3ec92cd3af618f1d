"""A terminal inside `exec` and `run` is one of the container's own: its pseudo-terminal comes from the
container's devpts, so `tty` names it (/dev/pts/0) and TERM is xterm, as with Docker; the flags of
Docker Compose (-i, -t, -it, -T, --no-TTY, --no-tty, --interactive=false) are accepted."""
from __future__ import annotations

import time

import pytest

from tests.integration.test_lifecycle_tty import Terminal

STACK = """
services:
  web:
    image: composer/busybox
    command: ["sleep", "300"]
    stop_signal: SIGKILL
"""


@pytest.fixture
def stack(cli, base_image):
    cli.write("compose.yaml", STACK)
    cli("up", "-d")
    yield cli
    cli("down", "-t", "0")


def run_on_terminal(cli, *args: str) -> tuple[int, str]:
    term = Terminal(cli, *args)
    try:
        code = term.wait(60)
        return code, term.seen.decode(errors="replace").replace("\r\n", "\n")
    finally:
        term.close()


SHOW = ["sh", "-c", "tty; echo TERM=$TERM; ls /dev/pts"]


@pytest.mark.parametrize("flags", [["-it"], ["-i", "-t"], ["-t"], ["-i"], [], ["--interactive", "--tty"]])
def test_exec_on_a_terminal_gets_the_containers_own_pts(stack, flags):
    code, out = run_on_terminal(stack, "exec", *flags, "web", *SHOW)
    assert code == 0, out
    lines = out.split("\n")
    assert "/dev/pts/0" in lines, out  # ttyname works: the pty is one of the container's /dev/pts
    assert "TERM=xterm" in lines, out


def test_exec_keeps_a_term_the_user_sets_and_lets_another_user_reopen_its_terminal(stack):
    code, out = run_on_terminal(stack, "exec", "-it", "-e", "TERM=vt100", "-u", "65534", "web", "sh", "-c",
                                'echo TERM=$TERM; id -u; echo reopened > "$(tty)" && echo WROTE')
    assert code == 0, out
    assert "TERM=vt100" in out and "65534" in out
    assert "reopened" in out and "WROTE" in out, out  # sudo, ssh, gpg, script reopen ttyname(0)


@pytest.mark.parametrize("flag", ["-T", "--no-TTY", "--no-tty", "--tty=false"])
def test_exec_without_a_tty_on_a_terminal(stack, flag):
    code, out = run_on_terminal(stack, "exec", flag, "web", "sh", "-c", "tty; echo TERM=[$TERM]; exit 3")
    assert code == 3, out
    assert "not a tty" in out and "TERM=[]" in out, out


def test_exec_interactive_false_gives_no_input(stack):
    res = stack("exec", "--interactive=false", "-T", "web", "sh", "-c", "cat; echo DONE", input="secret\n",
                timeout=60)
    assert res.stdout == "DONE\n"
    assert stack("exec", "-i", "-T", "web", "cat", input="piped\n", timeout=60).stdout == "piped\n"


def test_exec_it_shell_sees_its_terminal_as_the_container_names_it(stack):
    term = Terminal(stack, "exec", "-it", "web", "sh")
    try:
        term.expect(b"# ")
        term.send(b"ls -l $(tty) | cut -c1-10; tty\r")
        term.expect(b"/dev/pts/0\r\n")
        assert b"crw--w----" in term.seen  # a devpts node, mode 0620 like Docker's
        term.send(b"exit 6\r")
        assert term.wait() == 6
    finally:
        term.close()


@pytest.mark.parametrize("flags", [["-it"], ["-i"], ["-t"], []])
def test_run_on_a_terminal_gets_the_containers_own_pts(stack, flags):
    code, out = run_on_terminal(stack, "run", *flags, "--rm", "web", *SHOW)
    assert code == 0, out
    lines = out.split("\n")
    assert "/dev/pts/0" in lines and "TERM=xterm" in lines, out
    assert stack("ps", "-a", "-q").stdout.count("\n") == 1  # --rm removed the one-off


@pytest.mark.parametrize("flag", ["-T", "--no-TTY"])
def test_run_without_a_tty_on_a_terminal(stack, flag):
    code, out = run_on_terminal(stack, "run", "--rm", flag, "web", "sh", "-c", "tty; echo TERM=[$TERM]; exit 2")
    assert code == 2, out
    assert "not a tty" in out and "TERM=[]" in out, out


def test_a_tty_service_main_process_has_the_containers_pts(cli, base_image):
    cli.write("compose.yaml", """
services:
  shell:
    image: composer/busybox
    tty: true
    command: ["sh", "-c", "tty; echo TERM=$TERM; exec sleep 300"]
    stop_signal: SIGKILL
""")
    cli("up", "-d")
    try:
        logs = ""
        deadline = time.monotonic() + 30
        while "TERM=" not in logs and time.monotonic() < deadline:
            time.sleep(0.1)
            logs = cli("logs", "--no-log-prefix", "shell").stdout
        assert "/dev/pts/0" in logs.split("\n") or "/dev/pts/0\r" in logs.split("\n"), logs
        assert "TERM=xterm" in logs, logs
    finally:
        cli("down", "-t", "0")


def test_run_T_of_a_tty_service_has_no_tty_nor_term(cli, base_image):
    cli.write("compose.yaml", """
services:
  shell:
    image: composer/busybox
    tty: true
    command: ["sleep", "300"]
""")
    res = cli("run", "--rm", "-T", "shell", "sh", "-c", "tty; echo TERM=[$TERM]", check=False, timeout=120)
    assert "not a tty" in res.stdout and "TERM=[]" in res.stdout, res.stdout + res.stderr
    code, out = run_on_terminal(cli, "run", "--rm", "shell", *SHOW)
    assert code == 0 and "/dev/pts/0" in out.split("\n") and "TERM=xterm" in out.split("\n"), out
    cli("down", "-t", "0")
