"""Resolving a path inside a root directory as if that directory were '/'. Stdlib only.

Symlinks met on the way are followed *within* the root (an absolute link target restarts at the
root, `..` stops at the root), so the result never names anything outside it.
"""
from __future__ import annotations

import os


class PathEscape(ValueError):
    pass


def safe_join(root: str, path: str, follow_last: bool = True) -> str:
    parts = [p for p in path.split("/") if p and p != "."]
    current = root
    depth = 0
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if depth > 0:
                current = os.path.dirname(current)
                depth -= 1
            continue
        candidate = os.path.join(current, part)
        if (parts or follow_last) and os.path.islink(candidate):
            hops += 1
            if hops > 40:
                raise PathEscape(f"too many levels of symbolic links in {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current, depth = root, 0
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        current, depth = candidate, depth + 1
    return current
