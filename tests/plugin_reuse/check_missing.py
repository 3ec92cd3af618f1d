"""A marker naming a stack file that does not exist: a one-line error, no traceback."""
import pytest


@pytest.mark.stack("no-such-compose.yaml")
def test_missing(stack):
    pass
