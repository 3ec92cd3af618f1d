"""Seccomp: a static program calls each system call of interest inside containers and reports which were
refused with EPERM. The default container must refuse what Docker's default profile refuses (mount,
unshare, keyctl, bpf, module loading, personality(ADDR_NO_RANDOMIZE), fanotify_init, ...) and allow what it
allows (threads, forks, personality(0), name_to_handle_at, ptrace on Linux >= 4.8, ...); cap_add lifts the
calls of its capability; seccomp:unconfined shows that the filter, not only the missing capabilities,
does the refusing."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the default filter numbers x86_64 calls")

EPERM, ENOSYS = 1, 38

PROBE_C = r"""
/* Calls each system call of interest once, with harmless arguments, and prints "name errno"
   (0: the call succeeded). Built static: it runs in a busybox container. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int families = 1;  /* "nofamilies": skip socket(AF_ALG/AF_VSOCK), which could load a module */

static void report(const char *name, long r) {
    printf("%s %d\n", name, r < 0 ? errno : 0);
}
#define T(name, ...) do { errno = 0; long r_ = syscall(__VA_ARGS__); int e_ = errno; \
    if (r_ >= 0 && (strcmp(name, "socket_inet") == 0 || strcmp(name, "fanotify_init") == 0 || \
        strcmp(name, "userfaultfd") == 0 || strcmp(name, "socket_vsock") == 0 || strcmp(name, "socket_alg") == 0)) \
        close((int)r_); errno = e_; report(name, r_); } while (0)

static void *thread_main(void *arg) { return arg; }

static long forked(long r) {  /* a clone or fork that succeeded: the child leaves at once */
    if (r == 0) _exit(0);
    if (r > 0) waitpid((pid_t)r, NULL, __WALL);
    return r;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "nofamilies") == 0) families = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    char buf[16] = "composer", copy[16] = {0};
    struct iovec local = {copy, sizeof copy}, remote = {buf, sizeof buf};
    struct { unsigned int bytes; int type; unsigned char h[8]; } handle = {0, 0, {0}};
    int mount_id;

    T("getpid", SYS_getpid);
    T("personality_linux", SYS_personality, 0x0UL);
    T("personality_query", SYS_personality, 0xffffffffUL);
    T("personality_aslr_off", SYS_personality, 0x0040000UL);
    syscall(SYS_personality, 0x0UL);
    T("personality_exec_heap", SYS_personality, 0x0400000UL);
    syscall(SYS_personality, 0x0UL);
    pthread_t th; errno = pthread_create(&th, NULL, thread_main, NULL);
    if (errno == 0) pthread_join(th, NULL);
    report("clone_thread", errno ? -1 : 0);
    errno = 0; report("fork", forked(fork()));
    errno = 0; report("clone_newuts", forked(syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0)));
    errno = 0; report("clone_newuser", forked(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)));
    T("clone3", SYS_clone3, NULL, 0);
    T("socket_inet", SYS_socket, AF_INET, SOCK_DGRAM, 0);
    if (families) {
        T("socket_alg", SYS_socket, 38, SOCK_SEQPACKET, 0);
        T("socket_vsock", SYS_socket, 40, SOCK_STREAM, 0);
    }
    T("chroot", SYS_chroot, "/");
    T("name_to_handle_at", SYS_name_to_handle_at, AT_FDCWD, "/", &handle, &mount_id, 0);
    T("process_vm_readv", SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL);
    T("process_vm_writev", SYS_process_vm_writev, getpid(), &local, 1UL, &remote, 1UL, 0UL);
    T("ptrace", SYS_ptrace, 2 /* PTRACE_PEEKDATA */, 0, 0, 0);  /* pid 0: ESRCH when allowed */
    T("kcmp", SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 1, 1);
    T("pidfd_getfd", SYS_pidfd_getfd, -1, 0, 0);
    T("mount", SYS_mount, "none", "/", (char *)1, 0UL, NULL);
    T("umount2", SYS_umount2, "/", 0x80000000);  /* unknown flag: EINVAL when allowed */
    T("pivot_root", SYS_pivot_root, (char *)1, (char *)1);
    T("unshare", SYS_unshare, 0);  /* no flags: nothing to do when allowed */
    T("setns", SYS_setns, -1, 0);
    T("keyctl", SYS_keyctl, 0x7fffffff, 0, 0, 0, 0);
    T("add_key", SYS_add_key, (char *)1, (char *)1, NULL, 0, 0);
    T("request_key", SYS_request_key, (char *)1, (char *)1, NULL, 0);
    T("bpf", SYS_bpf, -1, NULL, 0);
    T("perf_event_open", SYS_perf_event_open, (void *)1, 0, -1, -1, 0);
    T("kexec_load", SYS_kexec_load, 0UL, 0UL, NULL, 0xffff0000UL);
    T("init_module", SYS_init_module, NULL, 0UL, "");
    T("finit_module", SYS_finit_module, -1, "", 0);
    T("delete_module", SYS_delete_module, (char *)1, 0);
    T("open_by_handle_at", SYS_open_by_handle_at, -1, NULL, 0);
    T("fanotify_init", SYS_fanotify_init, 0x200 /* FAN_CLASS_NOTIF|FAN_REPORT_FID */, O_RDONLY);
    T("userfaultfd", SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */ | O_CLOEXEC);
    T("clock_settime", SYS_clock_settime, 0 /* CLOCK_REALTIME */, NULL);  /* EFAULT when allowed */
    T("settimeofday", SYS_settimeofday, (void *)1, NULL);  /* EFAULT when allowed */
    T("swapon", SYS_swapon, NULL, 0);
    T("swapoff", SYS_swapoff, NULL);
    T("reboot", SYS_reboot, 0, 0, 0, NULL);  /* wrong magic: EINVAL even with CAP_SYS_BOOT */
    T("acct", SYS_acct, NULL);
    T("lookup_dcookie", SYS_lookup_dcookie, 0UL, NULL, 0UL);
    T("quotactl", SYS_quotactl, 0, NULL, 0, NULL);
    T("sethostname", SYS_sethostname, "x", -1);  /* negative length: EINVAL when allowed */
    T("iopl", SYS_iopl, 0);
    T("ioperm", SYS_ioperm, 0UL, 0UL, 0);
    T("io_uring_setup", SYS_io_uring_setup, 1, NULL);
    T("sysfs", SYS_sysfs, 3);
    T("move_pages", SYS_move_pages, 0, 0UL, NULL, NULL, NULL, 0);
    T("mbind", SYS_mbind, NULL, 0UL, 0, NULL, 0UL, 0U);
    T("fsopen", SYS_fsopen, (char *)1, 0);
    T("open_tree", SYS_open_tree, -1, (char *)1, 0);
    return 0;
}
"""

STACK = """
services:
  default:
    image: composer/busybox
    volumes: ["./probe:/probe:ro"]
    command: ["/probe/seccomp-probe"]
  unconfined:
    image: composer/busybox
    volumes: ["./probe:/probe:ro"]
    command: ["/probe/seccomp-probe", "nofamilies"]
    security_opt: ["seccomp:unconfined"]
  traced:
    image: composer/busybox
    volumes: ["./probe:/probe:ro"]
    command: ["/probe/seccomp-probe"]
    cap_add: [SYS_PTRACE, SYS_NICE]
