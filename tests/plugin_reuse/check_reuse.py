"""A suite using a reused stack (run twice by tests/integration/test_stack_fixtures.py, also under
pytest-xdist): every test, worker and run sees the one container."""
import pytest

pytestmark = pytest.mark.stack("compose.yaml", reuse=True, timeout=60)


@pytest.mark.parametrize("n", range(4))
def test_the_reused_stack(stack, n):
    [c] = stack.ps()
    assert c.state == "running"
    stack.wait_for_log("web", "listening", timeout=10)
    assert stack.wait_for_http("web", 80, "/", timeout=10) == b"served\n"
    print("CONTAINER", c.name, stack.engine.inspect_container(c.name).id)
