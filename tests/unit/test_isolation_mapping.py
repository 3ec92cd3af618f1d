"""A service's isolation and resource attributes as the engine's ContainerSpec fields."""
from __future__ import annotations

import pytest

from composer.converge import containerspec
from composer.errors import ComposerError
from composer.load.loader import LoadOptions, load

STACK = """
name: demo
services:
  db:
    image: busybox
    ipc: shareable
  app:
    image: busybox
    privileged: "true"
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    security_opt: [no-new-privileges]
    read_only: true
    user: "1000:1000"
    group_add: [audio, "44"]
    devices: ["/dev/fuse", "/dev/null:/dev/n:r"]
    sysctls: {net.core.somaxconn: 1024}
    ulimits: {nofile: {soft: 100, hard: 200}, nproc: 50}
    shm_size: 1g
    ipc: service:db
    pid: host
    userns_mode: host
    init: true
    oom_score_adj: 500
    mem_limit: 512m
    memswap_limit: 1g
    mem_reservation: 128m
    mem_swappiness: 10
    cpus: 1.5
    cpu_shares: 256
    cpuset: "0-1"
    pids_limit: 100
    blkio_config:
      weight: 300
      device_read_bps: [{path: /dev/sda, rate: 1mb}]
  deployed:
    image: busybox
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 64M, pids: 10}
        reservations: {memory: 32M}
"""


def spec(tmp_path, name, text=STACK):
    (tmp_path / "compose.yaml").write_text(text)
    project = load(LoadOptions(environ={}), cwd=str(tmp_path))
    return containerspec.container_spec(project, project.services[name])


def test_every_attribute_reaches_the_spec(tmp_path):
    s = spec(tmp_path, "app")
    assert s.privileged and s.read_only and s.init
    assert s.cap_add == ["NET_ADMIN"] and s.cap_drop == ["MKNOD"] and s.security_opt == ["no-new-privileges"]
    assert s.group_add == ["audio", "44"]
    assert s.devices == ["/dev/fuse:/dev/fuse:rwm", "/dev/null:/dev/n:r"]
    assert s.sysctls == {"net.core.somaxconn": "1024"}
    assert s.ulimits == {"nofile": [100, 200], "nproc": [50, 50]}
    assert s.shm_size == 1 << 30
    assert s.ipc == "container:demo-db-1" and s.pid == "host" and s.userns_mode == "host"
    assert s.oom_score_adj == 500
    assert s.resources == {"memory": 512 << 20, "memory_swap": 1 << 30, "memory_reservation": 128 << 20,
                           "memory_swappiness": 10, "cpus": 1.5, "cpu_shares": 256, "cpuset_cpus": "0-1",
                           "pids_limit": 100, "blkio_weight": 300,
                           "device_read_bps": [{"path": "/dev/sda", "rate": 1 << 20}]}


def test_deploy_resources(tmp_path):
    assert spec(tmp_path, "deployed").resources == {"memory": 64 << 20, "memory_reservation": 32 << 20,
                                                    "cpus": 0.5, "pids_limit": 10}


def test_defaults_are_dockers(tmp_path):
    s = spec(tmp_path, "db")
    assert not s.privileged and not s.read_only and not s.init
    assert s.cap_add == [] and s.resources == {} and s.pid is None and s.ipc == "shareable"


def test_unknown_service_in_a_namespace_mode(tmp_path):
    with pytest.raises(ComposerError, match="nope"):
        spec(tmp_path, "s", "services:\n  s:\n    image: busybox\n    pid: service:nope\n")


def test_a_namespace_shared_with_a_service_makes_it_a_dependency(tmp_path):
    (tmp_path / "compose.yaml").write_text(STACK)
    project = load(LoadOptions(environ={}), cwd=str(tmp_path))
    assert "db" in project.services["app"].depends_on
