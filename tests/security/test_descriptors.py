"""Descriptors of the host never reach a container process.

A container process may hold only 0, 1, 2 and what it opened itself. The attacks: a directory the
CALLER of `composer exec` / `run` / `build` has open (fd 9, as `( exec 9</ ; composer exec ...)`
gives) read through /proc/self/fd/9 from inside; and the container's PID 1 using the monitor's
descriptors it inherited (a published port's host socket, the ready pipe) to send a datagram from
the host's loopback although its only network is `internal: true`.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from tests.conftest import REPO
from tests.security.static_c import build

SECRET = "host-secret-7c1e9"

# lists its own descriptors, then tries every inherited socket: a datagram to the host's loopback
ESCAPE_C = r"""
#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int port = atoi(argv[1]);
    DIR *d = opendir("/proc/self/fd");
    int own = dirfd(d);
    struct dirent *e;
    printf("fds:");
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && atoi(e->d_name) != own) printf(" %s", e->d_name);
    printf("\n");
    closedir(d);
    struct sockaddr_in to = {0};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int fd = 3; fd < 4096; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
            ssize_t n = sendto(fd, "escaped", 7, 0, (struct sockaddr *)&to, sizeof to);
            printf("sendto through fd %d: %zd\n", fd, n);
        }
    }
    printf("done\n");
    fflush(stdout);
    pause();
    return 0;
}
"""


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fds_of(listing: str) -> set[str]:
    """The descriptor numbers `ls /proc/self/fd` printed (ls's own directory is 3)."""
    return set(listing.split()) - {"3"}


@pytest.fixture
def project(cli, base_image, tmp_path):
    host_dir = tmp_path / "host-only"
    host_dir.mkdir()
    (host_dir / "secret.txt").write_text(SECRET + "\n")
    tcp, udp = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    cli.write("compose.yaml", f"""
services:
  svc:
    image: composer/busybox
    command: ["sleep", "300"]
    stop_grace_period: 0s
    ports: ["127.0.0.1:{tcp}:80", "127.0.0.1:{udp}:81/udp"]
    healthcheck:
      test: ["CMD-SHELL", "ls /proc/self/fd > /tmp/check-fds"]
      interval: 1s
""")
    yield cli, str(host_dir)
    cli("down", "-t", "0", check=False)


def with_fd9(cli, directory: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`( exec 9<DIR ; composer ARGS... )`, as the issue's reproduction does."""
    return subprocess.run(["sh", "-c", 'exec 9<"$0"; exec "$@"', directory, *cli._command(args)], cwd=cli.cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": REPO})


PROBE = "ls /proc/self/fd | tr '\\n' ' '; echo; cat /proc/self/fd/9/secret.txt"


def test_exec_does_not_hand_the_callers_descriptors_to_the_container(project):
    cli, host_dir = project
    cli("up", "-d")
    res = with_fd9(cli, host_dir, "exec", "-T", "svc", "sh", "-c", PROBE)
    assert SECRET not in res.stdout, "the container read a host file through the caller's fd 9"
    assert res.returncode != 0 and "No such file" in res.stderr
    assert fds_of(res.stdout.splitlines()[0]) == {"0", "1", "2"}


def test_run_does_not_hand_the_callers_descriptors_to_the_container(project):
    cli, host_dir = project
    res = with_fd9(cli, host_dir, "run", "--rm", "-T", "--no-deps", "svc", "sh", "-c", PROBE)
    assert SECRET not in res.stdout, "the one-off container read a host file through the caller's fd 9"
    assert res.returncode != 0
    assert fds_of(res.stdout.splitlines()[0]) == {"0", "1", "2"}


def test_a_build_step_gets_none_of_the_callers_descriptors(project, tmp_path):
    cli, host_dir = project
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM composer/busybox\n"
        "RUN ls /proc/self/fd | tr '\\n' ' ' > /fds; cat /proc/self/fd/9/secret.txt > /leak 2>/dev/null; true\n")
    res = with_fd9(cli, host_dir, "image", "build", "-t", f"{cli.project}-fds", str(context), timeout=300)
    assert res.returncode == 0, res.stderr
    try:
        out = cli("container", "run", "--rm", f"{cli.project}-fds", "sh", "-c", "cat /fds; echo; cat /leak",
                  project=False)
        assert SECRET not in out.stdout, "a RUN step read a host file through the caller's fd 9"
        assert fds_of(out.stdout.splitlines()[0]) == {"0", "1", "2"}
    finally:
        cli("image", "rm", f"{cli.project}-fds", project=False, check=False)


def test_healthchecks_hold_none_of_the_monitors_descriptors(project):
    cli, _ = project
    cli("up", "-d", "--wait", "--wait-timeout", "60")
    listing = cli("exec", "-T", "svc", "cat", "/tmp/check-fds").stdout
    assert fds_of(listing) == {"0", "1", "2"}, f"a health check held the monitor's descriptors: {listing!r}"


def test_pid_1_cannot_use_the_monitors_sockets_or_pipes(cli, base_image, tmp_path):
    """The container's own command lists what it holds and sends a datagram through every socket it
    inherited: a published UDP port's socket lives in the host's namespace, so the datagram would
    leave from the host's 127.0.0.1 although the container's only network is internal."""
    probe = tmp_path / "probe"
    build(str(probe), "escape", ESCAPE_C)
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    tcp, udp = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    cli.write("compose.yaml", f"""
services:
  attacker:
    image: composer/busybox
    command: ["/probe/escape", "{receiver.getsockname()[1]}"]
    stop_grace_period: 0s
    init: false
    volumes: ["{probe}:/probe:ro"]
    networks: [closed]
    ports: ["127.0.0.1:{tcp}:80", "127.0.0.1:{udp}:81/udp", "127.0.0.1:{free_port(socket.SOCK_DGRAM)}:82/udp"]
networks:
  closed:
    internal: true
""")
    try:
        cli("up", "-d")
        deadline = time.monotonic() + 60
        logs = ""
        while "done" not in logs and time.monotonic() < deadline:
            time.sleep(0.2)
            logs = cli("logs", "--no-log-prefix", "attacker").stdout
        assert "done" in logs, logs
        try:
            data, sender = receiver.recvfrom(100)
        except socket.timeout:
            data, sender = b"", None
        assert not data, f"the container sent {data!r} from the host's {sender} through an inherited socket"
        held = next(line for line in logs.splitlines() if line.startswith("fds:")).split()[1:]
        assert held == ["0", "1", "2"], f"the container's PID 1 holds the monitor's descriptors: {logs}"
        assert "sendto" not in logs
    finally:
        receiver.close()
        cli("down", "-t", "0", check=False)
