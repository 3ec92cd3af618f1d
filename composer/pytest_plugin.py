"""pytest plugin: stacks as test fixtures (registered through the `pytest11` entry point).

    @pytest.mark.stack("compose.yaml", scope="module")     # on a test, a class, or `pytestmark`
    def test_api(stack):                                   # a composer.Stack, up and healthy
        host, port = stack.port("web", 80)

The path is relative to the test file. *scope* ("function", the default, "class", "module" or
"session") says how long one stack lives: it comes down when the last test of its scope has run,
failed or not. A failing test's report gets the logs of the stack's services. Each stack has a
project name of its own, so parallel runs (pytest-xdist) never collide. Other options: profiles=,
env= (interpolation variables), root= (the engine root), build=True, services=[...], timeout= (seconds
to wait for the services to run and be healthy; default 120).

reuse=True keeps the stack running after the tests, for the next run (see composer/reuse.py): an
unchanged configuration starts warm, a changed one is recreated, pytest-xdist workers share one, and
one idle for longer than reuse_ttl= seconds (default 900) is removed by a later run.

To reset state between tests of a longer-lived stack: `snap = stack.snapshot()` once (e.g. after
seeding a database), then `stack.restore(snap)` at the start of each test.
"""
from __future__ import annotations

import os

import pytest

SCOPES = ("function", "class", "module", "session")
_active: dict[tuple, object] = {}  # (scope key, file, options) -> Stack


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "stack(path, scope='function', profiles=(), env=None, root=None, "
                                       "build=False, services=None, timeout=120, reuse=False, reuse_ttl=900): "
                                       "run the test against this stack (the `stack` fixture)")


def _scope_key(item, scope: str) -> str:
    if scope == "function":
        return item.nodeid
    if scope == "class":
        cls = item.getparent(pytest.Class)
        return cls.nodeid if cls else item.module.__name__
    if scope == "module":
        return item.module.__name__
    return "session"


def _spec(item):
    marker = item.get_closest_marker("stack")
    if marker is None:
        return None
    if not marker.args:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.stack needs the path of a stack file")
    kw = dict(marker.kwargs)
    scope = kw.pop("scope", "function")
    if scope not in SCOPES:
        raise pytest.UsageError(f"{item.nodeid}: stack scope {scope!r} is not one of {', '.join(SCOPES)}")
    path = os.path.join(os.path.dirname(str(item.path)), marker.args[0])
    key = (_scope_key(item, scope), path, repr(sorted(kw.items())))
    return key, path, kw


@pytest.fixture
def stack(request):
    """The composer.Stack of the test's @pytest.mark.stack, up (and healthy) before the test."""
    spec = _spec(request.node)
    if spec is None:
        raise pytest.UsageError(f"{request.node.nodeid}: the `stack` fixture needs @pytest.mark.stack(path)")
    key, path, kw = spec
    found = _active.get(key)
    if found is None:
        from composer.errors import ComposerError
        from composer.stack import Stack

        if not os.path.isfile(path):
            pytest.fail(f"@pytest.mark.stack: stack file not found: {path}", pytrace=False)
        try:
            found = Stack(path, env=kw.get("env"), profiles=kw.get("profiles") or (), root=kw.get("root"),
                          reuse=bool(kw.get("reuse")), reuse_ttl=kw.get("reuse_ttl"))
        except ComposerError as e:
            pytest.fail(f"@pytest.mark.stack({marker_path(request.node)!r}): {e}", pytrace=False)
        _active[key] = found  # registered first: a failing up still comes down with its scope
        try:
            found.up(wait=True, services=kw.get("services"), build=bool(kw.get("build")),
                     timeout=kw.get("timeout", 120))
        except ComposerError as e:
            pytest.fail(f"stack {found.name} did not come up: {e}", pytrace=False)
    return found


def marker_path(item) -> str:
    return item.get_closest_marker("stack").args[0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    spec = _spec(item)
    found = _active.get(spec[0]) if spec else None
    if found is None:
        return
    try:
        text = found.logs()
    except Exception as e:  # noqa: BLE001 - the report must not fail because the logs could not be read
        text = f"(the stack's logs could not be read: {e})"
    report.sections.append((f"composer logs ({found.name})", text or "(no output)"))


def pytest_runtest_teardown(item, nextitem) -> None:
    """Bring down the stacks whose scope ends with this test."""
    following = {_scope_key(nextitem, scope) for scope in SCOPES} if nextitem is not None else set()
    for key in list(_active):
        if key[0] not in following:
            _down(key)


def _down(key) -> None:
    found = _active.pop(key, None)
    if found is None:
        return
    if found.reuse:
        found.release()  # it stays up for the next run
        _reused_roots.add(found.engine.paths.run)
    else:
        found.down(volumes=True)


_reused_roots: set[str] = set()


def pytest_sessionfinish(session, exitstatus) -> None:
    for key in list(_active):
        _down(key)
    if _reused_roots:  # reused stacks (of any project) idle past their time-to-live go now
        from composer import reuse
        from composer.stack import down_project
        from engine.api import Engine

        for run in _reused_roots:
            engine = Engine(os.path.dirname(run))
            reuse.sweep(run, lambda name, engine=engine: down_project(engine, name))
