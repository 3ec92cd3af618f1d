"""The engine root is root's alone (the CVE-2021-41091 class).

An unprivileged host user must not reach anything under the engine root: neither a setuid-root
binary a container planted in its own filesystem (which that user would run as euid 0 by its host
path, `<root>/containers/<id>/upper/...`), nor the records, configs, logs and volumes that hold a
service's secret environment. The root here is made by composer itself at a path whose parents any
user can walk, as /var/lib/composer is; the attacker is a host user the test creates.
"""
from __future__ import annotations

import glob
import json
import os
import pwd
import stat
import subprocess
import uuid

import pytest

from tests.conftest import BASE_IMAGE, CLI, _force_clean

SUID_C = r"""
#include <stdio.h>
#include <unistd.h>
int main(void) {
    printf("euid=%d\n", (int)geteuid());
    return 0;
}
"""

LOOP = "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"


@pytest.fixture
def host_user():
    """An unprivileged host user of our own, removed afterwards."""
    name = "ct" + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "-M", "-N", "-s", "/bin/sh", name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def as_user(user, *args: str) -> subprocess.CompletedProcess:
    """Run *args* as *user* (no supplementary groups), from / with a plain environment."""
    return subprocess.run(list(args), user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
                          env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"}, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def public_root(engine_root, rootfs_tar, tmp_path):
    """A CLI whose engine root composer makes itself, below directories every user may walk."""
    from engine.api import Engine

    os.chmod(engine_root, 0o755)
    parent = os.path.join(engine_root, "lib")
    os.mkdir(parent, 0o755)
    root = os.path.join(parent, "composer")
    Engine(root).import_image(rootfs_tar, BASE_IMAGE, [])
    project = tmp_path / "project"
    project.mkdir()
    cli = CLI(root, str(project), "t" + uuid.uuid4().hex[:8])
    try:
        yield cli
    finally:
        cli("down", "-v", check=False)
        _force_clean(root)


def secret_stack(cli, secret: str) -> None:
    """A service that holds *secret* in its environment, logs it, keeps it in a volume, and plants a
    setuid-root copy of the attack binary at /suid in its own filesystem."""
    bindir = os.path.join(cli.cwd, "bin")
    os.mkdir(bindir)
    src = os.path.join(bindir, "suid.c")
    with open(src, "w") as f:
        f.write(SUID_C)
    subprocess.run(["gcc", "-static", "-O1", "-o", os.path.join(bindir, "suid"), src], check=True)
    script = ("cp /attack/suid /suid && chmod 4755 /suid && echo $$DB_PASSWORD > /var/lib/db/pw && "
              "echo password is $$DB_PASSWORD && echo planted && " + LOOP)
    cli.write("compose.yaml", f"""
services:
  db:
    image: composer/busybox
    environment:
      DB_PASSWORD: {secret}
    volumes: ["./bin:/attack:ro", "data:/var/lib/db"]
    command: ["sh", "-c", {json.dumps(script)}]
    stop_grace_period: 1s
volumes:
  data: {{}}
""")
    cli("up", "-d")
    import time

    deadline = time.monotonic() + 60
    while "planted" not in cli("logs", "db").stdout:
        assert time.monotonic() < deadline, cli("logs", "db")
        time.sleep(0.2)


def planted(root: str) -> str:
    """The setuid-root file the container planted, by its host path (checked as root)."""
    (path,) = glob.glob(os.path.join(root, "containers", "*", "upper", "suid"))
    st = os.stat(path)
    assert st.st_uid == 0 and st.st_mode & stat.S_ISUID, oct(st.st_mode)
    return path


def opened_as(user, root: str) -> str:
    """What opening the engine root says to *user* (in a forked child that became the user)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(user.pw_gid, user.pw_gid, user.pw_gid)
            os.setresuid(user.pw_uid, user.pw_uid, user.pw_uid)
            from engine.errors import EngineError
            from engine.paths import Paths

            try:
                Paths.open(root)
                out = "opened"
            except EngineError as e:
                out = str(e)
        except BaseException as e:  # noqa: BLE001 - nothing may escape the forked child
            out = f"{type(e).__name__}: {e}"
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read().decode()
    os.waitpid(pid, 0)
    return out


def readable_secrets(user, root: str, secret: str) -> list[str]:
    """Files under *root* that *user* can read and that hold *secret*."""
    res = as_user(user, "grep", "-rlsF", secret, root)
    return res.stdout.split()


def test_host_user_cannot_run_a_setuid_file_a_container_planted(public_root, host_user):
    cli = public_root
    secret_stack(cli, "pw-" + uuid.uuid4().hex)
    path = planted(cli.root)
    res = as_user(host_user, "/bin/sh", "-c", f"{path}; echo rc=$?")
    assert "euid=0" not in res.stdout, f"{host_user.pw_name} ran {path} as root: {res.stdout}{res.stderr}"
    assert "Permission denied" in res.stderr, res


def test_host_user_cannot_read_records_configs_logs_or_volumes(public_root, host_user):
    cli = public_root
    secret = "pw-" + uuid.uuid4().hex
    secret_stack(cli, secret)
    root = cli.root
    (cdir,) = glob.glob(os.path.join(root, "containers", "*", "config.json"))
    cdir = os.path.dirname(cdir)
    # as root: the secret really is in these files
    holders = [os.path.join(cdir, n) for n in ("record.json", "config.json", "container.log")]
    holders += glob.glob(os.path.join(root, "volumes", "*", "_data", "pw"))
    for path in holders:
        with open(path) as f:
            assert secret in f.read(), path
    assert readable_secrets(host_user, root, secret) == []
    for path in holders:
        res = as_user(host_user, "cat", path)
        assert res.returncode != 0 and secret not in res.stdout, path
    assert stat.S_IMODE(os.stat(root).st_mode) & 0o077 == 0, oct(os.stat(root).st_mode)
    for path in holders[:3]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    # and the engine tells that user so in one line
    assert opened_as(host_user, root) == f"permission denied: the engine root {root} is root's alone; " \
                                         "run composer as root (sudo)"


def _age(root: str) -> None:
    """Give *root* the modes the engine used before it was made private: 0755 directories, 0644
    records and logs, and an engine.json without the permissions marker. Container contents (the
    snapshots, upper dirs, mounted root filesystems, volume data) keep their own modes."""
    content = {"upper", "work", "rootfs", "fs", "_data", "shm", "netns"}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in content]
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.chmod(path, 0o644)
    meta = os.path.join(root, "engine.json")
    with open(meta) as f:
        rec = json.load(f)
    with open(meta, "w") as f:
        json.dump({"id": rec["id"], "version": 1}, f)


def test_a_root_made_with_the_old_modes_is_tightened_by_the_next_command(public_root, host_user):
    cli = public_root
    secret = "pw-" + uuid.uuid4().hex
    secret_stack(cli, secret)
    root = cli.root
    _age(root)
    path = planted(root)
    # the root as an older composer left it: open to the attack
    assert readable_secrets(host_user, root, secret), "the aged root should be readable"
    assert "euid=0" in as_user(host_user, path).stdout
    cli("ps")
    assert stat.S_IMODE(os.stat(root).st_mode) & 0o077 == 0, oct(os.stat(root).st_mode)
    assert readable_secrets(host_user, root, secret) == []
    res = as_user(host_user, "/bin/sh", "-c", f"{path}; echo rc=$?")
    assert "euid=0" not in res.stdout, res
    for name in ("record.json", "config.json", "container.log"):
        (rec,) = glob.glob(os.path.join(root, "containers", "*", name))
        assert stat.S_IMODE(os.stat(rec).st_mode) == 0o600, rec
    # the service still runs, and the next start of a container works in the tightened root
    cli("restart", "db")
    assert "planted" in cli("logs", "db").stdout


def test_non_root_container_users_still_reach_their_files_volumes_and_binds(public_root):
    cli = public_root
    shared = os.path.join(cli.cwd, "shared")
    os.mkdir(shared)
    with open(os.path.join(shared, "note"), "w") as f:
        f.write("bind-ok\n")
    app = ("cat /data/f && echo written > /data/g && cat /data/g && cat /shared/note && "
           "echo up > /tmp/u && cat /tmp/u && cat /etc/hostname /etc/hosts /etc/resolv.conf > /dev/null && "
           "id -u && echo done")
    cli.write("compose.yaml", f"""
services:
  prep:
    image: composer/busybox
    volumes: ["data:/data"]
    command: ["sh", "-c", "echo vol-ok > /data/f && chown -R 1000:1000 /data && chmod 700 /data && chmod 600 /data/f"]
  app:
    image: composer/busybox
    user: "1000:1000"
    volumes: ["data:/data", "./shared:/shared:ro"]
    command: ["sh", "-c", {json.dumps(app)}]
volumes:
  data: {{}}
""")
    cli("run", "--rm", "-T", "prep")
    res = cli("run", "--rm", "-T", "app")
    assert res.stdout.split() == ["vol-ok", "written", "bind-ok", "up", "1000", "done"], res
