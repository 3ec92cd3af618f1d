"""Variable interpolation in stack files: ``$VAR``, ``${VAR}`` and the ``:-  -  :?  ?  :+  +`` forms.

Defaults and alternatives may themselves contain ``${...}``; ``$$`` is a literal ``$``.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Mapping

from composer.errors import StackFileError

_NAME_START = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
_NAME_CHARS = _NAME_START + "0123456789"


MAX_NESTING = 50  # ${A:-${B:-...}} levels; each is a Python call, and Docker Compose files nest a few


class InterpolationError(ValueError):
    pass


def _warn_unset(name: str) -> None:
    print(f'WARN[0000] The "{name}" variable is not set. Defaulting to a blank string.', file=sys.stderr)


class Interpolator:
    def __init__(self, env: Mapping[str, str], warn: Callable[[str], None] = _warn_unset):
        self.env = env
        self.warn = warn
        self._warned: set[str] = set()
        self._depth = 0

    def text(self, s: str) -> str:
        if self._depth >= MAX_NESTING:
            raise InterpolationError(f"variables are nested more than {MAX_NESTING} levels deep")
        self._depth += 1
        try:
            out, _ = self._scan(s, 0, stop_at_brace=False)
        finally:
            self._depth -= 1
        return out

    def _scan(self, s: str, i: int, stop_at_brace: bool) -> tuple[str, int]:
        out: list[str] = []
        n = len(s)
        while i < n:
            c = s[i]
            if stop_at_brace and c == "}":
                return "".join(out), i
            if c != "$":
                out.append(c)
                i += 1
                continue
            nxt = s[i + 1] if i + 1 < n else ""
            if nxt == "$":
                out.append("$")
                i += 2
            elif nxt == "{":
                value, i = self._braced(s, i + 2)
                out.append(value)
            elif nxt and nxt in _NAME_START:
                j = i + 1
                while j < n and s[j] in _NAME_CHARS:
                    j += 1
                out.append(self._lookup(s[i + 1 : j]))
                i = j
            else:
                out.append("$")
                i += 1
        if stop_at_brace:
            raise InterpolationError(f"missing closing brace in {s!r}")
        return "".join(out), i

    def _lookup(self, name: str) -> str:
        if name in self.env:
            return self.env[name]
        if name not in self._warned:
            self._warned.add(name)
            self.warn(name)
        return ""

    def _braced(self, s: str, i: int) -> tuple[str, int]:
        n = len(s)
        j = i
        while j < n and s[j] in _NAME_CHARS:
            j += 1
        name = s[i:j]
        if not name or name[0] not in _NAME_START:
            raise InterpolationError(f"invalid variable name in {s!r}")
        if j < n and s[j] == "}":
            return self._lookup(name), j + 1
        op = ""
        for candidate in (":-", ":?", ":+", "-", "?", "+"):
            if s.startswith(candidate, j):
                op = candidate
                break
        if not op:
            raise InterpolationError(f"invalid interpolation format for {s!r}")
        # The operand is evaluated lazily only where it matters, but nested
        # references must be parsed either way to find the closing brace.
        operand, end = self._scan_raw(s, j + len(op))
        value = self.env.get(name)
        set_ = value is not None
        nonempty = bool(value)
        if op in (":-", "-"):
            use_default = not nonempty if op == ":-" else not set_
            return (self.text(operand) if use_default else value), end
        if op in (":?", "?"):
            bad = not nonempty if op == ":?" else not set_
            if bad:
                msg = self.text(operand) or "is not set"
                raise InterpolationError(f"required variable {name} is missing a value: {msg}")
            return value, end
        # :+ and +
        use_alt = nonempty if op == ":+" else set_
        return (self.text(operand) if use_alt else ""), end

    def _scan_raw(self, s: str, i: int) -> tuple[str, int]:
        """The raw operand text up to the matching ``}``, and the index after it."""
        depth = 0
        j = i
        n = len(s)
        while j < n:
            c = s[j]
            if c == "$" and j + 1 < n and s[j + 1] == "$":
                j += 2
                continue
            if c == "$" and j + 1 < n and s[j + 1] == "{":
                depth += 1
                j += 2
                continue
            if c == "}":
                if depth == 0:
                    return s[i:j], j + 1
                depth -= 1
            j += 1
        raise InterpolationError(f"missing closing brace in {s!r}")


MAX_NODES = 1_000_000  # YAML aliases can make a small file a huge tree ("billion laughs")


def interpolate_tree(data: Any, env: Mapping[str, str], where: Callable[[tuple], str] | None = None,
                     path: tuple = (), warn: Callable[[str], None] | None = None) -> Any:
    """A copy of *data* with every string value interpolated (mapping keys are left alone)."""
    interp = Interpolator(env) if warn is None else Interpolator(env, warn)
    count = [0]

    def fail(p: tuple, message: str) -> StackFileError:
        loc = where(p) if where else ""
        dotted = _dotted(p)
        return StackFileError(f"{loc}: {dotted}: {message}" if loc else f"{dotted}: {message}")

    def walk(node: Any, p: tuple) -> Any:
        count[0] += 1
        if count[0] > MAX_NODES:
            raise fail((), f"the file expands to more than {MAX_NODES} values (YAML aliases?)")
        if isinstance(node, str):
            if "$" not in node:
                return node
            try:
                return interp.text(node)
            except InterpolationError as e:
                raise fail(p, str(e)) from None
        if isinstance(node, dict):
            return {k: walk(v, p + (k,)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, p + (i,)) for i, v in enumerate(node)]
        if hasattr(node, "tag") and hasattr(node, "value"):
            return type(node)(node.tag, walk(node.value, p))
        return node

    return walk(data, path)


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"
