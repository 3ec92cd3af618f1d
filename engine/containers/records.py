"""Container records: what a container is (metadata) apart from its running process."""
from __future__ import annotations

import dataclasses
import os

from engine.errors import NotFound
from engine.paths import Paths
from engine.store.records import read_json, write_json
from engine.types import ContainerSpec, Mount, NetworkAttachment, PortBinding


def new_id() -> str:
    return os.urandom(32).hex()


def spec_to_dict(spec: ContainerSpec) -> dict:
    return dataclasses.asdict(spec)


def spec_from_dict(d: dict) -> ContainerSpec:
    d = dict(d)
    d["mounts"] = [Mount(**m) for m in d.get("mounts", [])]
    d["networks"] = [NetworkAttachment(**n) for n in d.get("networks", [])]
    d["ports"] = [PortBinding(**p) for p in d.get("ports", [])]
    return ContainerSpec(**d)


def process_args(spec: ContainerSpec, image_config: dict) -> list[str]:
    """The container's argv: its entrypoint and command, each the image's where the spec has none
    (a spec's entrypoint drops the image's Cmd), as Docker resolves them."""
    if spec.entrypoint is not None:
        return list(spec.entrypoint) + list(spec.command or [])
    return list(image_config.get("Entrypoint") or []) + list(
        spec.command if spec.command is not None else (image_config.get("Cmd") or []))


class Records:
    """The container records of one engine root: ``containers/<id>/record.json``."""

    def __init__(self, paths: Paths):
        self.paths = paths

    def path(self, cid: str) -> str:
        return os.path.join(self.paths.container_dir(cid), "record.json")

    def read(self, cid: str) -> dict | None:
        return read_json(self.path(cid))

    def write(self, rec: dict) -> None:
        write_json(self.path(rec["id"]), rec)

    def all(self) -> list[dict]:
        out = []
        try:
            ids = os.listdir(self.paths.containers)
        except FileNotFoundError:
            return out
        for cid in ids:
            if "." in cid:  # a half-made (".creating") or half-removed (".removing") leftover of a crash
                continue
            rec = self.read(cid)
            if rec is not None:
                out.append(rec)
        return out

    def find(self, ref: str) -> dict:
        """By full id, exact name, or unique id prefix."""
        if len(ref) == 64:
            rec = self.read(ref)
            if rec:
                return rec
        recs = self.all()
        name = ref.lstrip("/")
        for rec in recs:
            if rec["name"] == name:
                return rec
        matches = [r for r in recs if r["id"].startswith(ref)] if len(ref) >= 3 else []
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"no such container: {ref}")

    def volume_users(self) -> dict[str, list[str]]:
        """Volume name -> names of the containers (any state) that mount it."""
        users: dict[str, list[str]] = {}
        for r in self.all():
            for m in r["spec"]["mounts"]:
                if m["type"] == "volume" and m["source"]:
                    users.setdefault(m["source"], []).append(r["name"])
        return users
