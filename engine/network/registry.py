"""Names the per-network resolver answers: one record file per network. Stdlib only.

The file holds ``{"containers": {id: {"names": [...], "ip": "..."}}}``; the resolver maps every name
(lowercase) to the addresses of the containers carrying it.
"""
from __future__ import annotations

from engine.store.locks import file_lock
from engine.store.records import read_json, write_json


def register(records_file: str, cid: str, names: list[str], ip: str) -> None:
    with file_lock(records_file + ".lock"):
        data = read_json(records_file, {"containers": {}}) or {"containers": {}}
        data["containers"][cid] = {"names": sorted({n.lower() for n in names if n}), "ip": ip}
        write_json(records_file, data)


def unregister(records_file: str, cid: str) -> None:
    with file_lock(records_file + ".lock"):
        data = read_json(records_file)
        if data is None or cid not in data.get("containers", {}):
            return
        del data["containers"][cid]
        write_json(records_file, data)


def name_map(data: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cid in sorted(data.get("containers", {})):
        entry = data["containers"][cid]
        for name in entry["names"]:
            out.setdefault(name, []).append(entry["ip"])
    return out
