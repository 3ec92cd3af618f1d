"""Names the per-network resolver answers: one record file per network. Stdlib only.

The file holds ``{"containers": {id: {"names": [...], "ip": "...", "ip6": "...", "dns": [...],
"search": [...]}}}``; the resolver maps every name (lowercase) to the addresses of the containers
carrying it, and forwards a container's other questions to its own ``dns`` servers when it has some.
"""
from __future__ import annotations


def register(records_file: str, cid: str, names: list[str], ip: str, ip6: str = "", dns: list[str] | None = None,
             search: list[str] | None = None) -> None:
    """Record that container *cid* answers to *names* (case-insensitive) at *ip* (and *ip6*), asks *dns*
    upstream and uses *search* domains; replaces its old entry."""
    # imported here: the resolver, which only needs name_map, stays lighter
    from engine.store.locks import file_lock
    from engine.store.records import read_json, write_json

    with file_lock(records_file + ".lock"):
        data = read_json(records_file, {"containers": {}}, runtime=True) or {"containers": {}}
        entry = {"names": sorted({n.lower() for n in names if n}), "ip": ip}
        if ip6:
            entry["ip6"] = ip6
        if dns:
            entry["dns"] = list(dns)
        if search:
            entry["search"] = [d.lower().strip(".") for d in search]
        data["containers"][cid] = entry
        write_json(records_file, data, durable=False)  # names are registered again at each start


def unregister(records_file: str, cid: str) -> None:
    """Forget container *cid*'s names (idempotent)."""
    from engine.store.locks import file_lock
    from engine.store.records import read_json, write_json

    with file_lock(records_file + ".lock"):
        data = read_json(records_file, runtime=True)
        if data is None or cid not in data.get("containers", {}):
            return
        del data["containers"][cid]
        write_json(records_file, data, durable=False)  # names are registered again at each start


def name_map(data: dict, key: str = "ip") -> dict[str, list[str]]:
    """{name: [ip, ...]} from a registry file's content, addresses in container-id order; key="ip6" for
    IPv6 (names of containers without one map to [])."""
    out: dict[str, list[str]] = {}
    for cid in sorted(data.get("containers", {})):
        entry = data["containers"][cid]
        for name in entry["names"]:
            out.setdefault(name, [])
            if entry.get(key):
                out[name].append(entry[key])
    return out


def upstreams(data: dict) -> dict[str, list[str]]:
    """{container IPv4 or IPv6: its own dns servers}, for the containers that have some."""
    out: dict[str, list[str]] = {}
    for entry in data.get("containers", {}).values():
        if entry.get("dns"):
            for key in ("ip", "ip6"):
                if entry.get(key):
                    out[entry[key]] = list(entry["dns"])
    return out


def search_domains(data: dict) -> set[str]:
    return {d for entry in data.get("containers", {}).values() for d in entry.get("search", [])}
