"""A service's isolation, security and resource attributes (from its normalized long form, `svc.raw`)
as ContainerSpec fields."""
from __future__ import annotations

from typing import Any

from composer.errors import ComposerError
from composer.model import Project, Service
from composer.load.parsers import as_bool, as_int, as_number, parse_bytes


def _size(value: Any, where: str) -> int | None:
    return None if value in (None, "") else parse_bytes(value, where)


def _join_mode(project: Project, svc: Service, key: str) -> str | None:
    """`service:NAME` becomes `container:<its first container>`; other modes pass through."""
    mode = svc.raw.get(key)
    if not mode:
        return None
    mode = str(mode)
    if mode.startswith("service:"):
        from composer.converge.containerspec import container_name

        name = mode.split(":", 1)[1]
        if name not in project.services:
            raise ComposerError(f"service {svc.name}: {key}: service:{name} refers to an unknown service")
        return "container:" + container_name(project, project.services[name], 1)
    return mode


def _ulimits(raw: dict) -> dict[str, list[int]]:
    out = {}
    for name, value in (raw or {}).items():
        if isinstance(value, dict):
            out[str(name)] = [as_int(value.get("soft")), as_int(value.get("hard"))]
        else:
            out[str(name)] = [as_int(value), as_int(value)]
    return out


def _devices(raw: list) -> list[str]:
    out = []
    for d in raw or []:
        if isinstance(d, dict):
            out.append(f"{d['source']}:{d.get('target') or d['source']}:{d.get('permissions') or 'rwm'}")
        else:
            out.append(str(d))
    return out


def resources(svc: Service) -> dict:
    """cgroup limits in the engine's vocabulary (engine/runtime/resources.py); service-level attributes
    win over deploy.resources, as in Docker Compose."""
    raw = svc.raw
    where = f"services.{svc.name}"
    deploy = (raw.get("deploy") or {}).get("resources") or {}
    limits, reservations = deploy.get("limits") or {}, deploy.get("reservations") or {}
    r: dict[str, Any] = {}
    memory = _size(raw.get("mem_limit"), where + ".mem_limit") or _size(limits.get("memory"), where)
    if memory:
        r["memory"] = memory
    swap = _size(raw.get("memswap_limit"), where + ".memswap_limit")
    if swap:
        r["memory_swap"] = swap
    reservation = _size(raw.get("mem_reservation"), where + ".mem_reservation") or \
        _size(reservations.get("memory"), where)
    if reservation:
        r["memory_reservation"] = reservation
    if raw.get("mem_swappiness") not in (None, ""):
        r["memory_swappiness"] = as_int(raw["mem_swappiness"], where + ".mem_swappiness")
    cpus = raw.get("cpus") if raw.get("cpus") not in (None, "", 0) else limits.get("cpus")
    if cpus not in (None, "", 0):
        r["cpus"] = float(as_number(cpus, where + ".cpus"))
    for key, engine_key in (("cpu_shares", "cpu_shares"), ("cpu_quota", "cpu_quota"), ("cpu_period", "cpu_period"),
                            ("pids_limit", "pids_limit")):
        if raw.get(key) not in (None, ""):
            r[engine_key] = as_int(raw[key], f"{where}.{key}")
    if "pids_limit" not in r and limits.get("pids"):
        r["pids_limit"] = as_int(limits["pids"], where)
    if raw.get("cpuset"):
        r["cpuset_cpus"] = str(raw["cpuset"])
    if raw.get("oom_kill_disable"):
        r["oom_kill_disable"] = True
    blkio = raw.get("blkio_config") or {}
    if blkio.get("weight"):
        r["blkio_weight"] = as_int(blkio["weight"])
    if blkio.get("weight_device"):
        r["blkio_weight_device"] = [{"path": d.get("Path") or d.get("path"),
                                     "weight": as_int(d.get("Weight") or d.get("weight"))}
                                    for d in blkio["weight_device"]]
    for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"):
        if blkio.get(key):
            r[key] = [{"path": d.get("Path") or d.get("path"),
                       "rate": parse_bytes(d.get("Rate") or d.get("rate"))} for d in blkio[key]]
    return r


def container_fields(project: Project, svc: Service) -> dict:
    """The ContainerSpec keyword arguments for isolation, security and resources."""
    raw = svc.raw
    where = f"services.{svc.name}"
    return {
        "privileged": as_bool(raw.get("privileged"), where + ".privileged"),
        "cap_add": [str(c) for c in raw.get("cap_add") or []],
        "cap_drop": [str(c) for c in raw.get("cap_drop") or []],
        "security_opt": [str(o) for o in raw.get("security_opt") or []],
        "read_only": as_bool(raw.get("read_only"), where + ".read_only"),
        "group_add": [str(g) for g in raw.get("group_add") or []],
        "devices": _devices(raw.get("devices")),
        "sysctls": {str(k): str(v) for k, v in (raw.get("sysctls") or {}).items()},
        "ulimits": _ulimits(raw.get("ulimits")),
        "shm_size": _size(raw.get("shm_size"), where + ".shm_size"),
        "ipc": _join_mode(project, svc, "ipc"),
        "pid": _join_mode(project, svc, "pid"),
        "userns_mode": str(raw["userns_mode"]) if raw.get("userns_mode") else None,
        "init": as_bool(raw.get("init"), where + ".init"),
        "oom_score_adj": as_int(raw["oom_score_adj"]) if raw.get("oom_score_adj") not in (None, "") else None,
        "resources": resources(svc),
    }
