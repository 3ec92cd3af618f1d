"""Times given on the command line (`logs --since/--until`): RFC 3339, Unix seconds, or a duration
back from now ("10m", "1h30m", "42s")."""
from __future__ import annotations

import time
from datetime import datetime

from composer.errors import ComposerError


def parse_log_time(text: str, option: str = "time", now: float | None = None) -> float:
    """Epoch seconds for *text*."""
    value = text.strip()
    if not value:
        raise ComposerError(f"{option}: empty time")
    try:
        return float(value)  # Unix seconds (with fraction)
    except ValueError:
        pass
    if value[-1].isalpha() and value[0].isdigit() and "T" not in value and "-" not in value:
        from composer.load.parsers import parse_duration

        try:
            return (time.time() if now is None else now) - parse_duration(value, option)
        except ComposerError:
            raise ComposerError(f"{option}: invalid time {text!r} (use RFC 3339, Unix seconds, or a "
                                "duration like 10m)") from None
    stamp = value.replace("Z", "+00:00").replace("z", "+00:00")
    if "." in stamp:  # Python reads at most microseconds: cut nanoseconds
        head, _, rest = stamp.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        stamp = f"{head}.{digits[:6]}{zone}"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        raise ComposerError(f"{option}: invalid time {text!r} (use RFC 3339 like 2024-01-02T15:04:05Z, "
                            "Unix seconds, or a duration like 10m)") from None
    if when.tzinfo is None:
        when = when.astimezone()  # no zone: local time, as Docker reads it
    return when.timestamp()
