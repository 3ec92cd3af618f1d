"""What ties an engine object to its project and service: Docker Compose's labels, and the names
composer gives containers and built images."""
from __future__ import annotations

from composer.model import Project, Service

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
