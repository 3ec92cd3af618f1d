"""A test suite that uses composer's pytest plugin; tests/integration/test_pytest_plugin.py runs it
(files here are named check_*.py so the main test run does not collect them)."""
import pytest

pytestmark = pytest.mark.stack("compose.yaml", scope="module")


def test_stack_is_up_and_healthy(stack):
    states = [(c.service, c.state, c.health) for c in stack.ps()]
    assert states == [("db", "running", "healthy")]
    stack.exec("db", "echo seeded > /data/seed")
    print("PROJECT", stack.name)


def test_same_module_shares_the_stack(stack):
    assert stack.exec("db", "cat /data/seed").stdout == "seeded\n"
    print("PROJECT", stack.name)


def test_reset_with_snapshots(stack):
    stack.exec("db", "echo keep > /data/keep")
    snap = stack.snapshot()
    stack.exec("db", "rm /data/keep")
    stack.restore(snap)
    assert stack.exec("db", "cat /data/keep").stdout == "keep\n"


@pytest.mark.stack("compose.yaml")
def test_function_scope_gets_its_own_stack(stack):
    assert stack.exec("db", "cat /data/seed").exit_code != 0
    print("PROJECT", stack.name)


@pytest.mark.stack("compose.yaml")
def test_failing_test_gets_the_logs(stack):
    print("PROJECT", stack.name)
    assert stack.exec("db", "true").exit_code == 1, "this test fails on purpose"
