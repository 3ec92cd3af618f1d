"""Isolation and security of service containers, checked from inside as a user (or an attacker) would:
each isolation item comes with an escape attempt that must fail."""
from __future__ import annotations

import os

import pytest

STACK = """
services:
  plain:
    image: composer/busybox
    command: ["sleep", "300"]
    stop_grace_period: 0s
  locked:
    image: composer/busybox
    command: ["sleep", "300"]
    stop_grace_period: 0s
    user: "nobody:nogroup"
    group_add: ["root", "4242"]
    read_only: true
    cap_drop: [ALL]
    cap_add: [CHOWN]
    security_opt: ["no-new-privileges:true"]
    shm_size: 8m
  admin:
    image: composer/busybox
    command: ["sleep", "300"]
    stop_grace_period: 0s
    privileged: true
    security_opt: ["seccomp:unconfined"]
  tuned:
    image: composer/busybox
    command: ["sleep", "300"]
    stop_grace_period: 0s
    cap_drop: [NET_RAW]
    cap_add: [NET_ADMIN]
    sysctls:
      net.ipv4.ip_forward: "1"
      kernel.shmmax: "123456789"
    ulimits:
      nofile: {soft: 1234, hard: 2345}
      nproc: 512
    devices: ["/dev/null:/dev/mynull:rw"]
    ipc: shareable
  neighbour:
    image: composer/busybox
    command: ["sleep", "300"]
    stop_grace_period: 0s
    ipc: "service:tuned"
    pid: "service:tuned"
"""


@pytest.fixture
def stack(cli, base_image):
    """The stack file written; each test brings up only the services it looks at."""
    cli.write("compose.yaml", STACK)
    yield cli
    cli("down", check=False)


def sh(cli, service: str, script: str, check: bool = True):
    res = cli("exec", "-T", service, "sh", "-c", script, check=check)
    return res.stdout if check else res


def status(cli, service: str) -> dict:
    text = sh(cli, service, "cat /proc/self/status")
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_default_capabilities_seccomp_and_escape_attempts(stack):
    cli = stack
    cli("up", "-d", "plain")
    st = status(cli, "plain")
    pid1 = dict(line.split(":\t", 1) for line in sh(cli, "plain", "cat /proc/1/status").splitlines() if ":\t" in line)
    assert pid1["CapEff"] == st["CapEff"] and pid1["Seccomp"] == "2"  # the command itself, and what exec starts
    assert st["CapEff"] == "00000000a80425fb" and st["CapBnd"] == "00000000a80425fb"
    assert st["CapInh"] == "0000000000000000" and st["CapAmb"] == "0000000000000000"
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "0"
    # the process cannot mount, load a module, make a user namespace, reboot, or swap
    out = sh(cli, "plain", "mount -t tmpfs none /mnt 2>&1; echo mount=$?; "
                           "insmod /bin/busybox 2>&1; echo insmod=$?; "
                           "unshare -U true 2>&1; echo unshare=$?; "
                           "unshare -m true 2>&1; echo unshare_mnt=$?; "
                           "nsenter -t 1 -n true 2>&1; echo nsenter=$?; "
                           "swapoff -a 2>&1; echo swapoff=$?; "
                           "ls /proc | grep -c '^[0-9]'")
    for what in ("mount", "insmod", "unshare", "unshare_mnt", "nsenter"):
        assert f"{what}=0" not in out, out
    assert "Operation not permitted" in out or "permission denied" in out.lower()
    assert int(out.split()[-1]) <= 4  # sleep, sh, grep, ls: none of the host's processes


def test_proc_and_sys_are_masked_and_read_only(stack):
    cli = stack
    cli("up", "-d", "plain")
    out = sh(cli, "plain", "echo 1 > /proc/sys/kernel/domainname 2>&1; echo sys=$?; "
                           "echo b > /proc/sysrq-trigger 2>&1; echo sysrq=$?; "
                           "cat /proc/keys | wc -c; cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l; "
                           "grep -E ' /proc/(sys|irq|bus|fs|sysrq-trigger) ' /proc/self/mounts; "
                           "touch /sys/kernel/x 2>&1; echo systouch=$?")
    assert "sys=0" not in out and "sysrq=0" not in out and "systouch=0" not in out
    lines = out.splitlines()
    assert "Read-only file system" in out
    counts = [ln.strip() for ln in lines if ln.strip().isdigit()]
    assert counts[:3] == ["0", "0", "0"], out  # /proc/keys and /proc/timer_list read empty, /sys/firmware is
    mounted = [ln.split()[1] for ln in lines if ln.startswith(("proc ", "/"))]
    for path in ("/proc/sys", "/proc/irq", "/proc/bus", "/proc/fs", "/proc/sysrq-trigger"):
        assert path in mounted or not os.path.exists(path), out  # (a kernel without magic SysRq has no trigger)
    assert all(" ro," in ln for ln in lines if ln.split()[1:2] and ln.split()[1] in mounted)


