"""Secrets and configs of a service as engine mounts (composer/converge/secretfiles.py), without containers."""
from __future__ import annotations

import os
import time

import pytest

from composer.converge import containerspec
from composer.load.dotenv import parse
from composer.errors import ComposerError
from composer.load.loader import LoadOptions, load


def project(tmp_path, text: str, env: dict | None = None):
    (tmp_path / "compose.yaml").write_text(text)
    return load(LoadOptions(project_name="p", environ={"HOME": "/root", **(env or {})}), cwd=str(tmp_path))


def test_targets_modes_and_owners_as_compose_sets_them(tmp_path):
    (tmp_path / "pw.txt").write_text("pw")
    p = project(tmp_path, """
services:
  app:
    image: busybox
    volumes: [/run/secrets/taken]
    secrets:
      - pw
      - {source: key, target: rel.key, mode: 0400, uid: "7", gid: "8"}
      - {source: key, target: /abs.key}
      - {source: key, target: taken}
    configs:
      - conf
      - {source: conf, target: etc/x.conf, mode: 0440}
secrets:
  pw: {file: ./pw.txt}
  key: {environment: KEY}
configs:
  conf: {content: "a=b"}
""", {"KEY": "k"})
    mounts = {m.target: m for m in containerspec.container_spec(p, p.services["app"]).mounts}
    assert set(mounts) == {"/run/secrets/taken", "/run/secrets/pw", "/run/secrets/rel.key", "/abs.key", "/conf",
                           "/etc/x.conf"}
    assert mounts["/run/secrets/taken"].type == "volume"  # a volume at the same target wins, as in Compose
    pw = mounts["/run/secrets/pw"]
    assert (pw.type, pw.source, pw.read_only) == ("bind", os.path.join(str(tmp_path), "pw.txt"), True)
    rel = mounts["/run/secrets/rel.key"]
    assert (rel.type, rel.content, rel.file_mode, rel.uid, rel.gid) == ("file", b"k", 0o400, 7, 8)
    assert (mounts["/abs.key"].file_mode, mounts["/abs.key"].uid) == (0o444, 0)
    assert (mounts["/conf"].content, mounts["/etc/x.conf"].file_mode) == (b"a=b", 0o440)


@pytest.mark.parametrize("secret, message", [
    ("{external: true, name: prod}", "is external (name prod): external secrets need Docker Swarm"),
    ("{environment: NOPE}", "environment variable 'NOPE' required by secret 's' is not set"),
    ("{file: ./missing}", "missing of secret 's' does not exist"),
    ("{file: ./x, driver: vault}", "secrets.*.driver is not supported"),
])
def test_refused_in_one_line(tmp_path, secret, message):
    (tmp_path / "x").write_text("x")
    p = project(tmp_path, f"services:\n  app:\n    image: busybox\n    secrets: [s]\nsecrets:\n  s: {secret}\n")
    with pytest.raises(ComposerError) as info:
        containerspec.container_spec(p, p.services["app"])
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith("services.app.secrets[0]: ")


def test_build_secrets_take_the_target_as_id(tmp_path):
    from composer.converge.secretfiles import build_secrets

    (tmp_path / "f").write_bytes(b"\x00bin")
    p = project(tmp_path, """
services:
  app:
    build:
      context: .
      secrets: [f, {source: e, target: other}]
secrets:
  f: {file: ./f}
  e: {environment: E}
""", {"E": "ev"})
    svc = p.services["app"]
    assert build_secrets(p, svc) == {"f": b"\x00bin", "other": b"ev"}


def test_a_remembered_project_keeps_no_secret_value(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / ".env").write_text("TOKEN='from-dotenv-value'\n")
    text = ("services:\n  app:\n    image: busybox\n    secrets: [t, s]\n"
            "secrets:\n  t: {environment: TOKEN}\n  s: {environment: SHELL_TOKEN}\n")
    (tmp_path / "compose.yaml").write_text(text)
    time.sleep(0.1)  # files changed within a clock tick are not remembered
    for _ in range(2):  # the second comes from the cache
        p = load(LoadOptions(project_name="p", environ={"HOME": "/root", "SHELL_TOKEN": "from-shell-value"}),
                 cwd=str(tmp_path))
        assert p.environment == {"TOKEN": "from-dotenv-value", "SHELL_TOKEN": "from-shell-value"}
    stored = b"".join(f.read_bytes() for f in (tmp_path / "cache").rglob("*") if f.is_file())
    assert stored and b"from-dotenv-value" not in stored and b"from-shell-value" not in stored


def test_dotenv_reports_names_not_values():
    names: set[str] = set()
    parse("A=one\nB=\"two ${C}\"\nexport D='lit $E'\nF\n", "x", {}, names=names)
    assert names == {"A", "B", "C", "D", "F"}


def test_image_build_secret_option(tmp_path, monkeypatch):
    from composer.cli.commands.image.build import secrets

    (tmp_path / "f.txt").write_bytes(b"file-value")
    (tmp_path / "named").write_bytes(b"by-id")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MY_VAR", "env-value")
    monkeypatch.setenv("ENVID", "id-env")
    assert secrets(["id=a,src=f.txt", "id=b,source=f.txt,type=file", "id=c,env=MY_VAR", "id=d,type=env,src=MY_VAR",
                    "id=ENVID", "id=named"]) == {
        "a": b"file-value", "b": b"file-value", "c": b"env-value", "d": b"env-value", "ENVID": b"id-env",
        "named": b"by-id"}
    for bad, message in (("src=f.txt", "use id=ID"), ("id=x,src=nope", "cannot read nope"),
                         ("id=x,env=NOT_SET_HERE", "NOT_SET_HERE is not set"), ("id=x,what=1", "use id=ID")):
        with pytest.raises(ComposerError) as info:
            secrets([bad])
        assert message in str(info.value), bad
