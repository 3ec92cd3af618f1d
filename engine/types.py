"""Typed values exchanged through engine/api.py (the one front-end/engine interface)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Mount:
    """A mount of a container: volume, bind, tmpfs or file, with its options.

    A "file" mount (secrets and configs) is a file the engine makes from *content* when the container
    is created, in the container's own root-only directory, and binds read-only at the target: its
    content is never kept in the container's record (there, *content* is None and *source* names the
    kept file), never written into its root filesystem, and goes with the container."""

    type: str  # "volume" | "bind" | "tmpfs" | "file"
    target: str
    source: str = ""  # volume name (empty: a new anonymous volume), absolute host path, or empty for tmpfs
    read_only: bool = False
    subpath: str = ""  # volume: mount this path inside the volume instead of its root (must exist)
    nocopy: bool = False  # volume: don't seed a new volume with the image's content at the target
    propagation: str = ""  # bind: private, rprivate (default), shared, rshared, slave, rslave
    create_host_path: bool = False  # bind: make a missing source directory instead of failing
    source_root: str = ""  # bind: the source is resolved inside this directory, never out (a build context)
    tmpfs_size: int = 0  # tmpfs: bytes; 0 is the kernel's default (half the memory)
    tmpfs_mode: int | None = None  # tmpfs: permission bits of its root; None is 1777
    volume_labels: dict[str, str] = field(default_factory=dict)  # volume: labels of a new anonymous volume
    content: bytes | None = None  # file: what the file holds (given to create_container, then dropped)
    file_mode: int = 0o444  # file: its permission bits
    uid: int = 0  # file: its owner and group (numbers, as in the container)
    gid: int = 0


@dataclass
class PortBinding:
    """A container port published on the host."""

    container_port: int
    host_port: int
    host_ip: str = "0.0.0.0"
    protocol: str = "tcp"
    host_port_end: int = 0  # > host_port: any free port of host_port..host_port_end (the one bound is kept)


@dataclass
class NetworkAttachment:
    """A container's membership in one network: aliases, addresses, MAC, priority."""

    network: str  # engine network name
    aliases: list[str] = field(default_factory=list)
    ipv4_address: str = ""  # "": the next free address (in ip_range if the network has one)
    ipv6_address: str = ""
    priority: int = 0  # highest first: eth0 and the default route go to the highest
    mac_address: str = ""


@dataclass
class ContainerSpec:
    """What to create: a container is metadata; starting it makes the process."""

    name: str
    image: str
    entrypoint: list[str] | None = None  # None: the image's
    command: list[str] | None = None  # None: the image's (dropped if entrypoint is set)
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    networks: list[NetworkAttachment] = field(default_factory=list)
    ports: list[PortBinding] = field(default_factory=list)
    stop_signal: str = "SIGTERM"
    stop_timeout: float = 10.0
    restart: str = "no"
    auto_remove: bool = False  # also removes the container's anonymous volumes
    volumes_from: list[str] = field(default_factory=list)  # container names, each optionally ":ro" or ":rw"
    # isolation and security (Docker's defaults when left alone)
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    read_only: bool = False
    group_add: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)  # HOST[:CONTAINER[:PERMISSIONS]]
    sysctls: dict[str, str] = field(default_factory=dict)
    ulimits: dict[str, list[int]] = field(default_factory=dict)  # name -> [soft, hard]
    shm_size: int | None = None  # bytes; None: 64 MB
    ipc: str | None = None  # private | shareable | none | host | container:NAME
    pid: str | None = None  # host | container:NAME; None: its own
    userns_mode: str | None = None  # host only
    init: bool = False
    oom_score_adj: int | None = None
    resources: dict = field(default_factory=dict)  # limits, see engine/runtime/resources.py
    # lifecycle (additive): deploy.restart_policy's delay and max_attempts; None means Docker's back-off / no bound
    restart_delay: float | None = None
    restart_max_attempts: int | None = None
    # {"test": [...], "interval": s, "timeout": s, "retries": n, "start_period": s, "start_interval": s};
    # fields left out come from the image's HEALTHCHECK; {"test": ["NONE"]} disables the image's
    healthcheck: dict | None = None
    log_max_size: int = 0  # bytes per log file before rotation; 0: unbounded
    log_max_file: int = 1  # log files kept, the current one included
    tty: bool = False  # the process's stdio is a pseudo-terminal (its output logged as stdout)
    stdin_open: bool = False  # stdin stays open for `attach` to write into
    # networking beyond the attachments: "" (bridge networks), none, host, container:NAME-OR-ID
    network_mode: str = ""
    dns: list[str] = field(default_factory=list)  # upstream servers the network's resolver asks for this one
    dns_search: list[str] = field(default_factory=list)
    dns_opt: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)  # "name=ip"; ip may be host-gateway
    domainname: str | None = None
    mac_address: str = ""  # of the first network's interface
    links: list[str] = field(default_factory=list)  # "container[:alias]": /etc/hosts entries
    expose: list[str] = field(default_factory=list)  # "port[/proto]": metadata only


