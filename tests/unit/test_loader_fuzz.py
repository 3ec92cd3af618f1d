"""Property tests: whatever file the loader is given, it either loads it or raises one clean
StackFileError (never another exception, which the CLI would show as an unexpected failure), and
`composer config` either prints the stack or one error line with exit status 1."""
from __future__ import annotations

import contextlib
import io
import os
import tempfile

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer.errors import StackFileError
from composer.load.loader import LoadOptions, load

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

SERVICE_KEYS = ["image", "build", "command", "entrypoint", "environment", "env_file", "ports", "volumes",
                "depends_on", "networks", "network_mode", "links", "volumes_from", "healthcheck", "deploy",
                "develop", "extends", "profiles", "labels", "extra_hosts", "sysctls", "ulimits", "secrets",
                "configs", "devices", "logging", "tmpfs", "mem_limit", "shm_size", "cpus", "restart",
                "stop_grace_period", "user", "expose", "dns", "blkio_config", "gpus", "x-ext"]
TOP_KEYS = ["services", "networks", "volumes", "secrets", "configs", "include", "name", "x-top", "version"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-70000, 70000), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["80:80", "127.0.0.1:8080:80/udp", "[::1]:1-2:3-4", "./src:/src:ro", "/anon", "data:/d",
                     "service:a", "a", "b", "${X}", "${X:-d}", "${X:?}", "$$", "${", "$", "1m30s", "10",
                     "512m", "sync", "true", "no", "~", "../x", "CMD-SHELL", "a=b", "host:1.2.3.4", "0440",
                     "../../..", "80-", "-1", "1e400", "99999999999999999999h", "0x50", "1-99999", "::", "=",
                     "${X:-${Y:-${Z:-z}}}", "${X:+${Y:?no}}", "${Y:?}", "${1}", "$${X}"]),
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, 10**20, -(10**20), 2**63]),
    st.integers(1, 3000).map(lambda n: "${A:-" * n + "x" + "}" * n),
    st.text(max_size=12),
)


def values(depth: int = 2):
    if depth == 0:
        return scalars
    inner = values(depth - 1)
    return st.one_of(scalars, st.lists(inner, max_size=3),
                     st.dictionaries(st.sampled_from(["target", "source", "type", "path", "action", "service",
                                                      "file", "condition", "required", "soft", "hard", "test",
                                                      "context", "published", "aliases", "a", "b", "external",
                                                      "name", "driver", "limits", "resources", "watch"]),
                                     inner, max_size=3))


services = st.dictionaries(st.sampled_from(["a", "b", "c"]),
                           st.one_of(st.none(), st.dictionaries(st.sampled_from(SERVICE_KEYS), values(), max_size=5)),
                           max_size=3)
documents = st.fixed_dictionaries({"services": services},
                                  optional={k: values() for k in TOP_KEYS if k != "services"})


def config_text(text: str, extra: dict[str, str] | None = None, argv: tuple = ("config",)) -> None:
    """`composer config` in-process on *text*: success, or one line on stderr and exit status 1."""
    from composer.cli.main import main

    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "compose.yaml"), "w", encoding="utf-8") as f:
            f.write(text)
        for name, content in (extra or {}).items():
            with open(os.path.join(d, name), "w", encoding="utf-8") as f:
                f.write(content)
        out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
        os.chdir(d)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["--root", os.path.join(d, "root"), "-p", "fuzz", *argv])
        finally:
            os.chdir(here)
        errors = [line for line in err.getvalue().splitlines() if not line.startswith("WARN[")]
        assert "unexpected failure" not in err.getvalue(), err.getvalue()
        if code == 0:
            assert errors == [], err.getvalue()
        else:
            assert code == 1 and len(errors) == 1 and errors[0].startswith("error: "), (code, err.getvalue())


