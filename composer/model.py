"""The resolved stack: plain dataclasses built from the normalized stack file."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PortSpec:
    """One published port of a service."""

    target: int
    published: int | None  # None: a random host port
    host_ip: str = ""
    protocol: str = "tcp"


@dataclass
class MountSpec:
    """One volume, bind or tmpfs mount of a service."""

    type: str  # volume | bind | tmpfs
    target: str
    source: str = ""  # project volume key, absolute host path, or "" (anonymous / tmpfs)
    read_only: bool = False
    create_host_path: bool = False  # bind: make the host directory when missing


@dataclass
class Dependency:
    """One entry of a service's depends_on."""

    condition: str = "service_started"
    required: bool = True
    restart: bool = False


HASH_EXCLUDED = frozenset({"build", "pull_policy", "scale", "depends_on", "profiles"})


@dataclass
class Service:
    """A service as resolved from the stack files; ``raw`` is its normalized mapping."""

    name: str
    image: str | None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    container_name: str | None = None
    ports: list[PortSpec] = field(default_factory=list)
    volumes: list[MountSpec] = field(default_factory=list)
    networks: dict[str, list[str]] = field(default_factory=dict)  # project network key -> aliases
    depends_on: dict[str, Dependency] = field(default_factory=dict)
    restart: str = "no"
    stop_signal: str = "SIGTERM"
    stop_grace_period: float = 10.0
    labels: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the normalized mapping, as `config` prints it

    def config_hash(self) -> str:
        """Changes exactly when the service's resolved configuration changes."""
        # like Docker Compose, what only decides how many containers or how they are made is left out
        raw = {k: v for k, v in self.raw.items() if k not in HASH_EXCLUDED}
        if isinstance(raw.get("deploy"), dict):
            raw["deploy"] = {k: v for k, v in raw["deploy"].items() if k != "replicas"}
        blob = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class NetworkSpec:
    """A network the stack declares (or the default one)."""

    key: str
    name: str  # engine-level name (project_key unless `name:` says otherwise)
    driver: str = "bridge"
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class VolumeSpec:
    """A named volume the stack declares."""

    key: str
    name: str
    driver: str = "local"
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Project:
    """The whole resolved stack: its name, directory, files, services, networks and volumes."""

    name: str
    working_dir: str
    files: list[str]
    services: dict[str, Service]
    networks: dict[str, NetworkSpec]
    volumes: dict[str, VolumeSpec]
    raw: dict[str, Any]  # the whole normalized model
    disabled: list[str] = field(default_factory=list)  # services the files declare that no enabled profile has
    # the load's variables that `environment:` sources of secrets and configs name (never pickled:
    # composer.load.projectcache fills them again from the environment when it remembers a project)
    environment: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "environment": {}}

    def environment_names(self) -> set[str]:
        """The variables that `environment:` sources of its secrets and configs name."""
        return {str(spec["environment"]) for kind in ("secrets", "configs")
                for spec in (self.raw.get(kind) or {}).values()
                if isinstance(spec, dict) and spec.get("environment") is not None}

    def take_environment(self, env) -> None:
        self.environment = {k: env[k] for k in self.environment_names() if k in env}

    def service(self, name: str) -> Service:
        from composer.errors import ComposerError

        try:
            return self.services[name]
        except KeyError:
            if not self.files:
                raise ComposerError(f"no such service: {name} (no stack file was found to define it)") from None
            raise ComposerError(f"no such service: {name}") from None
