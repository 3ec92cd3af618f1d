"""From a ContainerSpec's isolation and resource fields to the runtime config (config.json), and the
checks that refuse bad values at create time with one clear line."""
from __future__ import annotations

import os
import stat

from engine.errors import InvalidArgument
from engine.runtime import caps as capabilities
from engine.runtime.confine import RLIMITS
from engine.runtime.resources import DEFAULT_DEVICE_RULES

# sysctls that belong to a namespace of the container (anything else would change the host)
IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
               "kernel.shmmni", "kernel.shm_rmid_forced")
MIN_MEMORY = 6 * 1024 * 1024


def _security(spec) -> dict:
    """security_opt as {"no_new_privs": bool, "seccomp": bool, "systempaths": bool}."""
    out = {"no_new_privs": False, "seccomp": True, "systempaths": True}
    for opt in spec.security_opt or []:
        key, sep, value = str(opt).replace("=", ":", 1).partition(":")
        key, value = key.strip(), value.strip()
        if key == "no-new-privileges":
            if value not in ("", "true", "false"):
                raise InvalidArgument(f"security_opt {opt!r}: no-new-privileges takes true or false")
            out["no_new_privs"] = value != "false"
        elif key == "seccomp" and value == "unconfined":
            out["seccomp"] = False
        elif key == "seccomp":
            raise InvalidArgument(f"security_opt {opt!r}: custom seccomp profiles are not supported; the default "
                                  "filter applies unless you use seccomp=unconfined")
        elif key == "systempaths" and value == "unconfined":
            out["systempaths"] = False
        elif (key == "apparmor" and value == "unconfined") or (key == "label" and value == "disable"):
            pass  # no AppArmor or SELinux confinement here to lift
        elif key in ("apparmor", "label"):
            raise InvalidArgument(f"security_opt {opt!r}: {key} profiles are not supported on this host "
                                  "(no AppArmor/SELinux confinement is applied)")
        else:
            raise InvalidArgument(f"security_opt {opt!r}: unknown option (use no-new-privileges, "
                                  "seccomp=unconfined or systempaths=unconfined)")
    return out


def _mode(value: str | None, what: str, allowed: tuple[str, ...]) -> str:
    mode = (value or "").strip()
    if mode and mode not in allowed and not mode.startswith("container:"):
        raise InvalidArgument(f"{what} mode {mode!r} is not supported (use {', '.join(allowed)} or container:NAME)")
    return mode


def parse_device(entry: str) -> dict:
    """`HOST[:CONTAINER[:PERMS]]` -> the node to make and its cgroup rule."""
    parts = str(entry).split(":")
    host = parts[0]
    target = parts[1] if len(parts) > 1 and parts[1] else host
    perms = parts[2] if len(parts) > 2 else "rwm"
    if len(parts) == 2 and set(parts[1]) <= set("rwm") and not parts[1].startswith("/"):
        target, perms = host, parts[1]
    if not perms or not set(perms) <= set("rwm") or len(parts) > 3:
        raise InvalidArgument(f"devices {entry!r}: use HOST[:CONTAINER[:PERMISSIONS]] with permissions from rwm")
    if not target.startswith("/"):
        raise InvalidArgument(f"devices {entry!r}: the container path must be absolute")
    try:
        st = os.stat(host)
    except OSError as e:
        raise InvalidArgument(f"devices {entry!r}: {host}: {e.strerror}") from None
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise InvalidArgument(f"devices {entry!r}: {host} is not a device")
    kind = "b" if stat.S_ISBLK(st.st_mode) else "c"
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return {"path": target, "type": kind, "major": major, "minor": minor, "mode": stat.S_IMODE(st.st_mode),
            "uid": st.st_uid, "gid": st.st_gid, "rule": f"{kind} {major}:{minor} {perms}"}


def check_sysctls(sysctls: dict, ipc: str, network_mode: str) -> None:
    for key in sysctls or {}:
        if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if ipc == "host":
                raise InvalidArgument(f"sysctl {key!r} is not allowed with ipc: host (it would change the host)")
        elif key.startswith("net."):
            if network_mode == "host":
                raise InvalidArgument(f"sysctl {key!r} is not allowed with network_mode: host "
                                      "(it would change the host)")
        else:
            raise InvalidArgument(f"sysctl {key!r} is not allowed: only namespaced sysctls (net.*, kernel.shm*, "
                                  "kernel.msg*, kernel.sem, fs.mqueue.*) can be set for a container")


