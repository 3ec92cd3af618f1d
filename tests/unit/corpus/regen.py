"""Regenerates expected.json of each corpus case from Docker Compose, where it is installed.

    python3 tests/unit/corpus/regen.py [CASE...]

Each case directory holds compose.yaml (and whatever it reads), optionally args.json
({"env": {...}, "profiles": [...], "no_project_name": true to leave out -p}) and either expected.json (what `docker compose -p corpus config
--format json` prints, with the case directory written as ${CASE}) or error.txt (lines that the
error message must contain; written by hand). The tests never need Docker; review each regenerated
file before committing it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def case_args(case_dir: str) -> dict:
    path = os.path.join(case_dir, "args.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {}


def main(names: list[str]) -> int:
    cases = names or sorted(d for d in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, d))
                            and not d.startswith(("_", ".")))
    for name in cases:
        case_dir = os.path.join(HERE, name)
        if os.path.exists(os.path.join(case_dir, "error.txt")):
            continue
        args = case_args(case_dir)
        env = {"PATH": os.environ["PATH"], "HOME": "/root", **args.get("env", {})}
        cmd = ["docker", "compose"] + ([] if args.get("no_project_name") else ["-p", "corpus"])
        cmd += ["--project-directory", case_dir]
        for p in args.get("profiles", []):
            cmd += ["--profile", p]
        cmd += ["config", "--format", "json"]
        proc = subprocess.run(cmd, cwd=case_dir, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name}: docker compose failed: {proc.stderr.strip()}")
            continue
        text = proc.stdout.replace(case_dir, "${CASE}")
        with open(os.path.join(case_dir, "expected.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps(json.loads(text), indent=2) + "\n")
        print(f"{name}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
