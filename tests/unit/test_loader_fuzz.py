"""Property tests: whatever file the loader is given, it either loads it or raises one clean
StackFileError (never another exception, which the CLI would show as an unexpected failure)."""
from __future__ import annotations

import os
import tempfile

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer.errors import StackFileError
from composer.loader import LoadOptions, load

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
                     "512m", "sync", "true", "no", "~", "../x", "CMD-SHELL", "a=b", "host:1.2.3.4", "0440"]),
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
