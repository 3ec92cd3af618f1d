"""Names the per-network resolver answers: one record file per network. Stdlib only.

The file holds ``{"containers": {id: {"names": [...], "ip": "..."}}}``; the resolver maps every name
(lowercase) to the addresses of the containers carrying it.
"""
from __future__ import annotations


def register(records_file: str, cid: str, names: list[str], ip: str) -> None:
    """Record that container *cid* answers to *names* (case-insensitive) at *ip*; replaces its old entry."""
    # imported here: the resolver, which only needs name_map, stays lighter
    from engine.store.locks import file_lock
    from engine.store.records import read_json, write_json

    with file_lock(records_file + ".lock"):
        data = read_json(records_file, {"containers": {}}) or {"containers": {}}
        data["containers"][cid] = {"names": sorted({n.lower() for n in names if n}), "ip": ip}
        write_json(records_file, data)


def unregister(records_file: str, cid: str) -> None:
    """Forget container *cid*'s names (idempotent)."""
    from engine.store.locks import file_lock
    from engine.store.records import read_json, write_json

    with file_lock(records_file + ".lock"):
        data = read_json(records_file)
        if data is None or cid not in data.get("containers", {}):
            return
        del data["containers"][cid]
        write_json(records_file, data)


def name_map(data: dict) -> dict[str, list[str]]:
    """{name: [ip, ...]} from a registry file's content, addresses in container-id order."""
    out: dict[str, list[str]] = {}
    for cid in sorted(data.get("containers", {})):
        entry = data["containers"][cid]
        for name in entry["names"]:
            out.setdefault(name, []).append(entry["ip"])
    return out
