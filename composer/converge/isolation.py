"""A service's isolation, security and resource settings (composer.model.Isolation) as ContainerSpec fields."""
from __future__ import annotations

from dataclasses import asdict

from composer.errors import ComposerError
from composer.labels import container_name
from composer.model import Project, Service


def join_mode(project: Project, svc: Service, key: str, mode: str | None) -> str | None:
    """`service:NAME` becomes `container:<its first container>`; other modes pass through."""
    if not mode:
        return None
    if mode.startswith("service:"):
        name = mode.split(":", 1)[1]
        if name not in project.services:
            raise ComposerError(f"service {svc.name}: {key}: service:{name} refers to an unknown service")
        return "container:" + container_name(project, project.services[name], 1)
    return mode


def container_fields(project: Project, svc: Service) -> dict:
    """The ContainerSpec keyword arguments for isolation, security and resources."""
    fields = asdict(svc.isolation)
    fields["ipc"] = join_mode(project, svc, "ipc", svc.isolation.ipc)
    fields["pid"] = join_mode(project, svc, "pid", svc.isolation.pid)
    return fields
