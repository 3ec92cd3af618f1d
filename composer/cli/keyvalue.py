"""KEY=VALUE command-line values (`--label`, `--opt`, `--build-arg`) as a mapping."""
from __future__ import annotations

import os

from composer.errors import ComposerError


def pairs(items: list[str], what: str, bare: str = "empty") -> dict[str, str]:
    """{KEY: VALUE} of *items*. A bare KEY, as Docker reads it: *bare* "empty" (a label: KEY=""),
    "environment" (a build argument: the variable's value, left out when it is unset) or "refuse"
    (an option must say its value)."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key or (bare == "refuse" and not eq):
            raise ComposerError(f"invalid {what} {item!r}: use KEY=VALUE")
        if not eq and bare == "environment":
            if key not in os.environ:
                continue
            value = os.environ[key]
        out[key] = value
    return out
