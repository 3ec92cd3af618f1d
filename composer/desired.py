"""From a service of the model to the engine's container spec: names, labels, mounts, ports."""
from __future__ import annotations

from composer import lifecycle
from composer.isolation import container_fields
from composer.model import Project, Service
from engine.api import ContainerSpec, Mount, NetworkAttachment, PortBinding

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_HASH = "com.docker.compose.config-hash"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_FILES = "com.docker.compose.project.config_files"
LABEL_NETWORK = "com.docker.compose.network"
LABEL_VOLUME = "com.docker.compose.volume"


def image_name(project: Project, svc: Service) -> str:
    """The image a service's containers run: its `image:`, or the one `build:` makes for it."""
    return svc.image or f"{project.name}-{svc.name}"


def container_name(project: Project, svc: Service, number: int = 1) -> str:
    return svc.container_name or f"{project.name}-{svc.name}-{number}"


def container_spec(project: Project, svc: Service, number: int = 1) -> ContainerSpec:
    labels = dict(svc.labels)
    labels.update({
        LABEL_PROJECT: project.name,
        LABEL_SERVICE: svc.name,
        LABEL_NUMBER: str(number),
        LABEL_HASH: svc.config_hash(),
        LABEL_ONEOFF: "False",
        LABEL_WORKDIR: project.working_dir,
        LABEL_FILES: ",".join(project.files),
    })
    mounts = []
    for m in svc.volumes:
        if m.type == "volume" and m.source:
            mounts.append(Mount("volume", m.target, project.volumes[m.source].name, m.read_only))
        elif m.type == "volume":
            mounts.append(Mount("tmpfs", m.target))  # anonymous volumes: issue "runtime and network depth"
        else:
            mounts.append(Mount(m.type, m.target, m.source, m.read_only))
    networks = [NetworkAttachment(project.networks[key].name, [svc.name, *aliases])
                for key, aliases in svc.networks.items()]
    ports = [PortBinding(p.target, p.published or 0, p.host_ip or "0.0.0.0", p.protocol) for p in svc.ports]
    restart = lifecycle.restart_settings(svc.name, svc.raw)
    log_size, log_files = lifecycle.log_rotation(svc.name, svc.raw)
    return ContainerSpec(
        name=container_name(project, svc, number), image=image_name(project, svc),
        entrypoint=svc.entrypoint, command=svc.command, env=dict(svc.environment),
        working_dir=svc.working_dir, user=svc.user, hostname=svc.hostname, labels=labels, mounts=mounts,
        networks=networks, ports=ports, stop_signal=svc.stop_signal, stop_timeout=svc.stop_grace_period,
        restart=restart.policy, restart_delay=restart.delay, restart_max_attempts=restart.max_attempts,
        healthcheck=lifecycle.healthcheck(svc.name, svc.raw), log_max_size=log_size, log_max_file=log_files,
        tty=lifecycle.flag(svc.name, svc.raw, "tty"), stdin_open=lifecycle.flag(svc.name, svc.raw, "stdin_open"),
        **container_fields(project, svc))
