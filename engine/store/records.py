"""Atomic JSON records on disk.

A record is written to a temporary file in the same directory, fsynced and renamed
over the old one, so a reader (or a crash) never sees a half-written record.
Stdlib only: the per-container monitor imports this.
"""
from __future__ import annotations

import json
import os
from typing import Any


def write_json(path: str, data: Any) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: str, default: Any = None) -> Any:
    """The record at *path*, or *default* when it does not exist."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default