def test_user_groups_read_only_root_no_new_privileges_and_dropped_caps(stack):
    cli = stack
    cli("up", "-d", "locked")
    st = status(cli, "locked")
    assert "NoNewPrivs:\t1" in sh(cli, "locked", "cat /proc/1/status")
    assert st["CapEff"] == "0000000000000000" and st["CapPrm"] == "0000000000000000"  # not root: nothing held
    assert st["CapBnd"] == "0000000000000001"  # only CHOWN is left to gain
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"
    out = sh(cli, "locked", "id -u; id -g; id -G; touch /etc/x 2>&1; echo root=$?; "
                            "touch /tmp/x 2>&1; echo tmp=$?; touch /dev/shm/x; echo shm=$?; "
                            "df -k /dev/shm | tail -1")
    lines = out.splitlines()
    assert lines[0] == "65534" and lines[1] == "65534"
    assert set(lines[2].split()) == {"65534", "0", "4242"}
    assert "Read-only file system" in out and "root=0" not in out and "tmp=0" not in out
    assert "shm=0" in out  # what Docker keeps writable
    assert lines[-1].split()[1] == "8192"  # shm_size: 8m


def test_privileged_and_unconfined_seccomp(stack):
    cli = stack
    cli("up", "-d", "admin")
    st = status(cli, "admin")
    with open("/proc/self/status") as f:
        host_bnd = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    assert st["CapEff"] == host_bnd and st["Seccomp"] == "0"
    out = sh(cli, "admin", "mkdir -p /tmp/m; mount -t tmpfs none /tmp/m && echo mounted; umount /tmp/m; "
                           "cat /proc/keys >/dev/null "
                           "&& echo keys-visible; ls /dev | wc -l")
    assert "mounted" in out
    assert int(out.split()[-1]) > 20  # the host's devices


def test_sysctls_ulimits_devices_and_raw_sockets(stack):
    cli = stack
    cli("up", "-d", "tuned")
    out = sh(cli, "tuned", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; ulimit -Sn; ulimit -Hn; "
                           "ulimit -u; echo hi > /dev/mynull && echo dev-ok; "
                           "ping -c 1 -W 1 127.0.0.1 2>&1; echo ping=$?; "
                           "ip link set lo mtu 1400 2>&1 && echo netadmin-ok")
    lines = out.splitlines()
    assert lines[:5] == ["1", "123456789", "1234", "2345", "512"]
    assert "dev-ok" in out
    assert "ping=0" not in out and "permission denied" in out.lower()  # no NET_RAW: no raw socket
    assert "netadmin-ok" in out
    # the host's own values are untouched
    with open("/proc/sys/kernel/shmmax") as f:
        assert f.read().strip() != "123456789"
    # a device the container was not given cannot be made usable: the devices cgroup refuses it
    out = sh(cli, "tuned", "mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem >/dev/null 2>&1; echo read=$?")
    assert "read=0" not in out


def test_ipc_and_pid_namespaces_shared_with_a_service(stack):
    cli = stack
    cli("up", "-d", "neighbour", "plain")
    sh(cli, "tuned", "echo shared > /dev/shm/token")
    out = sh(cli, "neighbour", "cat /dev/shm/token; ps -o comm | grep -c sleep; cat /proc/sys/kernel/shmmax")
    assert out.splitlines() == ["shared", "2", "123456789"]  # the same IPC namespace (and its sysctl)
    assert sh(cli, "plain", "ls /dev/shm") == ""  # others have their own


@pytest.mark.parametrize("fields, message", [
    ({"sysctls": {"kernel.hostname": "x"}}, "not allowed"),
    ({"sysctls": {"kernel.shmmax": "1"}, "ipc": "host"}, "ipc: host"),
    ({"cap_add": ["NOT_A_CAP"]}, "unknown capability"),
    ({"userns_mode": "private"}, "userns_mode"),
    ({"security_opt": ["seccomp=/tmp/profile.json"]}, "seccomp"),
    ({"security_opt": ["bogus"]}, "unknown option"),
    ({"devices": ["/nonexistent:/dev/x"]}, "/nonexistent"),
    ({"ipc": "weird"}, "ipc mode"),
    ({"pid": "private"}, "pid mode"),
    ({"ulimits": {"nofile": [10, 5]}}, "above the hard limit"),
    ({"resources": {"memory": 1024 * 1024}}, "6MB"),
    ({"resources": {"memory": 64 << 20, "memory_swap": 32 << 20}}, "memswap_limit"),
    ({"resources": {"cpus": 1000.0}}, "CPUs available"),
    ({"resources": {"cpuset_cpus": "0-999"}}, "does not exist"),
])
def test_bad_isolation_options_are_refused_before_anything_is_made(engine_root, base_image, fields, message):
    from engine.api import Engine, InvalidArgument
    from engine.types import ContainerSpec

    eng = Engine(engine_root)
    with pytest.raises(InvalidArgument) as e:
        eng.create_container(ContainerSpec(name="bad", image=base_image, command=["true"], **fields))
    assert message in str(e.value) and "\n" not in str(e.value)
    assert eng.list_containers() == []


def test_a_bad_option_in_the_stack_file_is_a_one_line_error(cli, base_image):
    cli.write("compose.yaml", "services:\n  s:\n    image: composer/busybox\n    command: [sleep, '30']\n"
                              "    sysctls: {kernel.hostname: x}\n")
    res = cli("up", "-d", check=False)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert [line for line in res.stderr.splitlines() if line.startswith("error:")][0].count("kernel.hostname") == 1
    assert cli("ps", "-a", "-q").stdout.strip() == ""


def test_pid_host_sees_the_hosts_processes(cli, base_image):
    cli.write("compose.yaml", "services:\n  s:\n    image: composer/busybox\n    command: [sleep, '300']\n"
                              "    pid: host\n    stop_grace_period: 0s\n")
    cli("up", "-d")
    try:
        out = sh(cli, "s", f"test -d /proc/{os.getpid()} && echo sees-host")
        assert "sees-host" in out
    finally:
        cli("down")
