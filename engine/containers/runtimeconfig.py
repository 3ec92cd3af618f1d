"""The runtime config (config.json) a container's monitor starts it from: root filesystem layers,
process, mounts, namespaces and limits, network namespace, published ports, restart policy and
healthcheck. Made again at each start from the record, the image and the stores."""
from __future__ import annotations

import os
from functools import partial

from engine.containers.records import process_args, spec_from_dict
from engine.errors import Conflict, InvalidArgument, NotFound
from engine.stores import Stores
from engine.types import ContainerSpec, ImageInfo, Mount

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def runtime_config(stores: Stores, rec: dict, image: ImageInfo | None, netns: str | None, dns: list[dict],
                   ports: list[dict]) -> dict:
    """The config of container *rec* (its root: *image*'s layers, or the record's own `layers`), joined
    to *netns*, with its resolvers' records files *dns* and the published *ports* (listening sockets)."""
    spec = spec_from_dict(rec["spec"])
    cfg = (image.config or {}) if image else {}
    if image:
        lower = stores.images.lowerdirs(image.id)
    else:
        lower = stores.images.snapshots.lowerdirs(rec["layers"])
        if not lower:
            raise InvalidArgument(f"container {rec['name']}: its root filesystem has no layers")
    args = process_args(spec, cfg)
    if not args:
        raise InvalidArgument(f"container {rec['name']}: no command specified (the image has none; "
                              "set command: or entrypoint:)")
    env: dict[str, str] = {}
    for item in cfg.get("Env") or []:
        k, _, v = item.partition("=")
        env[k] = v
    env.setdefault("PATH", DEFAULT_PATH)
    env["HOSTNAME"] = rec["hostname"]
    env.update(spec.env)
    if spec.tty:
        env.setdefault("TERM", "xterm")  # as Docker: the image's or the user's TERM wins
    cdir = stores.paths.container_dir(rec["id"])
    mounts = [_runtime_mount(stores, m, cdir) for m in spec.mounts]
    from engine.runtime.options import runtime_config as namespace_options

    process_opts, container_opts = namespace_options(spec, partial(_join_target, stores), os.path.join(cdir, "shm"))
    return {
        **container_opts,
        "id": rec["id"], "name": rec["name"],
        "rootfs": {"lower": lower, "upper": os.path.join(cdir, "upper"),
                   "work": os.path.join(cdir, "work"), "mountpoint": os.path.join(cdir, "rootfs")},
        "process": {"args": args, "env": [f"{k}={v}" for k, v in env.items()],
                    "cwd": spec.working_dir or cfg.get("WorkingDir") or "/",
                    "user": spec.user if spec.user is not None else (cfg.get("User") or ""),
                    **process_opts},
        "hostname": rec["hostname"], "domainname": spec.domainname or "", "mounts": mounts,
        "files": {f"/etc/{n}": os.path.join(cdir, n) for n in ("hosts", "resolv.conf", "hostname")},
        "netns": netns, "dns": dns, "ports": ports, "cgroup_parent": stores.paths.cgroup_parent,
        "stop_signal": spec.stop_signal, "restart": spec.restart,
        "restart_delay": spec.restart_delay, "restart_max_attempts": spec.restart_max_attempts,
        "healthcheck": _healthcheck(spec, cfg), "log_max_size": spec.log_max_size,
        "log_max_file": spec.log_max_file, "tty": spec.tty, "stdin_open": spec.stdin_open,
        "log": os.path.join(cdir, "container.log"), "state": os.path.join(cdir, "state.json"),
    }


def _healthcheck(spec: ContainerSpec, image_config: dict) -> dict | None:
    from engine.runtime.health import effective_healthcheck

    if spec.healthcheck is None and not image_config.get("Healthcheck"):
        return None
    return effective_healthcheck(spec.healthcheck, image_config.get("Healthcheck"))


def _join_target(stores: Stores, ref: str, what: str) -> tuple[int, str | None]:
    """Running container *ref*, whose *what* namespace another container joins: its host pid and,
    for ipc, its shared /dev/shm on the host (it must be `shareable`, as in Docker)."""
    from engine.runtime.state import read_state

    try:
        other = stores.records.find(ref)
    except NotFound:
        raise InvalidArgument(f"{what}: container:{ref}: no such container") from None
    state = read_state(stores.paths.container_dir(other["id"]))
    if state.get("status") != "running" or not state.get("pid"):
        raise Conflict(f"cannot join the {what} namespace of {other['name']}: it is not running")
    if what != "ipc":
        return int(state["pid"]), None
    if (other["spec"].get("ipc") or "") not in ("shareable", "host"):
        raise Conflict(f"cannot join the IPC namespace of {other['name']}: it is not shareable "
                       "(set ipc: shareable on it)")
    if other["spec"].get("ipc") == "host":
        return int(state["pid"]), None
    return int(state["pid"]), os.path.join(stores.paths.container_dir(other["id"]), "shm")


def _runtime_mount(stores: Stores, m: Mount, cdir: str) -> dict:
    """A mount as the container's first process makes it (engine/runtime/mounts.py)."""
    out = {"type": m.type, "target": m.target, "read_only": m.read_only}
    if m.type == "file":  # the file kept in the container's directory, bound read-only
        from engine.volumes.files import host_path

        return {"type": "bind", "target": m.target, "read_only": True, "source": host_path(m, cdir),
                "propagation": "rprivate"}
    if m.type == "volume":
        vol = stores.volumes.get(m.source)
        out.update(source=vol.mountpoint, volume_dir=stores.volumes.directory(m.source), subpath=m.subpath,
                   copy=not m.nocopy, name=vol.name, device=dict(vol.options))
    elif m.type == "bind":
        out.update(source=m.source, propagation=m.propagation or "rprivate")
        if m.source_root:
            out["source_root"] = m.source_root
    else:
        options = [f"mode={m.tmpfs_mode if m.tmpfs_mode is not None else 0o1777:o}"]
        if m.tmpfs_size:
            options.append(f"size={m.tmpfs_size}")
        out["options"] = ",".join(options)
    return out
