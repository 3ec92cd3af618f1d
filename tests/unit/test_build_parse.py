"""Dockerfile parsing, word expansion, .dockerignore matching and the layered snapshot view."""
from __future__ import annotations

import os
import stat

import pytest

from engine.images.build import BuildError
from engine.images.build import shellwords as sw
from engine.images.build.context import Ignore
from engine.images.build.dockerfile import parse
from engine.images.build.layerfs import LayerFS
from engine.images.build.options import exec_form, flags


def test_continuations_comments_and_line_numbers():
    df = parse("# syntax=docker/dockerfile:1\n\nFROM a AS b\n# a comment\nRUN one \\\n  # inside\n\n  two\n"
               "run  lower\n")
    assert [(i.cmd, i.rest, i.line) for i in df.instructions] == [
        ("FROM", "a AS b", 3), ("RUN", "one   two", 5), ("RUN", "lower", 9)]
    assert df.directives == {"syntax": "docker/dockerfile:1"}


def test_escape_directive_backtick():
    df = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo\n")
    assert df.escape == "`"
    assert df.instructions[1].rest == "dir c:\\   && echo"


def test_heredocs():
    df = parse("FROM x\nRUN <<EOF\necho $A\nEOF\nCOPY <<-'A' <<B /d/\n\tkeep $X\n\tA\nb\nB\nCMD x\n")
    run, copy = df.instructions[1], df.instructions[2]
    assert [(h.name, h.content, h.expand) for h in run.heredocs] == [("EOF", "echo $A\n", True)]
    assert [(h.name, h.content, h.expand) for h in copy.heredocs] == [("A", "keep $X\n", False), ("B", "b\n", True)]
    assert df.instructions[3].cmd == "CMD"
    with pytest.raises(BuildError, match="not terminated"):
        parse("FROM x\nRUN <<EOF\necho\n")


def test_bad_lines_name_their_line():
    with pytest.raises(BuildError, match="Dockerfile:2"):
        parse("FROM x\n!!! what\n")
    with pytest.raises(BuildError, match="invalid escape"):
        parse("# escape=x\nFROM y\n")


@pytest.mark.parametrize("word,expected", [
    ("$A", "x y"), ("${A}z", "x yz"), ('"$A"', "x y"), ("'$A'", "$A"), ("\\$A", "$A"),
    ("${UNSET:-def}", "def"), ("${EMPTY:-def}", "def"), ("${EMPTY-def}", ""), ("${A:+alt}", "alt"),
    ("${UNSET:+alt}", ""), ("${UNSET:-${A}}", "x y"), ('a"b\\"c"', 'ab"c'), ("$", "$"), ("a$-b", "a$-b"),
])
def test_expand(word, expected):
    assert sw.expand(word, {"A": "x y", "EMPTY": ""}) == expected


def test_expand_errors_and_split():
    with pytest.raises(sw.WordError):
        sw.expand("${UNSET:?must be set}", {})
    with pytest.raises(sw.WordError):
        sw.split('a "b')
    assert sw.split('k="v 1" k2=v\\ 2  x') == ['k="v 1"', "k2=v\\ 2", "x"]
    assert sw.expand_all('k="$A b" c', {"A": "1"}) == ["k=1 b", "c"]


def test_flags_and_exec_form():
    assert flags("--from=build --chown=1:2 a b", ("from", "chown"), "COPY") == ({"from": "build", "chown": "1:2"},
                                                                              "a b")
    with pytest.raises(ValueError, match="--nope"):
        flags("--nope x", ("from",), "COPY")
    assert exec_form('["a", "b c"]') == ["a", "b c"]
    assert exec_form("[not json") is None and exec_form("echo [x]") is None and exec_form("[1]") is None


def test_dockerignore_rules():
    ig = Ignore(["# c", "*.log", "!keep.log", "/build/", "**/cache", "docs/*.md", "!docs/README.md", ""])
    assert ig.excluded("a.log") and not ig.excluded("keep.log") and not ig.excluded("sub/a.log")
    assert ig.excluded("build") and ig.excluded("build/x/y")
    assert ig.excluded("cache/z") and ig.excluded("a/b/cache/z") and not ig.excluded("cached")
    assert ig.excluded("docs/a.md") and not ig.excluded("docs/README.md") and not ig.excluded("docs/x/a.md")
    assert not Ignore([]).excluded("anything")


def _layer(tmp_path, name: str, files: dict[str, str | None], opaque: tuple[str, ...] = ()) -> str:
    root = tmp_path / name
    root.mkdir()
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))  # a whiteout
        elif content.startswith("->"):
            os.symlink(content[2:], path)
        else:
            path.write_text(content)
    for d in opaque:
        os.setxattr(root / d, "trusted.overlay.opaque", b"y")
    return str(root)


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted xattrs need root")
def test_layer_view_follows_overlay_rules(tmp_path):
    bottom = _layer(tmp_path, "l0", {"etc/a": "a0", "etc/b": "b0", "opt/x/1": "1", "var/run/f": "f",
                                     "lib/real/so": "so"})
    top = _layer(tmp_path, "l1", {"etc/a": "a1", "etc/b": None, "opt/x/2": "2", "link": "->/lib/real",
                                  "rel": "->lib/../lib/real/so", "loop": "->loop"}, opaque=("opt/x",))
    view = LayerFS([top, bottom])
    assert view.read("/etc/a") == b"a1" and view.lstat("/etc/b") is None
    assert view.listdir("/etc") == ["a"] and view.listdir("/opt/x") == ["2"]
    assert view.lstat("/opt/x/1") is None
    assert view.resolve("/link/so") == "/lib/real/so" and view.read("/rel") == b"so"
    assert view.resolve("/../../etc/a") == "/etc/a"
    with pytest.raises(OSError):
        view.resolve("/loop")


def test_every_instruction_has_its_step():
    from engine.images.build.dockerfile import Instr
    from engine.images.build.executor import STEPS

    assert set(STEPS) == set(Instr) - {Instr.ARG}  # ARG is the builder's own (it sees the meta-args)
    assert Instr.of("run") is Instr.RUN and Instr.of("FROBNICATE") is None
