"""The resolved stack: plain dataclasses built from the normalized stack file."""
from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from composer.errors import ComposerError


class Record:
    """What every record of the model shares: construction, == and repr() over its dataclass fields,
    written once here instead of generated (exec'd) per class, which made importing this module, as
    every command does, cost 2 ms more. Records made at load come back from the project cache unpickled."""

    __slots__ = ()
    __hash__ = None  # mutable, like a dataclass with eq

    def __init__(self, *args, **kwargs):
        declared = self.__dataclass_fields__  # name -> Field, in order
        cls = self.__class__.__name__
        if len(args) > len(declared):
            raise TypeError(f"{cls}() takes {len(declared)} arguments but {len(args)} were given")
        given = dict(zip(declared, args))
        for name, value in kwargs.items():
            if name not in declared:
                raise TypeError(f"{cls}() got an unexpected keyword argument {name!r}")
            if name in given:
                raise TypeError(f"{cls}() got multiple values for argument {name!r}")
            given[name] = value
        for name, f in declared.items():
            if name in given:
                value = given[name]
            elif f.default is not MISSING:
                value = f.default
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:
                raise TypeError(f"{cls}() missing required argument: {name!r}")
            setattr(self, name, value)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self) if f.compare)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"{self.__class__.__qualname__}({shown})"


record = dataclass(init=False, repr=False, eq=False, match_args=False)  # fields, defaults; the rest from Record


@record
class PortSpec(Record):
    """One published port of a service: host ports *published*..*published_end* (0: just one) to *target*."""

    target: int
    published: int | None  # None: a random host port
    host_ip: str = ""  # "": every address (0.0.0.0 and [::])
    protocol: str = "tcp"
    published_end: int = 0  # "8000-8010:80": the engine takes the first free port of the range


@record
class MountSpec(Record):
    """One volume, bind or tmpfs mount of a service (its `volumes` or `tmpfs`)."""

    type: str  # volume | bind | tmpfs
    target: str
    source: str = ""  # project volume key, absolute host path, or "" (anonymous / tmpfs)
    read_only: bool = False
    create_host_path: bool = False  # bind: make the host directory when missing
    propagation: str = ""  # bind
    subpath: str = ""  # volume
    nocopy: bool = False  # volume: do not seed it from the image
    tmpfs_size: int = 0  # tmpfs: bytes, 0 for the kernel's default
    tmpfs_mode: int | None = None


@record
class FileRef(Record):
    """One entry of a service's `secrets` or `configs`: top-level *source* as a file at *target*."""

    kind: str  # secrets | configs
    source: str
    target: str  # absolute path in the container
    uid: int = 0
    gid: int = 0
    mode: int = 0o444
    ownership_given: bool = False  # uid, gid or mode written (ignored, with a warning, for file: sources)


@record
class VolumesFrom(Record):
    """One entry of `volumes_from`: a service's first container, or a container by name."""

    kind: str  # service | container
    name: str
    mode: str = ""  # "", ro or rw


@record
class Dependency(Record):
    """One entry of a service's depends_on."""

    condition: str = "service_started"
    required: bool = True
    restart: bool = False


@record
class RestartPolicy(Record):
    """How a service's containers are restarted: its restart policy and back-off settings."""

    policy: str = "no"  # as Docker spells it: no, always, unless-stopped, on-failure[:N]
    delay: float | None = None  # deploy.restart_policy.delay: a fixed wait instead of the back-off
    max_attempts: int | None = None


@record
class Healthcheck(Record):
    """A service's healthcheck; *test* None keeps the image's command, ["NONE"] disables checks."""

    test: list[str] | None = None
    interval: float | None = None
    timeout: float | None = None
    start_period: float | None = None
    start_interval: float | None = None
    retries: int | None = None


@record
class LogRotation(Record):
    """`logging.options` max-size (bytes, 0: no rotation) and max-file."""

    max_size: int = 0
    max_file: int = 1


@record
class ServiceNetwork(Record):
    """How a service joins one project network."""

    aliases: list[str] = field(default_factory=list)
    ipv4_address: str = ""
    ipv6_address: str = ""
    priority: int = 0
    mac_address: str = ""


@record
class Networking(Record):
    """A service's network settings besides its networks: `network_mode` (service:NAME is resolved to
    a container when its spec is made), DNS, hosts, links."""

    network_mode: str = ""
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_opt: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)  # "name=ip"
    domainname: str | None = None
    mac_address: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (service or container name, alias or "")
    expose: list[str] = field(default_factory=list)


@record
class Isolation(Record):
    """A service's isolation, security and resource settings, in the engine's vocabulary (ipc and pid
    as written: service:NAME is resolved to a container when its spec is made)."""

    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    read_only: bool = False
    group_add: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)  # "source:target:permissions"
    sysctls: dict[str, str] = field(default_factory=dict)
    ulimits: dict[str, list[int]] = field(default_factory=dict)
    shm_size: int | None = None
    ipc: str | None = None
    pid: str | None = None
    userns_mode: str | None = None
    init: bool = False
    oom_score_adj: int | None = None
    resources: dict[str, Any] = field(default_factory=dict)  # cgroup limits (engine/runtime/resources.py)


HASH_EXCLUDED = frozenset({"build", "pull_policy", "scale", "depends_on", "profiles"})


@record
class Service(Record):
    """A service as resolved from the stack files, every attribute parsed once at load
    (composer/load/typed.py). ``raw`` is its normalized mapping, kept only for `config` and the config hash."""

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
    tmpfs: list[MountSpec] = field(default_factory=list)
    volumes_from: list[VolumesFrom] = field(default_factory=list)
    files: list[FileRef] = field(default_factory=list)  # its secrets, then its configs
    networks: dict[str, ServiceNetwork] = field(default_factory=dict)  # project network key -> how it joins
    networking: Networking = field(default_factory=Networking)
    isolation: Isolation = field(default_factory=Isolation)
    depends_on: dict[str, Dependency] = field(default_factory=dict)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    healthcheck: Healthcheck | None = None  # None: the image's applies
    logging: LogRotation = field(default_factory=LogRotation)
    tty: bool = False
    stdin_open: bool = False
    stop_signal: str = "SIGTERM"
    stop_grace_period: float = 10.0
    labels: dict[str, str] = field(default_factory=dict)
    build: dict[str, Any] | None = None  # `build:` in long form, context absolute
    build_secrets: list[FileRef] = field(default_factory=list)
    pull_policy: str = "missing"
    replicas: int | None = None  # `scale`, else deploy.replicas; None: not said (one)
    raw: dict[str, Any] = field(default_factory=dict)  # the normalized mapping, as `config` prints it

    def config_hash(self) -> str:
        """Changes exactly when the service's resolved configuration changes."""
        # like Docker Compose, what only decides how many containers or how they are made is left out
        raw = {k: v for k, v in self.raw.items() if k not in HASH_EXCLUDED}
        if isinstance(raw.get("deploy"), dict):
            raw["deploy"] = {k: v for k, v in raw["deploy"].items() if k != "replicas"}
        blob = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


@record
class NetworkSpec(Record):
    """A network the stack declares (or the default one)."""

    key: str
    name: str  # engine-level name (project_key unless `name:` says otherwise)
    driver: str = "bridge"
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@record
class VolumeSpec(Record):
    """A named volume the stack declares."""

    key: str
    name: str
    driver: str = "local"
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@record
class Project(Record):
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
        try:
            return self.services[name]
        except KeyError:
            if not self.files:
                raise ComposerError(f"no such service: {name} (no stack file was found to define it)") from None
            raise ComposerError(f"no such service: {name}") from None
