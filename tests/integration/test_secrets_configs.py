"""Top-level `secrets` and `configs` mounted into a stack's containers, checked from inside as the
container's user: path, content, mode and owner, read-only, absent from the container's upper dir
and from `config` beyond what Docker Compose prints, and gone after `down`."""
from __future__ import annotations

import json
import os
import uuid

import pytest

LOOP = """["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]"""
# every source kind, short and long syntax, relative and absolute targets (test_docker_parity.py takes it too)
STACK = f"""
services:
  app:
    image: composer/busybox
    command: {LOOP}
    stop_grace_period: 1s
    user: "1000:1000"
    secrets:
      - db_password
      - source: api_key
        target: api.key
        uid: "1000"
        gid: "1000"
        mode: 0600
      - source: api_key
        target: /etc/abs.key
    configs:
      - app_conf
      - source: inline
        target: /etc/inline.conf
        gid: "1000"
        mode: 0440
      - source: from_env
        target: rel.conf
  other:
    image: composer/busybox
    command: {LOOP}
    stop_grace_period: 1s
secrets:
  db_password:
    file: ./secrets/db_password.txt
  api_key:
    name: my_api_key
    environment: API_KEY
configs:
  app_conf:
    file: ./app.conf
  inline:
    content: |
      key=value
  from_env:
    environment: CONF_VALUE
"""


@pytest.fixture
def stack(cli, base_image):
    yield cli
    cli("down", check=False)


def sh(cli, svc: str, script: str, check: bool = True, user: str | None = None):
    return cli("exec", "-T", *(["-u", user] if user else []), svc, "sh", "-c", script, check=check)


def files_holding(top: str, needle: bytes) -> list[str]:
    found = []
    for dirpath, _, names in os.walk(top):
        for name in names:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append(path)
            except OSError:
                continue
    return found


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "composer", "projects")


def test_secrets_and_configs_from_inside(stack, engine_root):
    cli = stack
    db_pw, api_key, conf_env = (f"{w}-{uuid.uuid4().hex}" for w in ("dbpw", "apikey", "confenv"))
    os.chmod(cli.write("secrets/db_password.txt", db_pw + "\n"), 0o644)
    os.chmod(cli.write("app.conf", "from-file\n"), 0o644)
    cli.write(".env", f"API_KEY={api_key}\nCONF_VALUE={conf_env}\n")
    cli.write("compose.yaml", STACK)
    config = cli("config", "--format", "json").stdout
    assert api_key not in config and db_pw not in config and conf_env not in config
    shown = json.loads(config)
    assert shown["secrets"]["api_key"] == {"name": "my_api_key", "environment": "API_KEY"}
    assert shown["configs"]["inline"]["content"] == "key=value\n"  # Docker Compose prints content too

    cli("up", "-d")
    stat = "stat -c '%n %a %u %g' /run/secrets/db_password /run/secrets/api.key /etc/abs.key /app_conf " \
           "/etc/inline.conf /rel.conf"
    assert sh(cli, "app", "id -u; " + stat).stdout.splitlines() == [
        "1000",
        "/run/secrets/db_password 644 0 0",  # a file source is bound as it is on the host (as in Compose)
        "/run/secrets/api.key 600 1000 1000",
        "/etc/abs.key 444 0 0",
        "/app_conf 644 0 0",
        "/etc/inline.conf 440 0 1000",
        "/rel.conf 444 0 0",
    ]
    out = sh(cli, "app", "cat /run/secrets/db_password /run/secrets/api.key; echo; cat /etc/abs.key; echo; "
                         "cat /app_conf /etc/inline.conf /rel.conf").stdout
    assert out == f"{db_pw}\n{api_key}\n{api_key}\nfrom-file\nkey=value\n{conf_env}"
    # read-only, even for root in the container and for the owner of the file
    for user, path in (("1000", "/run/secrets/api.key"), ("0", "/etc/abs.key"), ("0", "/run/secrets/db_password"),
                       ("0", "/etc/inline.conf"), ("0", "/app_conf")):
        res = sh(cli, "app", f"echo x >> {path}", check=False, user=user)
        assert res.returncode != 0 and "Read-only file system" in res.stderr, (path, res.stderr)
        res = sh(cli, "app", f"chmod 666 {path} || rm -f {path}", check=False, user=user)
        assert res.returncode != 0, path
    assert sh(cli, "app", "cat /etc/abs.key").stdout == api_key
    cli("restart", "app")  # the files stay with the container, not with its process
    assert sh(cli, "app", "cat /run/secrets/api.key /rel.conf").stdout == api_key + conf_env
    # granted per service: the other service sees none of them
    assert sh(cli, "other", "ls /run/secrets /app_conf /etc/inline.conf 2>&1; true").stdout.count("No such file") == 3

    cid = json.loads(cli("container", "inspect", f"{cli.project}-app-1", project=False).stdout)
    cid = cid[0]["id"]
    upper = os.path.join(engine_root, "containers", cid, "upper")
    for value in (db_pw, api_key, conf_env, "key=value"):
        assert files_holding(upper, value.encode()) == []
    # inspecting the container does not show them either
    inspected = cli("container", "inspect", f"{cli.project}-app-1", project=False).stdout
    assert api_key not in inspected and conf_env not in inspected

    cli("down")
    for value in (api_key, conf_env):
        assert files_holding(engine_root, value.encode()) == []
        assert files_holding(cache_dir(), value.encode()) == []
    assert not os.path.exists(os.path.join(engine_root, "containers", cid))


def test_external_secret_is_refused_in_one_line(stack):
    cli = stack
    cli.write("compose.yaml", f"""
services:
  app:
    image: composer/busybox
    command: {LOOP}
    secrets: [tls]
secrets:
  tls:
    external: true
    name: prod_tls
""")
    cli("config")  # as in Docker Compose, the file itself is valid
    res = cli("up", "-d", check=False)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "external" in lines[0] and "Swarm" in lines[0] and "tls" in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert cli("ps", "-a", "-q").stdout.strip() == ""


def test_missing_sources_are_one_line_errors(stack):
    cli = stack
    cli.write("compose.yaml", f"""
services:
  app:
    image: composer/busybox
    command: {LOOP}
    secrets: [pw]
secrets:
  pw:
    environment: NOT_SET_ANYWHERE_{uuid.uuid4().hex[:6].upper()}
""")
    res = cli("up", "-d", check=False)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode != 0 and len(lines) == 1 and "is not set" in lines[0] and "pw" in lines[0], res.stderr
    cli.write("compose.yaml", f"""
services:
  app:
    image: composer/busybox
    command: {LOOP}
    secrets: [pw]
secrets:
  pw:
    file: ./missing.txt
""")
    res = cli("up", "-d", check=False)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode != 0 and len(lines) == 1 and "missing.txt" in lines[0], res.stderr
    assert cli("ps", "-a", "-q").stdout.strip() == ""


def test_a_create_that_crashed_leaves_no_secret_behind(stack, engine_root):
    """A CLI killed while creating a container leaves its half-made directory (with the secret files
    already written); the next create removes it."""
    cli = stack
    value = f"v-{uuid.uuid4().hex}"
    half = os.path.join(engine_root, "containers", uuid.uuid4().hex * 2 + ".creating")
    os.makedirs(os.path.join(half, "files"))
    with open(os.path.join(half, "files", "0"), "w") as f:
        f.write(value)
    cli.write("compose.yaml", f"services:\n  app:\n    image: composer/busybox\n    command: {LOOP}\n"
                              "    stop_grace_period: 1s\n")
    cli("up", "-d")
    assert not os.path.exists(half) and files_holding(engine_root, value.encode()) == []
