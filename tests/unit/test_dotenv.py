import pytest

from composer.load.dotenv import parse
from composer.errors import StackFileError


def test_dotenv_syntax():
    text = """
# a comment
PLAIN=value
export EXPORTED=yes
SPACED = padded
TRAILING=word # a comment
SINGLE='literal ${PLAIN} \\n'
DOUBLE="expanded ${PLAIN}\\tand escaped"
MULTI="line one
line two"
REF=${PLAIN}-ref
DEFAULT=${MISSING:-fallback}
EMPTY=
"""
    env = parse(text, ".env")
    assert env["PLAIN"] == "value"
    assert env["EXPORTED"] == "yes"
    assert env["SPACED"] == "padded"
    assert env["TRAILING"] == "word"
    assert env["SINGLE"] == "literal ${PLAIN} \\n"
    assert env["DOUBLE"] == "expanded value\tand escaped"
    assert env["MULTI"] == "line one\nline two"
    assert env["REF"] == "value-ref"
    assert env["DEFAULT"] == "fallback"
    assert env["EMPTY"] == ""


def test_bad_line_names_file_and_line():
    with pytest.raises(StackFileError, match=r"^\.env:2: invalid line"):
        parse("A=1\nnot a valid line\n", ".env")


def test_unterminated_quote():
    with pytest.raises(StackFileError, match="unterminated"):
        parse('A="open\n', ".env")


def test_escaped_dollar_is_literal_and_bare_keys():
    env = parse('A=1\nB="\\$A and $A"\nC\n', ".env", bare_from={"C": "from-env"})
    assert env == {"A": "1", "B": "$A and 1", "C": "from-env"}


def test_raw_format_takes_values_as_written():
    env = parse("A='x'\nB=${A} # not a comment\n", ".env", raw=True)
    assert env == {"A": "'x'", "B": "${A} # not a comment"}
