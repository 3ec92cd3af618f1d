"""What a load of a stack is asked for (composer.load.loader; composer.load.projectcache keys its entries by it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass
class LoadOptions:
    """The files, names and environment a load starts from (the global command-line options)."""

    files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_dir: str | None = None
    env_files: list[str] = field(default_factory=list)
    environ: Mapping[str, str] | None = None
    interpolate: bool = True
    profiles: list[str] | None = None  # None: COMPOSE_PROFILES
    all_profiles: bool = False  # keep every service whatever its profiles (config --profiles)
