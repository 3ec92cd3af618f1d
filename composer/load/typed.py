"""The last pass: a service's long form (composer/load/longform.py) as a typed composer.model.Service.

Every attribute the converge stage uses is parsed here, once, so a bad value fails at load (and in
`config`) with file:line and its path; what runs later only maps typed fields to the engine's
ContainerSpec. *at(...)* locates a path under the service for errors ("file:line: services.web.ports[0]").
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable

from composer.errors import StackFileError
from composer.load import parsers as norm
from composer.load.parsers import dotted
from composer.model import (Dependency, FileRef, Healthcheck, Isolation, LogRotation, MountSpec, Networking,
                            PortSpec, RestartPolicy, Service, ServiceNetwork, VolumesFrom)

At = Callable[..., Any]  # at("ports", 0) -> a location printed as "file:line: services.web.ports[0]"


def plain_at(name: str) -> At:
    """Locations without a file: ``services.NAME.<path>``."""
    return lambda *path: dotted(("services", name, *path))


def service(name: str, raw: dict, at: At | None = None, project_dir: str = "") -> Service:
    """The typed service *name* from its normalized mapping *raw* (kept as ``Service.raw``); a relative
    build context is from *project_dir*."""
    at = at or plain_at(name)
    deps = {k: Dependency(v["condition"], v["required"], v.get("restart", False))
            for k, v in (raw.get("depends_on") or {}).items()}
    environment = {k: v for k, v in (raw.get("environment") or {}).items() if v is not None}
    grace = norm.parse_duration(raw["stop_grace_period"], at("stop_grace_period")) \
        if raw.get("stop_grace_period") else 10.0
    return Service(
        name=name, image=raw.get("image"), command=raw.get("command"), entrypoint=raw.get("entrypoint"),
        environment=environment, working_dir=raw.get("working_dir"), user=raw.get("user"),
        hostname=raw.get("hostname"), container_name=raw.get("container_name"),
        ports=ports(raw.get("ports"), lambda i: at("ports", i)),
        volumes=[mount(item, at("volumes", i)) for i, item in enumerate(raw.get("volumes") or [])],
        tmpfs=tmpfs_mounts(raw.get("tmpfs"), at),
        volumes_from=_volumes_from(raw.get("volumes_from"), at),
        files=file_refs(raw, at), networks=_networks(raw.get("networks"), at),
        networking=_networking(raw), isolation=isolation(raw, at), depends_on=deps,
        restart=restart_policy(raw, at), healthcheck=healthcheck(raw.get("healthcheck"), at),
        logging=log_rotation(raw.get("logging"), at),
        tty=norm.as_bool(raw.get("tty", False), at("tty")),
        stdin_open=norm.as_bool(raw.get("stdin_open", False), at("stdin_open")),
        stop_signal=raw.get("stop_signal") or "SIGTERM", stop_grace_period=grace,
        labels=dict(raw.get("labels") or {}), build=resolve_context(_build(raw.get("build")), project_dir),
        build_secrets=_build_secrets(raw.get("build"), at),
        pull_policy=str(raw.get("pull_policy") or "missing"), replicas=_replicas(raw, at), raw=raw)


# -- ports and mounts -------------------------------------------------------------------------

def ports(items: list | None, at: Callable[[int], Any]) -> list[PortSpec]:
    """Long-form `ports` entries (or `run -p`'s): published "8000-8010" is a range, none a random port."""
    out = []
    for i, p in enumerate(items or []):
        low, _, high = str(p.get("published") or "").partition("-")
        try:
            spec = PortSpec(int(p["target"]), int(low) if low else None, str(p.get("host_ip") or ""),
                            str(p.get("protocol") or "tcp"), int(high) if high else 0)
        except ValueError:
            raise StackFileError(f"{at(i)}: invalid port {p.get('published')!r}:{p.get('target')!r}") from None
        out.append(spec)
    return out


def file_mode(value: Any, where: Any) -> int | None:
    """A permission mode: an int as written in YAML, or an octal string ("1777", "0755")."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        raise StackFileError(f"{where}: invalid mode {value!r} (use octal, like 1777)") from None


def mount(item: dict, where: Any) -> MountSpec:
    """A long-form `volumes` entry (a type we cannot mount is refused when its container is made)."""
    kind = str(item.get("type", "volume"))
    spec = MountSpec(kind, str(item.get("target") or ""), str(item.get("source") or ""), bool(item.get("read_only")))
    if kind == "volume":
        opts = item.get("volume") or {}
        spec.subpath, spec.nocopy = str(opts.get("subpath") or ""), bool(opts.get("nocopy"))
    elif kind == "bind":
        opts = item.get("bind") or {}
        spec.propagation = str(opts.get("propagation") or "")
        spec.create_host_path = bool(opts.get("create_host_path"))
    elif kind == "tmpfs":
        opts = item.get("tmpfs") or {}
        size = opts.get("size")
        spec.tmpfs_size = norm.parse_bytes(size, where) if size else 0
        spec.tmpfs_mode = file_mode(opts.get("mode"), where)
    return spec


_TMPFS_FLAGS = frozenset({"nosuid", "nodev", "noexec", "exec", "suid", "dev", "async", "sync", "atime", "noatime",
                          "relatime", "strictatime", "nr_inodes", "uid", "gid"})


def tmpfs_mounts(value: Any, at: At) -> list[MountSpec]:
    """`tmpfs:` entries, "PATH[:OPTIONS]" with Docker's options (size=64m, mode=1770, ro...)."""
    out = []
    for i, entry in enumerate([value] if isinstance(value, str) else value or []):
        where = at("tmpfs", i)
        target, _, options = str(entry).partition(":")
        m = MountSpec("tmpfs", target)
        for opt in filter(None, options.split(",")):
            key, _, val = opt.partition("=")
            if key == "size":
                m.tmpfs_size = norm.parse_bytes(val, where)
            elif key == "mode":
                m.tmpfs_mode = file_mode(val, where)
            elif key in ("ro", "rw"):
                m.read_only = key == "ro"
            elif key not in _TMPFS_FLAGS:
                raise StackFileError(f"{where}: unknown tmpfs option {opt!r}")
        out.append(m)
    return out


def _volumes_from(entries: list | None, at: At) -> list[VolumesFrom]:
    out = []
    for i, entry in enumerate(entries or []):
        entry = str(entry)
        kind, _, rest = entry.partition(":")
        if kind not in ("service", "container"):
            kind, rest = "service", entry
        name, _, mode = rest.partition(":")
        if mode not in ("", "ro", "rw"):
            raise StackFileError(f"{at('volumes_from', i)}: {entry!r}: unknown mode {mode!r} (use ro or rw)")
        out.append(VolumesFrom(kind, name, mode))
    return out


# -- secrets and configs ----------------------------------------------------------------------

FILE_BASE = {"secrets": "/run/secrets/", "configs": "/"}


def _file_number(value: Any, what: str, where: Any) -> int:
    try:
        n = int(str(value), 10)
    except ValueError:
        n = -1
    if n < 0:
        raise StackFileError(f"{where}: invalid {what} {value!r} (use a number)")
    return n


def _file_ref_mode(value: Any, where: Any) -> int:
    if value is None or value == "":
        return 0o444
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    else:
        try:
            mode = int(str(value), 8)
        except ValueError:
            mode = -1
    if not 0 <= mode <= 0o777:
        raise StackFileError(f"{where}: invalid mode {value!r} (use octal, like 0440)")
    return mode


def file_refs(raw: dict, at: At) -> list[FileRef]:
    """The service's `secrets` and `configs` entries, their targets made absolute."""
    out = []
    for kind in ("secrets", "configs"):
        for i, ref in enumerate(raw.get(kind) or []):
            where = at(kind, i)
            source = str(ref["source"])
            target = str(ref.get("target") or "")
            target = FILE_BASE[kind] + source if not target else target if target.startswith("/") \
                else FILE_BASE[kind] + target
            out.append(FileRef(kind, source, target, _file_number(ref.get("uid") or 0, "uid", where),
                               _file_number(ref.get("gid") or 0, "gid", where),
                               _file_ref_mode(ref.get("mode"), where),
                               any(ref.get(k) is not None for k in ("uid", "gid", "mode"))))
    return out


def _build_secrets(build: Any, at: At) -> list[FileRef]:
    """`build.secrets`: the id a RUN --mount=type=secret asks for is the target (default the source)."""
    if not isinstance(build, dict):
        return []
    return [FileRef("secrets", str(ref["source"]), str(ref.get("target") or ref["source"]))
            for ref in build.get("secrets") or []]


def _build(build: Any) -> dict | None:
    if build is None:
        return None
    return {"context": build} if isinstance(build, str) else dict(build)


def _replicas(raw: dict, at: At) -> int | None:
    for key, value in (("scale", raw.get("scale")), ("deploy", (raw.get("deploy") or {}).get("replicas"))):
        if value is not None:
            try:
                return int(value)
            except (TypeError, ValueError):
                where = at("scale") if key == "scale" else at("deploy", "replicas")
                raise StackFileError(f"{where}: replicas must be a number, not {value!r}") from None
    return None


# -- networks ---------------------------------------------------------------------------------

def _networks(value: dict | None, at: At) -> dict[str, ServiceNetwork]:
    out = {}
    for key, opts in (value or {}).items():
        opts = opts or {}
        out[key] = ServiceNetwork(
            [str(a) for a in opts.get("aliases") or []], str(opts.get("ipv4_address") or ""),
            str(opts.get("ipv6_address") or ""), norm.as_int(opts.get("priority") or 0, at("networks", key, "priority")),
            str(opts.get("mac_address") or ""))
    return out


def _strings(value: Any) -> list[str]:
    """A string-or-list attribute (dns, dns_search, dns_opt, expose) as a list of strings."""
    if value is None or value == "":
        return []
    return [str(value)] if isinstance(value, (str, int)) else [str(v) for v in value]


def _extra_hosts(value: Any) -> list[str]:
    """extra_hosts as a list ("name:ip", "name=ip") or a mapping (name: ip or [ips]) -> ["name=ip", ...]."""
    if not value:
        return []
    if isinstance(value, dict):
        return [f"{name}={ip}" for name, ips in value.items() for ip in (ips if isinstance(ips, list) else [ips])]
    out = []
    for entry in value:
        entry = str(entry)
        name, sep, ip = entry.partition("=") if "=" in entry else entry.partition(":")
        out.append(f"{name}={ip}" if sep else entry)
    return out


def _networking(raw: dict) -> Networking:
    links = []
    for link in raw.get("links") or []:
        name, _, alias = str(link).partition(":")
        links.append((name, alias))
    return Networking(str(raw.get("network_mode") or ""), _strings(raw.get("dns")), _strings(raw.get("dns_search")),
                      _strings(raw.get("dns_opt")), _extra_hosts(raw.get("extra_hosts")), raw.get("domainname"),
                      str(raw.get("mac_address") or ""), links, _strings(raw.get("expose")))


# -- isolation and resources ------------------------------------------------------------------

def _size(value: Any, where: Any) -> int | None:
    return None if value in (None, "") else norm.parse_bytes(value, where)


def _ulimits(raw: dict | None, at: At) -> dict[str, list[int]]:
    out = {}
    for name, value in (raw or {}).items():
        where = at("ulimits", name)
        if isinstance(value, dict):
            out[str(name)] = [norm.as_int(value.get("soft"), where), norm.as_int(value.get("hard"), where)]
        else:
            out[str(name)] = [norm.as_int(value, where), norm.as_int(value, where)]
    return out


def _devices(raw: list | None) -> list[str]:
    out = []
    for d in raw or []:
        if isinstance(d, dict):
            out.append(f"{d['source']}:{d.get('target') or d['source']}:{d.get('permissions') or 'rwm'}")
        else:
            out.append(str(d))
    return out


def resources(raw: dict, at: At) -> dict[str, Any]:
    """cgroup limits in the engine's vocabulary (engine/runtime/resources.py); service-level attributes
    win over deploy.resources, as in Docker Compose."""
    deploy = (raw.get("deploy") or {}).get("resources") or {}
    limits, reservations = deploy.get("limits") or {}, deploy.get("reservations") or {}
    r: dict[str, Any] = {}
    memory = _size(raw.get("mem_limit"), at("mem_limit")) or \
        _size(limits.get("memory"), at("deploy", "resources", "limits", "memory"))
    if memory:
        r["memory"] = memory
    swap = _size(raw.get("memswap_limit"), at("memswap_limit"))
    if swap:
        r["memory_swap"] = swap
    reservation = _size(raw.get("mem_reservation"), at("mem_reservation")) or \
        _size(reservations.get("memory"), at("deploy", "resources", "reservations", "memory"))
    if reservation:
        r["memory_reservation"] = reservation
    if raw.get("mem_swappiness") not in (None, ""):
        r["memory_swappiness"] = norm.as_int(raw["mem_swappiness"], at("mem_swappiness"))
    cpus = raw.get("cpus") if raw.get("cpus") not in (None, "", 0) else limits.get("cpus")
    if cpus not in (None, "", 0):
        r["cpus"] = float(norm.as_number(cpus, at("cpus")))
    for key in ("cpu_shares", "cpu_quota", "cpu_period", "pids_limit"):
        if raw.get(key) not in (None, ""):
            r[key] = norm.as_int(raw[key], at(key))
    if "pids_limit" not in r and limits.get("pids"):
        r["pids_limit"] = norm.as_int(limits["pids"], at("deploy", "resources", "limits", "pids"))
    if raw.get("cpuset"):
        r["cpuset_cpus"] = str(raw["cpuset"])
    if raw.get("oom_kill_disable"):
        r["oom_kill_disable"] = True
    blkio = raw.get("blkio_config") or {}
    if blkio.get("weight"):
        r["blkio_weight"] = norm.as_int(blkio["weight"], at("blkio_config", "weight"))
    if blkio.get("weight_device"):
        r["blkio_weight_device"] = [{"path": d.get("Path") or d.get("path"),
                                     "weight": norm.as_int(d.get("Weight") or d.get("weight"),
                                                           at("blkio_config", "weight_device", i))}
                                    for i, d in enumerate(blkio["weight_device"])]
    for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"):
        if blkio.get(key):
            r[key] = [{"path": d.get("Path") or d.get("path"),
                       "rate": norm.parse_bytes(d.get("Rate") or d.get("rate"), at("blkio_config", key, i))}
                      for i, d in enumerate(blkio[key])]
    return r


def isolation(raw: dict, at: At) -> Isolation:
    return Isolation(
        privileged=norm.as_bool(raw.get("privileged"), at("privileged")),
        cap_add=[str(c) for c in raw.get("cap_add") or []], cap_drop=[str(c) for c in raw.get("cap_drop") or []],
        security_opt=[str(o) for o in raw.get("security_opt") or []],
        read_only=norm.as_bool(raw.get("read_only"), at("read_only")),
        group_add=[str(g) for g in raw.get("group_add") or []], devices=_devices(raw.get("devices")),
        sysctls={str(k): str(v) for k, v in (raw.get("sysctls") or {}).items()},
        ulimits=_ulimits(raw.get("ulimits"), at), shm_size=_size(raw.get("shm_size"), at("shm_size")),
        ipc=str(raw["ipc"]) if raw.get("ipc") else None, pid=str(raw["pid"]) if raw.get("pid") else None,
        userns_mode=str(raw["userns_mode"]) if raw.get("userns_mode") else None,
        init=norm.as_bool(raw.get("init"), at("init")),
        oom_score_adj=norm.as_int(raw["oom_score_adj"], at("oom_score_adj"))
        if raw.get("oom_score_adj") not in (None, "") else None,
        resources=resources(raw, at))


# -- supervision: restart policy, healthcheck, log rotation -----------------------------------

RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
RESTART_CONDITIONS = {"none": "no", "on-failure": "on-failure", "any": "always"}


def _count(value: Any, where: Any) -> int:
    try:
        n = int(str(value))
    except ValueError:
        raise StackFileError(f"{where}: {value!r} is not a whole number") from None
    if n < 0:
        raise StackFileError(f"{where}: must not be negative")
    return n


def restart_policy(raw: dict, at: At) -> RestartPolicy:
    """`deploy.restart_policy`, when given, wins over `restart` (as in Docker Compose)."""
    policy = (raw.get("deploy") or {}).get("restart_policy")
    if policy is not None:
        condition = str(policy.get("condition") or "any")
        if condition not in RESTART_CONDITIONS:
            raise StackFileError(f"{at('deploy', 'restart_policy', 'condition')}: invalid value {condition!r} "
                                 "(use none, on-failure or any)")
        delay = policy.get("delay")
        attempts = policy.get("max_attempts")
        return RestartPolicy(
            RESTART_CONDITIONS[condition],
            None if delay is None else norm.parse_duration(delay, at("deploy", "restart_policy", "delay")),
            None if attempts is None else _count(attempts, at("deploy", "restart_policy", "max_attempts")))
    value = raw.get("restart", "no")
    text = "no" if value is False or value is None else str(value)
    kind, colon, limit = text.partition(":")
    if kind not in RESTART_POLICIES or (colon and (kind != "on-failure" or not limit.isdigit())):
        raise StackFileError(f"{at('restart')}: invalid restart policy {text!r} "
                             "(use no, always, on-failure[:N] or unless-stopped)")
    return RestartPolicy(text)


def healthcheck(hc: dict | None, at: At) -> Healthcheck | None:
    """None when the service sets none (the image's applies); test ["NONE"] when it disables checks."""
    if hc is None:
        return None
    if norm.as_bool(hc.get("disable", False), at("healthcheck", "disable")):
        return Healthcheck(["NONE"])
    out = Healthcheck()
    test = hc.get("test")
    if isinstance(test, str):
        out.test = ["CMD-SHELL", test]
    elif isinstance(test, list):
        if not test or str(test[0]) not in ("NONE", "CMD", "CMD-SHELL"):
            raise StackFileError(f"{at('healthcheck', 'test')}: a list must start with NONE, CMD or CMD-SHELL")
        out.test = [str(t) for t in test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if hc.get(key) is not None:
            setattr(out, key, norm.parse_duration(hc[key], at("healthcheck", key)))
    if hc.get("retries") is not None:
        out.retries = _count(hc["retries"], at("healthcheck", "retries"))
    return out


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)b?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1000, "m": 1000 ** 2, "g": 1000 ** 3}  # Docker's json-file reads decimal units


def log_rotation(logging: dict | None, at: At) -> LogRotation:
    """max-size (bytes) and max-file from `logging.options`; (0, 1) means no rotation."""
    options = (logging or {}).get("options") or {}
    size = 0
    if options.get("max-size") not in (None, "", "-1"):
        m = _SIZE.match(str(options["max-size"]))
        if not m:
            raise StackFileError(f"{at('logging', 'options', 'max-size')}: invalid size {options['max-size']!r} "
                                 "(use forms like 10k, 5m, 1g)")
        size = int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])
    files = 1
    if options.get("max-file") not in (None, ""):
        where = at("logging", "options", "max-file")
        files = _count(options["max-file"], where)
        if files < 1:
            raise StackFileError(f"{where}: must be at least 1")
        if files > 1 and not size:
            raise StackFileError(f"{where}: needs max-size too")
    return LogRotation(size, files)


def resolve_context(build: dict | None, project_dir: str) -> dict | None:
    """`build:` with a local context made absolute (a remote one is refused when it is built)."""
    if build is None:
        return None
    context = str(build.get("context") or ".")
    if "://" in context or context.startswith("git@"):
        return build
    return {**build, "context": os.path.normpath(os.path.join(project_dir, context))}
