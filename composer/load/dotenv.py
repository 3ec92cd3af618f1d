"""Reading `.env` files (dotenv syntax)."""
from __future__ import annotations

import os
import re
from typing import Mapping

from composer.errors import StackFileError
from composer.load.interpolate import InterpolationError, Interpolator
from composer.load.recorder import NOT_RECORDING, Recorder, read_input

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*(.*))?$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$"}


_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def parse(text: str, filename: str, env: Mapping[str, str] | None = None, raw: bool = False,
          bare_from: Mapping[str, str] | None = None, names: set[str] | None = None) -> dict[str, str]:
    """Variables of a dotenv file. Double-quoted and unquoted values see ``${}`` substitution
    (from earlier lines, then *env*); single-quoted ones are literal. With *raw* (env_file's
    ``format: raw``) values are taken as written. A line with a bare ``KEY`` takes its value from
    *bare_from* when given and set there, and is skipped otherwise. *names* receives every variable
    name the file defines or looks up (and no value)."""
    names = set() if names is None else names
    if raw:
        out = _parse_raw(text, filename, bare_from)
        names.update(out)
        return out

    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        lineno = i + 1
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        m = _LINE.match(raw)
        if not m:
            raise StackFileError(f"{filename}:{lineno}: invalid line in env file: {raw.strip()!r}")
        key, value = m.group(1), m.group(2)
        names.add(key)
        if value is None:
            if bare_from is not None and key in bare_from:
                out[key] = bare_from[key]
            continue
        lookup = {**(env or {}), **out}
        if value[:1] in ("'", '"'):
            quote = value[0]
            body = value[1:]
            while quote not in _unescaped(body, quote) and i < len(lines):
                body += "\n" + lines[i]
                i += 1
            end = _closing(body, quote)
            if end < 0:
                raise StackFileError(f"{filename}:{lineno}: unterminated quoted value for {key}")
            body = body[:end]
            if quote == '"':
                names.update(_REFERENCE.findall(body))
                # escapes first, but an escaped `\$` must not start a substitution afterwards
                parts = re.split(r"(\\.)", body)
                body = "".join(_ESCAPES.get(part[1], part) if len(part) == 2 and part[0] == "\\"
                               else _subst(part, lookup, filename, lineno) for part in parts)
            out[key] = body
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
            names.update(_REFERENCE.findall(value))
            out[key] = _subst(value, lookup, filename, lineno)
    return out


def _parse_raw(text: str, filename: str, bare_from: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not key:
            raise StackFileError(f"{filename}:{lineno}: invalid line in env file: {line.strip()!r}")
        if sep:
            out[key] = value
        elif bare_from is not None and key in bare_from:
            out[key] = bare_from[key]
    return out


def _unescaped(body: str, quote: str) -> str:
    return body if quote == "'" else re.sub(r"\\.", "", body)


def _closing(body: str, quote: str) -> int:
    j = 0
    while j < len(body):
        if quote == '"' and body[j] == "\\":
            j += 2
            continue
        if body[j] == quote:
            return j
        j += 1
    return -1


def _subst(value: str, env: Mapping[str, str], filename: str, lineno: int) -> str:
    try:
        return Interpolator(env, warn=lambda name: None).text(value)
    except InterpolationError as e:
        raise StackFileError(f"{filename}:{lineno}: {e}") from None


def read(path: str, env: Mapping[str, str] | None = None, raw: bool = False,
         bare_from: Mapping[str, str] | None = None, recorder: Recorder = NOT_RECORDING) -> dict[str, str]:
    text = read_input(path, "env file", recorder)
    names: set[str] = set()
    try:
        return parse(text, path, env, raw=raw, bare_from=bare_from, names=names)
    finally:  # the names only: a remembered load keeps no value of the file (secrets among them)
        recorder.read_text(" ".join(sorted(names)))


def project_environment(env_files: list[str], cwd: str, project_dir: str,
                        process_env: Mapping[str, str], recorder: Recorder = NOT_RECORDING) -> dict[str, str]:
    """A load's variables: the --env-file files (relative to *cwd*), else the project directory's
    .env, with the process environment winning."""
    env: dict[str, str] = {}
    if env_files:
        paths = [os.path.join(cwd, p) for p in env_files]
    else:
        default = os.path.join(project_dir, ".env")
        paths = [default] if recorder.isfile(default) else []
    for path in paths:
        env.update(read(path, {**env, **process_env}, recorder=recorder))
    env.update(process_env)
    return env
