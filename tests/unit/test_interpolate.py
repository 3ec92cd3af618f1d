import pytest

from composer.errors import StackFileError
from composer.load.interpolate import InterpolationError, Interpolator, interpolate_tree

ENV = {"SET": "value", "EMPTY": "", "NESTED": "n"}


@pytest.mark.parametrize("text,expected", [
    ("plain", "plain"),
    ("$SET", "value"),
    ("${SET}", "value"),
    ("a-${SET}-b", "a-value-b"),
    ("${UNSET:-fallback}", "fallback"),
    ("${EMPTY:-fallback}", "fallback"),
    ("${EMPTY-fallback}", ""),
    ("${UNSET-fallback}", "fallback"),
    ("${SET:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${UNSET:-${NESTED}-x}", "n-x"),
    ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
    ("$$SET", "$SET"),
    ("$${SET}", "${SET}"),
    ("cost: 5$", "cost: 5$"),
])
def test_forms(text, expected):
    warned = []
    assert Interpolator(ENV, warn=warned.append).text(text) == expected


def test_unset_warns_once_and_is_blank():
    warned = []
    interp = Interpolator(ENV, warn=warned.append)
    assert interp.text("${NOPE}/$NOPE") == "/"
    assert warned == ["NOPE"]


@pytest.mark.parametrize("text", ["${EMPTY:?must be set}", "${UNSET?must be set}"])
def test_required_variables_fail_with_message(text):
    with pytest.raises(InterpolationError, match="must be set"):
        Interpolator(ENV).text(text)


def test_required_set_passes():
    assert Interpolator(ENV).text("${EMPTY?x}") == ""
    assert Interpolator(ENV).text("${SET:?x}") == "value"


@pytest.mark.parametrize("text", ["${SET", "${}", "${SET:x}"])
def test_malformed(text):
    with pytest.raises(InterpolationError):
        Interpolator(ENV).text(text)


def test_tree_error_names_path_and_place():
    data = {"services": {"web": {"image": "${NEED:?set NEED}"}}}
    with pytest.raises(StackFileError) as e:
        interpolate_tree(data, {}, lambda p: "compose.yaml:3")
    assert str(e.value).startswith("compose.yaml:3: services.web.image: required variable NEED")


def test_tree_leaves_keys_and_non_strings():
    data = {"$KEY": [1, True, None, "$SET"]}
    assert interpolate_tree(data, ENV) == {"$KEY": [1, True, None, "value"]}
