"""An instruction's leading `--flag[=value]` options and its JSON (exec) form."""
from __future__ import annotations

import json


def flags(rest: str, allowed: tuple[str, ...], what: str) -> tuple[dict[str, str], str]:
    """Leading `--name=value` / `--name` words of *rest* (only *allowed* names) and the remainder."""
    found: dict[str, str] = {}
    text = rest.lstrip()
    while text.startswith("--"):
        word, _, after = text.partition(" ")
        name, eq, value = word[2:].partition("=")
        if name not in allowed:
            hint = f" (supported: {', '.join('--' + a for a in allowed)})" if allowed else ""
            raise ValueError(f"{what} does not support the flag --{name}{hint}")
        found[name] = value if eq else "true"
        text = after.lstrip()
    return found, text


def take_repeated(rest: str, name: str) -> tuple[list[str], str]:
    """The values of every leading `--name=value` word of *rest* (a flag that may be given more than
    once, like RUN --mount), and *rest* without them."""
    values: list[str] = []
    kept: list[str] = []
    text = rest.lstrip()
    while text.startswith("--"):
        word, _, after = text.partition(" ")
        if word.startswith(f"--{name}="):
            values.append(word.split("=", 1)[1])
        else:
            kept.append(word)
        text = after.lstrip()
    return values, " ".join(kept + [text]) if kept else text


def exec_form(rest: str) -> list[str] | None:
    """The JSON array of strings *rest* holds, or None (then it is the shell form, as in Docker)."""
    text = rest.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None
