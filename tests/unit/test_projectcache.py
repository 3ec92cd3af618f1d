"""A repeated load of an unchanged stack comes from composer.load.projectcache; any change is seen."""
import os
import time

import pytest

from composer.load import loader
from composer.load import projectcache
from composer.load.loader import LoadOptions, load


@pytest.fixture
def stack(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    d = tmp_path / "proj"
    d.mkdir()
    return d


def write(path, text):
    path.write_text(text)
    time.sleep(projectcache.RACY_NS / 1e9 + 0.02)  # older than a clock tick: the load may be remembered


def opts(d, **environ):
    return LoadOptions(environ={"HOME": "/root", **environ}), str(d)


def load_twice(d, monkeypatch, **environ):
    """The project loaded, then loaded again where reading the files is not allowed (must be a hit)."""
    o, cwd = opts(d, **environ)
    first = load(o, cwd)
    with monkeypatch.context() as m:
        m.setattr(loader, "load_uncached", lambda *a, **k: pytest.fail("loaded again instead of remembered"))
        second = load(o, cwd)
    assert second == first
    return second


def test_unchanged_stack_is_remembered(stack, monkeypatch):
    write(stack / "compose.yaml", "services:\n  web:\n    image: nginx:${TAG:-1}\n")
    p = load_twice(stack, monkeypatch)
    assert p.services["web"].image == "nginx:1"
    assert len(os.listdir(projectcache.directory())) == 1


def test_edit_of_same_size_is_seen(stack):
    write(stack / "compose.yaml", "services:\n  web:\n    image: nginx:1\n")
    o, cwd = opts(stack)
    assert load(o, cwd).services["web"].image == "nginx:1"
    (stack / "compose.yaml").write_text("services:\n  web:\n    image: nginx:2\n")  # at once, same size
    assert load(o, cwd).services["web"].image == "nginx:2"


def test_new_override_file_is_seen(stack, monkeypatch):
    write(stack / "compose.yaml", "services:\n  web:\n    image: nginx:1\n")
    load_twice(stack, monkeypatch)
    write(stack / "compose.override.yaml", "services:\n  web:\n    image: nginx:3\n")
    o, cwd = opts(stack)
    assert load(o, cwd).services["web"].image == "nginx:3"


def test_environment_dotenv_and_env_file_changes_are_seen(stack, monkeypatch):
    write(stack / "compose.yaml", "services:\n  web:\n    image: nginx:${TAG}\n    env_file: [app.env]\n")
    write(stack / ".env", "TAG=1\n")
    write(stack / "app.env", "MODE=a\n")
    p = load_twice(stack, monkeypatch)
    assert (p.services["web"].image, p.services["web"].environment["MODE"]) == ("nginx:1", "a")
    o, cwd = opts(stack, TAG="9")
    assert load(o, cwd).services["web"].image == "nginx:9"
    write(stack / ".env", "TAG=22\n")
    write(stack / "app.env", "MODE=bb\n")
    p = load(*opts(stack))
    assert (p.services["web"].image, p.services["web"].environment["MODE"]) == ("nginx:22", "bb")


def test_warnings_are_printed_again_on_a_hit(stack, monkeypatch, capsys):
    write(stack / "compose.yaml", "version: '3'\nservices:\n  web:\n    image: nginx:${UNSET_TAG}\n")
    load(*opts(stack))
    first = capsys.readouterr().err
    assert "UNSET_TAG" in first and "obsolete" in first
    load_twice(stack, monkeypatch)
    assert capsys.readouterr().err == first * 2


def test_unreadable_entry_is_ignored(stack):
    write(stack / "compose.yaml", "services:\n  web:\n    image: nginx:1\n")
    o, cwd = opts(stack)
    load(o, cwd)
    (entry,) = os.listdir(projectcache.directory())
    with open(os.path.join(projectcache.directory(), entry), "wb") as f:
        f.write(b"not a pickle")
    assert load(o, cwd).services["web"].image == "nginx:1"


def test_file_changed_within_a_clock_tick_is_not_remembered(stack):
    # a second edit in the same tick would keep mtime and ctime: such a load must be read again next time
    (stack / "compose.yaml").write_text("services:\n  web:\n    image: nginx:1\n")
    load(*opts(stack))
    assert not os.path.exists(projectcache.directory()) or not os.listdir(projectcache.directory())


def test_only_variables_the_files_name_matter(stack, monkeypatch):
    write(stack / "compose.yaml", "services:\n  web:\n    image: nginx:${TAG:-1}\n    environment: [PASSED]\n")
    o, cwd = opts(stack, UNRELATED="a", PASSED="x")
    first = load(o, cwd)
    with monkeypatch.context() as m:  # another value of a variable no file names: still remembered
        m.setattr(loader, "load_uncached", lambda *a, **k: pytest.fail("loaded again instead of remembered"))
        assert load(*opts(stack, UNRELATED="b", PASSED="x")) == first
    assert load(*opts(stack, UNRELATED="b", PASSED="y")).services["web"].environment["PASSED"] == "y"
    assert load(*opts(stack, UNRELATED="b", PASSED="y", TAG="2")).services["web"].image == "nginx:2"
    assert load(*opts(stack, UNRELATED="b", PASSED="y", COMPOSE_PROJECT_NAME="other")).name == "other"
