"""The loader against a corpus of stack files (tests/unit/corpus/*): each case's `config --format json`
output must equal, field by field, what Docker Compose prints for it (expected.json), or its error
must say what error.txt lists."""
from __future__ import annotations

import json
import os

import pytest

from composer.errors import StackFileError
from composer.load.loader import LoadOptions, load
from composer.load.longform import escape_dollars

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
CASES = sorted(d for d in os.listdir(CORPUS) if os.path.isdir(os.path.join(CORPUS, d)) and not d.startswith(("_", ".")))


def case_args(case_dir: str) -> dict:
    path = os.path.join(case_dir, "args.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {}


def load_case(case_dir: str):
    args = case_args(case_dir)
    env = {"HOME": "/root", **args.get("env", {})}
    return load(LoadOptions(project_name=None if args.get("no_project_name") else "corpus", project_dir=case_dir, environ=env,
                            profiles=args.get("profiles")), cwd=case_dir)


def differences(got, want, path="") -> list[str]:
    if isinstance(got, dict) and isinstance(want, dict):
        out = []
        for k in sorted(set(got) | set(want)):
            p = f"{path}.{k}"
            if k not in got:
                out.append(f"missing {p} (Docker Compose: {json.dumps(want[k])[:120]})")
            elif k not in want:
                out.append(f"extra {p}: {json.dumps(got[k])[:120]}")
            else:
                out += differences(got[k], want[k], p)
        return out
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [d for i, (a, b) in enumerate(zip(got, want)) for d in differences(a, b, f"{path}[{i}]")]
    if got != want or type(got) is not type(want):
        return [f"{path}: {json.dumps(got)[:120]} != Docker Compose's {json.dumps(want)[:120]}"]
    return []


@pytest.mark.parametrize("case", CASES)
def test_case(case, capsys):
    case_dir = os.path.join(CORPUS, case)
    error_file = os.path.join(case_dir, "error.txt")
    if os.path.exists(error_file):
        with pytest.raises(StackFileError) as info:
            load_case(case_dir)
        message = str(info.value).replace(case_dir, "${CASE}")
        assert "\n" not in message
        with open(error_file, encoding="utf-8") as f:
            for line in filter(None, (x.strip() for x in f)):
                assert line in message, f"{line!r} not in {message!r}"
        return
    with open(os.path.join(case_dir, "expected.json"), encoding="utf-8") as f:
        want = json.loads(f.read().replace("${CASE}", case_dir).replace("${CORPUS}", CORPUS))
    got = json.loads(json.dumps(escape_dollars(load_case(case_dir).raw)))  # as `config --format json` prints it
    assert differences(got, want) == []
