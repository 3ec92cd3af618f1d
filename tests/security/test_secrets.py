"""Attacks on secrets and configs: a host user reading the file the engine keeps for a container's
secret, and a container's root writing or remounting the read-only secret."""
from __future__ import annotations

import os
import uuid

import pytest

from tests.integration.test_secrets_configs import LOOP, files_holding, sh


@pytest.fixture
def stack(cli, base_image):
    yield cli
    cli("down", check=False)


def _up_with_secret(cli, value: str) -> None:
    cli.write(".env", f"TOKEN={value}\n")
    cli.write("compose.yaml", f"""
services:
  app:
    image: composer/busybox
    command: {LOOP}
    stop_grace_period: 1s
    secrets: [token]
secrets:
  token:
    environment: TOKEN
""")
    cli("up", "-d")
    assert sh(cli, "app", "cat /run/secrets/token").stdout == value


def test_host_users_cannot_read_a_containers_secret_files(stack, engine_root):
    """Attack: an unprivileged host user reads the file the engine keeps for an environment secret."""
    cli = stack
    value = f"v-{uuid.uuid4().hex}"
    _up_with_secret(cli, value)
    (kept,) = files_holding(os.path.join(engine_root, "containers"), value.encode())
    os.chmod(engine_root, 0o755)  # even where the engine root itself is open to others
    pid = os.fork()
    if pid == 0:  # a host user, nobody
        code = 1
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                with open(kept, "rb") as f:
                    code = 3 if value.encode() in f.read() else 2
            except PermissionError:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "a host user read the secret"


def test_container_root_cannot_write_or_remount_its_secret(stack):
    """Attack: root in the container rewrites the secret, remounts it read-write, or unmounts it to
    put its own file there (what another process of the service would then read)."""
    cli = stack
    value = f"v-{uuid.uuid4().hex}"
    _up_with_secret(cli, value)
    attacks = ("echo evil > /run/secrets/token", "mount -o remount,rw /run/secrets/token",
               "mount -o remount,rw,bind /run/secrets/token", "umount /run/secrets/token",
               "umount -l /run/secrets/token", "rm -f /run/secrets/token", "mv /run/secrets/token /tmp/t",
               "chmod 777 /run/secrets/token", "chown 1000 /run/secrets/token")
    for attack in attacks:
        res = sh(cli, "app", attack, check=False, user="0")
        assert res.returncode != 0, attack
        assert sh(cli, "app", "cat /run/secrets/token; stat -c %a:%u /run/secrets/token").stdout == \
            value + "444:0\n", attack
    assert "ro" in sh(cli, "app", "grep ' /run/secrets/token ' /proc/mounts").stdout.split()[3].split(",")
