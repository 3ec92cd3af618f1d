"""`image ls --filter`: dangling=true|false, before=IMAGE, since=IMAGE, reference=PATTERN, label=K[=V]."""
from __future__ import annotations

from fnmatch import fnmatchcase

from engine.errors import InvalidArgument
from engine.types import ImageInfo

KEYS = ("dangling", "before", "since", "reference", "label")


def parse(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in KEYS:
            raise InvalidArgument(f"invalid filter {item!r}: use one of {', '.join(k + '=...' for k in KEYS)}")
        if key == "dangling" and value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter {item!r}: dangling is true or false")
        out.setdefault(key, []).append(value)
    return out


def _reference_matches(pattern: str, tags: list[str]) -> bool:
    for tag in tags:
        name, _, _ = tag.rpartition(":")
        if fnmatchcase(tag, pattern) or fnmatchcase(name, pattern):
            return True
    return False


def apply(images: list[ImageInfo], filters: dict[str, list[str]], lookup) -> list[ImageInfo]:
    """The images that pass every filter; *lookup(ref)* gives the image a before/since names."""
    out = []
    bounds = {k: [lookup(v).created for v in filters.get(k, [])] for k in ("before", "since")}
    for image in images:
        if "dangling" in filters:
            want = filters["dangling"][-1].lower() in ("true", "1")
            if want != (not image.repo_tags):
                continue
        if any(image.created >= b for b in bounds["before"]):
            continue
        if any(image.created <= s for s in bounds["since"]):
            continue
        if "reference" in filters and not any(_reference_matches(p, image.repo_tags) for p in filters["reference"]):
            continue
        labels = image.config.get("Labels") or {}
        if any(not _label_matches(spec, labels) for spec in filters.get("label", [])):
            continue
        out.append(image)
    return out


def _label_matches(spec: str, labels: dict) -> bool:
    key, sep, value = spec.partition("=")
    return key in labels and (not sep or labels[key] == value)
