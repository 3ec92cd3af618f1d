"""pytest plugin: stacks as test fixtures (registered through the `pytest11` entry point).

    @pytest.mark.stack("compose.yaml", scope="module")     # on a test, a class, or `pytestmark`
    def test_api(stack):                                   # a composer.Stack, up and healthy
        host, port = stack.port("web", 80)

The path is relative to the test file. *scope* ("function", the default, "class", "module" or
"session") says how long one stack lives: it comes down when the last test of its scope has run,
failed or not. A failing test's report gets the logs of the stack's services. Each stack has a
project name of its own, so parallel runs (pytest-xdist) never collide. Other options: profiles=,
env= (interpolation variables), root= (the engine root), build=True, services=[...].

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
                                       "build=False, services=None): run the test against this stack "
                                       "(the `stack` fixture)")


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
        from composer.stack import Stack

        found = Stack(path, env=kw.get("env"), profiles=kw.get("profiles") or (), root=kw.get("root"))
        _active[key] = found  # registered first: a failing up still comes down with its scope
        found.up(wait=True, services=kw.get("services"), build=bool(kw.get("build")))
    return found


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
    if found is not None:
        found.down(volumes=True)


def pytest_sessionfinish(session, exitstatus) -> None:
    for key in list(_active):
        _down(key)
