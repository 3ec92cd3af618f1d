"""The process that enters a container is not inspectable from inside before execve.

The attack (the runc CVE-2019-5736 class): a process in the container scans /proc/*/exe,
/proc/*/environ and /proc/*/cmdline in a tight loop while `composer exec` runs, to read the
CALLER's environment (a secret here), learn the host interpreter's path, and get a descriptor
of the host binary (which it could later reopen for writing through /proc/self/fd).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import REPO
from tests.security.static_c import build

SECRET = "AKIA-caller-secret-5b2f0d"

# Scans every other process of its pid namespace until /out/stop appears (at most 120 s), and
# writes what it got to /out/report, one finding per line, each at most once per pid:
#   exe PID TARGET   /proc/PID/exe could be read
#   open PID TARGET  /proc/PID/exe could be opened (a descriptor of that binary)
#   env PID          /proc/PID/environ held the secret
#   cmd PID TEXT     /proc/PID/cmdline, the first time it was seen
SCAN_C = r"""
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXPID 4194304
static unsigned char seen[MAXPID];

static void report(FILE *out, const char *kind, int pid, const char *text) {
    fprintf(out, "%s %d %s\n", kind, pid, text);
    fflush(out);
}

int main(int argc, char **argv) {
    const char *secret = argv[1];
    FILE *out = fopen("/out/report", "w");
    int me = getpid();
    char path[64], buf[65536];
    close(open("/out/ready", O_WRONLY | O_CREAT, 0644));
    time_t end = time(NULL) + 120;
    while (time(NULL) < end && access("/out/stop", F_OK) != 0) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int pid = atoi(e->d_name);
            if (pid <= 1 || pid == me || pid >= MAXPID) continue;
            snprintf(path, sizeof path, "/proc/%d/exe", pid);
            ssize_t n = readlink(path, buf, sizeof buf - 1);
            if (n > 0 && !(seen[pid] & 1)) {
                buf[n] = 0;
                seen[pid] |= 1;
                report(out, "exe", pid, buf);
            }
            int fd = open(path, O_RDONLY);
            if (fd >= 0) {
                if (!(seen[pid] & 2)) {
                    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                    n = readlink(path, buf, sizeof buf - 1);
                    buf[n > 0 ? n : 0] = 0;
                    seen[pid] |= 2;
                    report(out, "open", pid, buf);
                }
                close(fd);
            }
            snprintf(path, sizeof path, "/proc/%d/environ", pid);
            fd = open(path, O_RDONLY);
            if (fd >= 0) {
                n = read(fd, buf, sizeof buf - 1);
                close(fd);
                if (n > 0) {
                    buf[n] = 0;
                    for (ssize_t i = 0; i < n; i++) if (!buf[i]) buf[i] = ' ';
                    if (strstr(buf, secret) && !(seen[pid] & 4)) {
                        seen[pid] |= 4;
                        report(out, "env", pid, "");
                    }
                }
            }
            snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
            fd = open(path, O_RDONLY);
            if (fd >= 0) {
                n = read(fd, buf, 4096);
                close(fd);
                if (n > 0 && !(seen[pid] & 8)) {
                    buf[n] = 0;
                    for (ssize_t i = 0; i < n; i++) if (!buf[i]) buf[i] = ' ';
                    seen[pid] |= 8;
                    report(out, "cmd", pid, buf);
                }
            }
        }
        closedir(d);
    }
    fclose(out);
    return 0;
}
"""


def test_a_process_in_the_container_cannot_inspect_exec_before_it_runs_the_command(cli, base_image, tmp_path):
    probe, out = tmp_path / "probe", tmp_path / "out"
    build(str(probe), "scan", SCAN_C)
    out.mkdir()
    cli.write("compose.yaml", f"""
services:
  box:
    image: composer/busybox
    command: ["sh", "-c", "/probe/scan {SECRET} & exec sleep 300"]
    stop_grace_period: 0s
    volumes: ["{probe}:/probe:ro", "{out}:/out"]
""")
    host_binaries = {os.path.realpath(sys.executable), sys.executable}
    try:
        cli("up", "-d")
        deadline = time.monotonic() + 60
        while not (out / "ready").exists():
            assert time.monotonic() < deadline, "the scanner did not start"
            time.sleep(0.1)
        env = {**os.environ, "PYTHONPATH": REPO, "AWS_SECRET_ACCESS_KEY": SECRET}
        for _ in range(12):  # each `exec` is a window; the command (sleep) is seen once it runs
            res = subprocess.run(cli._command(["exec", "-T", "box", "sleep", "0.3"]), cwd=cli.cwd, env=env,
                                 capture_output=True, text=True, timeout=120)
            assert res.returncode == 0, res.stderr
        (out / "stop").touch()
        time.sleep(0.5)
        lines = (out / "report").read_text().splitlines()
    finally:
        cli("down", "-t", "0", check=False)
    exes = [line.split(" ", 2) for line in lines if line.startswith(("exe ", "open "))]
    # the scan works: it saw the exec'd commands once they ran (the container's own busybox)
    assert any(target == "/bin/busybox" for _, _, target in exes), lines
    leaked = [line for line in lines if line.startswith("env ")]
    assert not leaked, f"the container read the caller's environment: {leaked}"
    foreign = [(kind, pid, target) for kind, pid, target in exes if target != "/bin/busybox"]
    assert not foreign, f"the container saw (or opened) a binary that is not its own: {foreign}"
    assert not any(b in line for line in lines if line.startswith("cmd ") for b in host_binaries | {REPO}), \
        [line for line in lines if line.startswith("cmd ")]
