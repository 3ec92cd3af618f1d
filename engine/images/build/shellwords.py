"""Docker's shell-like word handling for Dockerfile arguments (not a shell: no commands, no globs).

`split` cuts a text into words at unquoted whitespace, keeping quotes and escapes as written;
`expand` then substitutes variables in one word and removes its quotes:
`$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:+alt}`, `${NAME+alt}`,
`${NAME:?message}`, `${NAME?message}`. Single quotes are literal; in double quotes the escape
character escapes only `"`, `$` and itself. An unset variable is empty.
"""
from __future__ import annotations

from collections.abc import Mapping

_NAME = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class WordError(ValueError):
    pass


def split(text: str, escape: str = "\\") -> list[str]:
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    have = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quote:
            cur.append(c)
            if c == escape and quote == '"' and i + 1 < n:
                cur.append(text[i + 1])
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c == escape and i + 1 < n:
            cur += [c, text[i + 1]]
            have = True
            i += 2
            continue
        elif c in "'\"":
            quote = c
            cur.append(c)
            have = True
        elif c.isspace():
            if have:
                words.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(c)
            have = True
        i += 1
    if quote:
        raise WordError(f"unterminated {quote} quote in {text!r}")
    if have:
        words.append("".join(cur))
    return words


def expand(word: str, env: Mapping[str, str | None], escape: str = "\\") -> str:
    out, i = _expand(word, 0, env, escape, stop="")
    return out


def expand_all(text: str, env: Mapping[str, str | None], escape: str = "\\") -> list[str]:
    return [expand(w, env, escape) for w in split(text, escape)]


def _expand(word: str, i: int, env, escape: str, stop: str) -> tuple[str, int]:
    """Expand from *i* up to an unquoted *stop* character (or the end); returns (text, index of stop)."""
    out: list[str] = []
    n = len(word)
    quoted = False  # inside double quotes
    while i < n:
        c = word[i]
        if quoted:
            if c == '"':
                quoted = False
                i += 1
                continue
            if c == escape and i + 1 < n and word[i + 1] in ('"', "$", escape):
                out.append(word[i + 1])
                i += 2
                continue
        elif stop and c == stop:
            return "".join(out), i
        elif c == escape:
            if i + 1 < n:
                out.append(word[i + 1])
            i += 2
            continue
        elif c == "'":
            j = word.find("'", i + 1)
            if j < 0:
                raise WordError(f"unterminated ' quote in {word!r}")
            out.append(word[i + 1:j])
            i = j + 1
            continue
        elif c == '"':
            quoted = True
            i += 1
            continue
        if c == "$":
            text, i = _variable(word, i, env, escape)
            out.append(text)
        else:
            out.append(c)
            i += 1
    if quoted:
        raise WordError(f'unterminated " quote in {word!r}')
    if stop:
        raise WordError(f"missing '{stop}' in {word!r}")
    return "".join(out), i


def _variable(word: str, i: int, env, escape: str) -> tuple[str, int]:
    """The value of the variable reference starting at word[i] == '$', and the index after it."""
    n = len(word)
    if i + 1 >= n:
        return "$", i + 1
    if word[i + 1] != "{":
        j = i + 1
        while j < n and word[j] in _NAME:
            j += 1
        if j == i + 1:
            return "$", i + 1
        return env.get(word[i + 1:j]) or "", j
    j = i + 2
    while j < n and word[j] in _NAME:
        j += 1
    name = word[i + 2:j]
    if not name:
        raise WordError(f"bad substitution in {word!r}: a variable name is missing after ${{")
    if j >= n:
        raise WordError(f"missing '}}' in {word!r}")
    value = env.get(name)
    if word[j] == "}":
        return value or "", j + 1
    colon = word[j] == ":"
    op_at = j + 1 if colon else j
    if op_at >= n or word[op_at] not in "-+?":
        raise WordError(f"unsupported substitution in {word!r}: use ${{{name}}}, ${{{name}:-default}} or "
                        f"${{{name}:+alternative}}")
    op = word[op_at]
    arg, end = _expand(word, op_at + 1, env, escape, stop="}")
    is_set = value is not None and (value != "" or not colon)
    if op == "-":
        result = value if is_set else arg
    elif op == "+":
        result = arg if is_set else ""
    else:
        if not is_set:
            raise WordError(f"{name}: {arg or 'is not set'}")
        result = value
    return result or "", end + 1
