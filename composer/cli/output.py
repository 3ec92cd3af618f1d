"""Small helpers for command output: tables and human-readable times and sizes."""
from __future__ import annotations

from datetime import datetime, timezone

from composer.progress import human_size  # noqa: F401 - the commands' tables use it too


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [headers, *rows]:
        lines.append("   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def docker_time(text: str) -> str:
    """`2024-01-02 03:04:05 +0000 UTC`, the form Docker's JSON listings use."""
    when = parse_time(text)
    return when.strftime("%Y-%m-%d %H:%M:%S +0000 UTC") if when else ""


def ago(text: str) -> str:
    """'3 seconds ago' style, like Docker's CREATED column."""
    when = parse_time(text)
    if when is None:
        return ""
    return human_duration((datetime.now(timezone.utc) - when).total_seconds()) + " ago"


def human_duration(seconds: float) -> str:
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = m // 60
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    return f"{h // 24} days"


def short_id(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def dump_json(items) -> None:
    """Print dataclass records as an indented JSON array, the way `inspect` commands do."""
    import dataclasses
    import json

    print(json.dumps([dataclasses.asdict(i) for i in items], indent=2, default=str))