@dataclass
class ContainerInfo:
    """What inspecting a container returns."""

    id: str
    name: str
    image: str  # the reference it was created from
    image_id: str
    labels: dict[str, str]
    status: str  # created | running | exited
    pid: int
    exit_code: int
    created: str
    started_at: str
    finished_at: str
    ports: list[PortBinding]
    networks: dict[str, str]  # network name -> IPv4 address
    spec: ContainerSpec
    oom_killed: bool = False
    paused: bool = False
    restart_count: int = 0  # restarts made by the restart policy since the last start
    health: str = ""  # "" (no healthcheck) | starting | healthy | unhealthy
    health_log: list[dict] = field(default_factory=list)  # last results: Start, End, ExitCode, Output
    failing_streak: int = 0
    networks_v6: dict[str, str] = field(default_factory=dict)  # network name -> IPv6 address (enable_ipv6)
    network_container: str = ""  # container:/service: mode: the id of the container whose netns it joined
    warnings: list[str] = field(default_factory=list)  # create only: settings this kernel cannot apply, discarded


@dataclass
class ImageInfo:
    """What inspecting an image returns."""

    id: str  # sha256:<hex> of the config
    repo_tags: list[str]
    created: str
    size: int
    config: dict  # the image config's "config" (Env, Cmd, Entrypoint, WorkingDir, User, ...)
    layers: list[str]  # diff_ids, bottom first
    repo_digests: list[str] = field(default_factory=list)  # "name@sha256:..." of manifests pulled or pushed
    history: list[dict] = field(default_factory=list)  # the image config's "history"
    last_tag_time: str = ""  # when a pull, load or import last tagged it (pull_policy daily/weekly use it)


@dataclass
class VolumeInfo:
    """What inspecting a volume returns."""

    name: str
    driver: str
    mountpoint: str
    labels: dict[str, str]
    created: str
    options: dict[str, str] = field(default_factory=dict)  # driver options (local: type, device, o)

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels


ANONYMOUS_LABEL = "com.docker.volume.anonymous"


@dataclass
class NetworkInfo:
    """What inspecting a network returns."""

    name: str
    id: str
    subnet: str
    gateway: str
    bridge: str
    labels: dict[str, str]
    internal: bool = False
    subnet6: str = ""  # with enable_ipv6
    gateway6: str = ""
    ip_range: str = ""
    mtu: int = 0  # 0: the kernel's default
    options: dict[str, str] = field(default_factory=dict)  # driver_opts as given
    created: str = ""


@dataclass
class NetworkConfig:
    """How to make a network (`networks.X` of a stack file, `network create` flags); all optional."""

    subnet: str = ""  # "": a free /24 from the pool
    gateway: str = ""  # "": the subnet's first address
    ip_range: str = ""  # containers' automatic addresses come from here
    internal: bool = False  # no default route out of the network, no NAT
    enable_ipv6: bool = False
    subnet6: str = ""  # "": a free /64 from the IPv6 pool
    gateway6: str = ""
    options: dict[str, str] = field(default_factory=dict)  # driver_opts: com.docker.network.bridge.name, ...mtu
