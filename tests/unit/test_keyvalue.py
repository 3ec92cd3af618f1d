"""One reading of KEY=VALUE options for every command: a bare KEY as Docker reads it."""
import pytest

from composer.cli.keyvalue import pairs
from composer.errors import ComposerError


def test_a_bare_label_is_an_empty_value_everywhere():
    # `network create`, `volume create` and `image build` all take --label the same way, as Docker does
    assert pairs(["a=1", "KEY", "b=x=y"], "--label") == {"a": "1", "KEY": "", "b": "x=y"}


def test_a_bare_build_arg_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FROM_ENV", "v")
    monkeypatch.delenv("UNSET_ONE", raising=False)
    assert pairs(["FROM_ENV", "UNSET_ONE", "X=1"], "--build-arg", bare="environment") == {"FROM_ENV": "v", "X": "1"}


def test_an_option_needs_its_value():
    with pytest.raises(ComposerError, match="invalid option 'size': use KEY=VALUE"):
        pairs(["size"], "option", bare="refuse")
    with pytest.raises(ComposerError):
        pairs(["=v"], "--label")
