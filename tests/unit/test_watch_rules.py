"""Which changed paths a develop.watch rule takes, where they go, and how a batch splits."""
from __future__ import annotations

import os

import pytest

from composer.errors import ComposerError
from composer.load.loader import LoadOptions, load
from composer.watch.actions import changes
from composer.watch.loop import batches, roots
from composer.watch.rules import rules_for


def project(tmp_path, text: str):
    (tmp_path / "compose.yaml").write_text(text)
    return load(LoadOptions(files=[str(tmp_path / "compose.yaml")]))


STACK = """services:
  web:
    build: ./app
    develop:
      watch:
        - path: ./app/src
          target: /srv
          action: sync
          ignore: ["*.tmp", "build/"]
        - path: ./app/src
          target: /srv
          action: sync+exec
          include: ["**/*.py"]
          exec: {command: "touch /reloaded"}
        - path: ./app/Dockerfile
          action: rebuild
        - path: ./app/conf.ini
          target: /etc/conf.ini
          action: sync+restart
"""


@pytest.fixture
def stack(tmp_path):
    for name in ("app/src/a.txt", "app/src/pkg/m.py", "app/Dockerfile", "app/conf.ini", "app/src/notes.secret"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "app/.dockerignore").write_text("**/*.secret\n")
    return tmp_path, rules_for(project(tmp_path, STACK), [])


def test_paths_taken_by_each_rule(stack):
    top, (sync, execs, rebuild, conf) = stack
    src = str(top / "app/src")
    assert sync.takes(f"{src}/a.txt") and sync.takes(f"{src}/new/deep.txt") and sync.takes(src)
    assert not sync.takes(f"{src}/x.tmp") and not sync.takes(f"{src}/build/out.o")
    assert not sync.takes(f"{src}/.git/index") and not sync.takes(f"{src}/.a.txt.swp") and not sync.takes(f"{src}/a~")
    assert not sync.takes(f"{src}/notes.secret")  # the build context's .dockerignore
    assert not sync.takes(str(top / "app/other.txt")) and not sync.takes(src + "2/a.txt")
    assert execs.takes(f"{src}/pkg/m.py") and not execs.takes(f"{src}/a.txt")
    assert rebuild.takes(str(top / "app/Dockerfile")) and not rebuild.takes(str(top / "app/Dockerfile.bak"))
    assert sync.container_path(f"{src}/pkg/m.py") == "/srv/pkg/m.py" and sync.container_path(src) == "/srv"
    assert conf.container_path(str(top / "app/conf.ini")) == "/etc/conf.ini"
    assert execs.exec["command"] == ["touch", "/reloaded"]


def test_batches_split_by_rule_and_roots_cover_file_rules(stack):
    top, rules = stack
    got = batches(rules, {str(top / "app/src/pkg/m.py"), str(top / "app/src/a.txt"), str(top / "app/conf.ini"),
                          str(top / "app/src/x.tmp")})
    assert list(got) == ["web"]
    assert {i: sorted(os.path.basename(p) for p in paths) for i, (_, paths) in got["web"].items()} == \
        {0: ["a.txt", "m.py"], 1: ["m.py"], 3: ["conf.ini"]}
    assert roots(rules) == [str(top / "app")]  # src and the files' directory, nested ones dropped


def test_a_new_directory_brings_what_is_below_and_deleted_paths_are_removed(stack):
    top, (sync, *_) = stack
    files, removals = changes(sync, {str(top / "app/src/pkg"), str(top / "app/src/gone.txt")})
    assert [dest for _, dest in files] == ["/srv/pkg", "/srv/pkg/m.py"] and removals == ["/srv/gone.txt"]


@pytest.mark.parametrize("rule, message", [
    ("{path: ./src, action: sync}", "needs a target"),
    ("{path: ./src, target: rel, action: sync}", "must be an absolute container path"),
    ("{path: ./src, action: rebuild}", "needs the service to have a build: section"),
    ("{path: ./src, target: /x, action: sync+exec}", "needs exec.command"),
    ("{path: ./nope, target: /x, action: sync}", "does not exist"),
])
def test_bad_rules(tmp_path, rule, message):
    (tmp_path / "src").mkdir()
    p = project(tmp_path, f"services:\n  s:\n    image: busybox\n    develop:\n      watch:\n        - {rule}\n")
    with pytest.raises(ComposerError, match=message):
        rules_for(p, [])
    with pytest.raises(ComposerError, match="none of the selected services"):
        rules_for(project(tmp_path, "services:\n  s:\n    image: busybox\n"), [])