def check_resources(r: dict) -> None:
    mem = int(r.get("memory") or 0)
    if mem and mem < MIN_MEMORY:
        raise InvalidArgument("mem_limit: the minimum memory limit allowed is 6MB")
    swap = int(r.get("memory_swap") or 0)
    if swap > 0 and mem and swap < mem:
        raise InvalidArgument("memswap_limit must be at least mem_limit (it counts memory plus swap)")
    if swap > 0 and not mem:
        raise InvalidArgument("memswap_limit needs mem_limit as well")
    if r.get("memory_reservation") and mem and int(r["memory_reservation"]) > mem:
        raise InvalidArgument("mem_reservation must be below mem_limit")
    if r.get("cpus"):
        n = os.cpu_count() or 1
        if not 0.01 <= float(r["cpus"]) <= n:
            raise InvalidArgument(f"cpus: the range of CPUs is from 0.01 to {n}.00, as there are only {n} "
                                  "CPUs available")
    if r.get("cpuset_cpus"):
        _check_cpuset(str(r["cpuset_cpus"]))
    swappiness = r.get("memory_swappiness")
    if swappiness is not None and not 0 <= int(swappiness) <= 100:
        raise InvalidArgument("mem_swappiness must be between 0 and 100")
    weight = r.get("blkio_weight")
    if weight and not 10 <= int(weight) <= 1000:
        raise InvalidArgument("blkio_config.weight must be between 10 and 1000")


def _check_cpuset(text: str) -> None:
    n = os.cpu_count() or 1
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            for cpu in (int(lo), int(hi or lo)):
                if not 0 <= cpu < n:
                    raise InvalidArgument(f"cpuset {text!r}: CPU {cpu} does not exist (this host has 0-{n - 1})")
    except ValueError:
        raise InvalidArgument(f"cpuset {text!r}: use a list like 0-1,3") from None


def check(spec) -> None:
    """Everything about isolation and resources that can be refused before anything is made."""
    try:
        capabilities.resolve(spec.cap_add, spec.cap_drop, spec.privileged)
    except capabilities.CapabilityError as e:
        raise InvalidArgument(f"cap_add/cap_drop: {e}") from None
    _security(spec)
    for dev in spec.devices or []:
        parse_device(dev)
    ipc = _mode(spec.ipc, "ipc", ("private", "shareable", "none", "host"))
    _mode(spec.pid, "pid", ("host",))
    if spec.userns_mode not in (None, "", "host"):
        raise InvalidArgument(f"userns_mode {spec.userns_mode!r} is not supported: containers run without a user "
                              "namespace (only userns_mode: host)")
    check_sysctls(spec.sysctls, ipc, getattr(spec, "network_mode", "") or "")
    for name, limit in (spec.ulimits or {}).items():
        if name not in RLIMITS:
            raise InvalidArgument(f"ulimits: unknown limit {name!r} (use one of {', '.join(sorted(RLIMITS))})")
        soft, hard = limit
        if int(soft) > int(hard) >= 0:
            raise InvalidArgument(f"ulimits {name}: the soft limit {soft} is above the hard limit {hard}")
    if spec.shm_size is not None and int(spec.shm_size) <= 0:
        raise InvalidArgument("shm_size must be a positive size")
    check_resources(spec.resources or {})


def runtime_config(spec, join, own_shm: str) -> tuple[dict, dict]:
    """(keys for the process mapping, keys for the container) of config.json. *join(ref, what)* gives
    the host pid of another running container for container:NAME modes and, for ipc, the host path of
    its shared /dev/shm; *own_shm* is where this container's goes if it is shareable."""
    sec = _security(spec)
    mask = capabilities.resolve(spec.cap_add, spec.cap_drop, spec.privileged)
    devices = [parse_device(d) for d in spec.devices or []]
    process = {"caps": mask, "seccomp": sec["seccomp"] and not spec.privileged,
               "no_new_privs": sec["no_new_privs"], "group_add": [str(g) for g in spec.group_add or []],
               "rlimits": {k: [int(v[0]), int(v[1])] for k, v in (spec.ulimits or {}).items()}}
    if spec.oom_score_adj is not None:
        process["oom_score_adj"] = int(spec.oom_score_adj)
    container = {
        "privileged": bool(spec.privileged), "systempaths": sec["systempaths"],
        "read_only": bool(spec.read_only), "sysctls": dict(spec.sysctls or {}),
        "devices": [{k: v for k, v in d.items() if k != "rule"} for d in devices],
        "device_rules": None if spec.privileged else [*DEFAULT_DEVICE_RULES, *(d["rule"] for d in devices)],
        "shm_size": int(spec.shm_size) if spec.shm_size else None, "init": bool(spec.init),
        "resources": dict(spec.resources or {}),
        "pid": _join_mode(spec.pid or "private", join, "pid")[0],
    }
    container["ipc"], container["shm_path"] = _join_mode(spec.ipc or "private", join, "ipc")
    if container["ipc"] == "shareable":
        container["shm_path"] = own_shm
    return process, container


def _join_mode(mode: str, join, what: str) -> tuple[str, str | None]:
    """("join:PID", the donor's shared /dev/shm) for container:NAME; (mode, None) otherwise."""
    if mode.startswith("container:"):
        pid, shm = join(mode.split(":", 1)[1], what)
        return f"join:{pid}", shm
    return mode, None