"""

# Docker's default profile, as the probe sees it in a default container (root, Docker's default capabilities)
REFUSED = {
    "personality_aslr_off", "personality_exec_heap", "clone_newuts", "clone_newuser", "socket_alg",
    "socket_vsock", "kcmp", "pidfd_getfd", "mount", "umount2", "pivot_root", "unshare", "setns", "keyctl",
    "add_key", "request_key", "bpf", "perf_event_open", "kexec_load", "init_module", "finit_module",
    "delete_module", "open_by_handle_at", "fanotify_init", "userfaultfd", "clock_settime", "settimeofday",
    "swapon", "swapoff", "reboot", "acct", "lookup_dcookie", "quotactl", "sethostname", "iopl", "ioperm",
    "io_uring_setup", "sysfs", "move_pages", "mbind", "fsopen", "open_tree",
}
ALLOWED = {
    "getpid", "personality_linux", "personality_query", "clone_thread", "fork", "socket_inet", "chroot",
    "name_to_handle_at", "process_vm_readv", "process_vm_writev", "ptrace",
}
# refused by the filter alone: without it the kernel answers these calls (with these arguments) otherwise
BY_THE_FILTER = {
    "personality_aslr_off", "personality_exec_heap", "unshare", "setns", "keyctl", "add_key", "request_key",
    "umount2", "mount", "clock_settime", "settimeofday", "quotactl", "iopl",
    "ioperm", "kcmp", "pidfd_getfd", "sysfs", "move_pages", "mbind", "perf_event_open", "open_tree",
}


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> str:
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc and a static C library")
    d = tmp_path_factory.mktemp("seccomp-probe")
    (d / "probe.c").write_text(PROBE_C)
    subprocess.run(["gcc", "-static", "-O1", "-pthread", "-o", str(d / "seccomp-probe"), str(d / "probe.c")],
                   check=True, capture_output=True)
    return str(d / "seccomp-probe")


def results(cli, probe: str, service: str) -> dict[str, int]:
    os.makedirs(os.path.join(cli.cwd, "probe"), exist_ok=True)
    shutil.copy(probe, os.path.join(cli.cwd, "probe", "seccomp-probe"))
    out = cli("run", "--rm", "-T", service, timeout=180).stdout
    got = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
    return {name: int(errno) for name, errno in got.items() if errno.isdigit()}


@pytest.fixture
def stack(cli, base_image):
    cli.write("compose.yaml", STACK)
    yield cli
    cli("down", check=False)


def test_default_container_refuses_what_dockers_profile_refuses(stack, probe):
    got = results(stack, probe, "default")
    assert set(got) >= REFUSED | ALLOWED, f"the probe did not finish: {got}"
    refused = {name for name, errno in got.items() if errno == EPERM}
    assert sorted(REFUSED - refused) == [], f"allowed in a default container, refused by Docker ({got})"
    assert sorted(refused & ALLOWED) == [], f"refused in a default container, allowed by Docker ({got})"
    assert got["clone3"] == ENOSYS  # so that C libraries fall back to clone, whose flags the filter sees

    unconfined = results(stack, probe, "unconfined")
    assert set(unconfined) >= BY_THE_FILTER, unconfined
    kernel_refuses = {name for name in BY_THE_FILTER if unconfined[name] == EPERM}
    assert sorted(kernel_refuses) == [], f"the probe's arguments are refused by the kernel anyway ({unconfined})"


def test_cap_add_lifts_the_calls_of_its_capability(stack, probe):
    got = results(stack, probe, "traced")
    for name in ("kcmp", "pidfd_getfd", "ptrace", "process_vm_readv", "mbind"):
        assert got[name] != EPERM, (name, got)
    # everything else stays refused
    for name in ("mount", "unshare", "keyctl", "personality_aslr_off", "fanotify_init", "move_pages", "bpf"):
        assert got[name] == EPERM, (name, got)
