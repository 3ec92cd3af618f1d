"""KEY=VALUE command-line values (`--label`, `--opt`) as a mapping."""
from __future__ import annotations


def pairs(items: list[str], what: str) -> dict[str, str]:
    """{KEY: VALUE} of *items*; a label may be a bare KEY (an empty value), an option may not."""
    from composer.errors import ComposerError

    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key or (what == "option" and not eq):
            raise ComposerError(f"invalid {what} {item!r}: use KEY=VALUE")
        out[key] = value
    return out