def load_text(text: str, extra: dict[str, str] | None = None) -> None:
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "compose.yaml"), "w", encoding="utf-8") as f:
            f.write(text)
        for name, content in (extra or {}).items():
            with open(os.path.join(d, name), "w", encoding="utf-8") as f:
                f.write(content)
        try:
            load(LoadOptions(project_name="fuzz", environ={"X": "1"}), cwd=d)
        except StackFileError as e:
            assert str(e) and "\n" not in str(e).strip()


FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(documents)
def test_random_documents_load_or_fail_cleanly(doc):
    load_text(yaml.safe_dump(doc, sort_keys=False))


def _corpus_texts() -> list[str]:
    texts = []
    for case in sorted(os.listdir(CORPUS)):
        path = os.path.join(CORPUS, case, "compose.yaml")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                texts.append(f.read())
    return texts


TEXTS = _corpus_texts()


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "swap"]))
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = draw(st.integers(i, min(len(text), i + 40)))
        if kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "insert":
            text = text[:i] + draw(st.sampled_from([":", "- ", "  ", "\n", "{", "[", "!reset ", "!override ", "&a ",
                                                    "*a", "<<: ", "${", "$", "'", '"', "#", "\t", "x"])) + text[i:]
        elif kind == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            lines = text.splitlines(keepends=True)
            a, b = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[a], lines[b] = lines[b], lines[a]
            text = "".join(lines)
    return text


@FUZZ
@given(mutated())
def test_mutated_corpus_files_load_or_fail_cleanly(text):
    load_text(text, {"common.env": "A=1\n", ".env": "TAG=1\n"})


CONFIG_FUZZ = settings(FUZZ, max_examples=max(1, int(os.environ.get("FUZZ_EXAMPLES", "150")) // 3))


@CONFIG_FUZZ
@given(st.one_of(documents.map(lambda doc: yaml.safe_dump(doc, sort_keys=False)), mutated()),
       st.sampled_from([("config",), ("config", "--format", "json"), ("config", "--no-normalize"),
                        ("config", "--no-interpolate"), ("config", "--services"), ("config", "--hash", "*")]))
def test_composer_config_prints_or_fails_with_one_line(text, argv):
    config_text(text, {"common.env": "A=1\n", ".env": "TAG=1\n"}, argv)


@st.composite
def hostile(draw):
    """Files made to break parsers: deep nesting, duplicate and merge keys, odd values in odd places."""
    depth = draw(st.integers(1, 2500))
    key = draw(st.sampled_from(SERVICE_KEYS))
    value = draw(st.sampled_from([
        "[" * depth + "]" * depth,
        "{a: " * depth + "1" + "}" * depth,
        '"' + "${A:-" * depth + "x" + "}" * depth + '"',
        "*x", "&y [*y]", "!reset", "!override {a: 1, a: 2}", "{<<: *x, <<: *x}", "{<<: [*x, *x], a: 1}",
        "[{target: 80, published: '../../..'}]", "{a: 1, a: 1}", "1e400", ".nan", "-.inf", "0o777777777777777777777",
    ]))
    lines = ["x-base: &x {image: a, restart: always}", "services:", "  web:", "    <<: *x", f"    {key}: {value}"]
    if draw(st.booleans()):
        lines.append(f"    {key}: {value}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(hostile())
def test_hostile_files_fail_with_one_line(text):
    load_text(text)
    config_text(text)


def test_alias_bomb_is_refused_quickly():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("services:\n  s:\n    image: x\n    x-bomb: *a8")
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "compose.yaml"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        with pytest.raises(StackFileError, match="expands to more than"):
            load(LoadOptions(project_name="fuzz", environ={}), cwd=d)


def test_recursive_alias_is_refused():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "compose.yaml"), "w", encoding="utf-8") as f:
            f.write("x-loop: &a\n  b: *a\nservices:\n  s: {image: x}\n")
        with pytest.raises(StackFileError, match="recursive|contains it"):
            load(LoadOptions(project_name="fuzz", environ={}), cwd=d)
