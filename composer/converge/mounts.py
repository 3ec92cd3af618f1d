"""A service's typed mounts as engine Mounts: its `volumes`, `tmpfs` and `volumes_from` (and its
`secrets` and `configs`, from composer/converge/secretfiles.py)."""
from __future__ import annotations

import os
import re

from composer.errors import ComposerError
from composer.labels import LABEL_PROJECT, container_name
from composer.load.parsers import abs_path, parse_volume
from composer.model import MountSpec, Project, Service
from engine.api import ContainerInfo, Mount

_ANONYMOUS_NAME = re.compile(r"^[0-9a-f]{64}$")


def _mount(spec: MountSpec, where: str, volume_name, anonymous_labels: dict[str, str]) -> Mount:
    """A typed mount as an engine Mount; *volume_name* maps a named source to the engine's name."""
    if spec.type == "volume":
        return Mount("volume", spec.target, volume_name(spec.source) if spec.source else "", spec.read_only,
                     subpath=spec.subpath, nocopy=spec.nocopy,
                     volume_labels={} if spec.source else dict(anonymous_labels))
    if spec.type == "bind":
        return Mount("bind", spec.target, spec.source, spec.read_only, propagation=spec.propagation,
                     create_host_path=spec.create_host_path)
    if spec.type == "tmpfs":
        return Mount("tmpfs", spec.target, read_only=spec.read_only, tmpfs_size=spec.tmpfs_size,
                     tmpfs_mode=spec.tmpfs_mode)
    raise ComposerError(f"{where}: mount type {spec.type!r} is not supported (use volume, bind or tmpfs)")


def _project_mount(project: Project, spec: MountSpec, where: str) -> Mount:
    def volume_name(key: str) -> str:
        if key not in project.volumes:
            raise ComposerError(f"{where}: volume {key!r} is not declared in the top-level volumes")
        return project.volumes[key].name

    return _mount(spec, where, volume_name, {LABEL_PROJECT: project.name})


def option_mount(text: str, cwd: str, project: Project | None = None) -> Mount:
    """A `run -v [SOURCE:]TARGET[:MODE]` as a Mount: SOURCE is a host path (made when missing, as
    Docker's -v does) or a volume's name (with *project*, a key of its volumes first); none makes an
    anonymous volume."""
    where = f"-v {text}"
    item = parse_volume(text, where)
    if item["type"] == "bind":
        item["source"] = abs_path(item["source"], cwd)
        item.setdefault("bind", {})["create_host_path"] = True
    from composer.load import typed  # run -v only: not on the paths of ps and a no-op up

    known = project.volumes if project else {}
    labels = {LABEL_PROJECT: project.name} if project else {}
    return _mount(typed.mount(item, where), where, lambda name: known[name].name if name in known else name, labels)


def service_mounts(project: Project, svc: Service, previous: ContainerInfo | None = None) -> list[Mount]:
    """The mounts of *svc*'s container. With *previous* (the container it replaces), anonymous
    volumes reuse that container's volume at the same path, so their data survives a recreate."""
    mounts = [_project_mount(project, spec, f"services.{svc.name}.volumes[{i}]")
              for i, spec in enumerate(svc.volumes)]
    mounts += [_mount(spec, f"services.{svc.name}.tmpfs[{i}]", str, {}) for i, spec in enumerate(svc.tmpfs)]
    if previous is not None:
        inherit_anonymous(mounts, previous)
    if svc.files:
        from composer.converge.secretfiles import service_file_mounts  # only a service with secrets/configs

        mounts += service_file_mounts(project, svc, {os.path.normpath(m.target) for m in mounts})
    return mounts


def inherit_anonymous(mounts: list[Mount], previous: ContainerInfo) -> None:
    old = {m.target: m.source for m in previous.spec.mounts
           if m.type == "volume" and _ANONYMOUS_NAME.match(m.source)}
    for m in mounts:
        if m.type == "volume" and not m.source and m.target in old:
            m.source = old[m.target]


def volumes_from(project: Project, svc: Service) -> list[str]:
    """`volumes_from` entries as engine container names with their mode: service:NAME (or a bare
    NAME) is that service's first container, container:NAME a container by name."""
    out = []
    for entry in svc.volumes_from:
        name = entry.name
        if entry.kind == "service":
            if name not in project.services:
                raise ComposerError(f"services.{svc.name}.volumes_from: {name!r}: no such service: {name}")
            name = container_name(project, project.services[name])
        out.append(f"{name}:{entry.mode}" if entry.mode else name)
    return out


def services_mounted_from(svc: Service) -> list[str]:
    """The services whose container *svc*'s `volumes_from` needs to exist before its own is created."""
    return [entry.name for entry in svc.volumes_from if entry.kind == "service"]


def volume_options(project: Project, key: str) -> dict[str, str]:
    """A top-level volume's driver_opts (local: type, device, o), as strings."""
    raw = (project.raw.get("volumes") or {}).get(key) or {}
    return {str(k): str(v) for k, v in (raw.get("driver_opts") or {}).items()}
