"""From a typed service of the model to the engine's container spec: it only maps fields (every value
was parsed at load, composer/load/typed.py); a `service:NAME` reference becomes that service's container."""
from __future__ import annotations

from composer.converge.isolation import container_fields
from composer.converge.mounts import service_mounts, volumes_from
from composer.errors import ComposerError
from composer.labels import (LABEL_FILES, LABEL_HASH, LABEL_NUMBER, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE,
                             LABEL_WORKDIR, container_name, image_name)
from composer.load.parsers import as_bool
from composer.model import Healthcheck, PortSpec, Project, Service, ServiceNetwork
from engine.api import ContainerInfo, ContainerSpec, NetworkAttachment, NetworkConfig, PortBinding


def container_spec(project: Project, svc: Service, number: int = 1,
                   previous: ContainerInfo | None = None) -> ContainerSpec:
    """*previous*: the container this one replaces (its anonymous volumes are carried over)."""
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
    networks = [_attachment(project, svc, key, net) for key, net in svc.networks.items()]
    restart = svc.restart
    return ContainerSpec(
        name=container_name(project, svc, number), image=image_name(project, svc),
        entrypoint=svc.entrypoint, command=svc.command, env=dict(svc.environment),
        working_dir=svc.working_dir, user=svc.user, hostname=svc.hostname, labels=labels,
        mounts=service_mounts(project, svc, previous), networks=networks, ports=port_bindings(svc.ports),
        stop_signal=svc.stop_signal, stop_timeout=svc.stop_grace_period,
        restart=restart.policy, restart_delay=restart.delay, restart_max_attempts=restart.max_attempts,
        healthcheck=healthcheck(svc.healthcheck), log_max_size=svc.logging.max_size,
        log_max_file=svc.logging.max_file, tty=svc.tty, stdin_open=svc.stdin_open,
        volumes_from=volumes_from(project, svc), **container_fields(project, svc), **_network_settings(project, svc))


def healthcheck(hc: Healthcheck | None) -> dict | None:
    """The engine's healthcheck mapping: only what the service sets (the image's fills the rest)."""
    if hc is None:
        return None
    if hc.test == ["NONE"]:
        return {"test": ["NONE"]}
    out = {key: getattr(hc, key) for key in ("test", "interval", "timeout", "start_period", "start_interval",
                                             "retries") if getattr(hc, key) is not None}
    return out


def port_bindings(ports: list[PortSpec]) -> list[PortBinding]:
    """Published ports as the engine's bindings; a range's end is host_port_end, a random port 0."""
    return [PortBinding(p.target, p.published or 0, p.host_ip, p.protocol, host_port_end=p.published_end)
            for p in ports]


# -- networking ---------------------------------------------------------------------------------

def _attachment(project: Project, svc: Service, key: str, net: ServiceNetwork) -> NetworkAttachment:
    return NetworkAttachment(project.networks[key].name, [svc.name, *net.aliases], ipv4_address=net.ipv4_address,
                             ipv6_address=net.ipv6_address, priority=net.priority, mac_address=net.mac_address)


def network_peer_changed(svc: Service, c, recreated: set[str], observed: list) -> str | None:
    """Why container *c* (network_mode service:/container:) must be recreated because of the container
    whose namespace it joins, or None: that service is recreated in this plan, or the container is gone."""
    mode = svc.networking.network_mode
    if mode.startswith("service:") and mode[8:] in recreated:
        return f"the service {mode[8:]} whose network it joins is recreated"
    if c.network_container and not any(o.id == c.network_container for o in observed):
        return "the container whose network it joined is gone"
    return None


def _network_settings(project: Project, svc: Service) -> dict:
    n = svc.networking
    mode = n.network_mode
    if mode.startswith("service:"):
        target = mode.partition(":")[2]
        if target not in project.services:
            raise ComposerError(f"service {svc.name}: network_mode {mode}: no such service")
        mode = "container:" + container_name(project, project.services[target])
    links = []
    for name, alias in n.links:
        if name in project.services:
            name, alias = container_name(project, project.services[name]), alias or name
        links.append(f"{name}:{alias}" if alias else name)
    return {"network_mode": mode, "dns": list(n.dns), "dns_search": list(n.dns_search), "dns_opt": list(n.dns_opt),
            "extra_hosts": list(n.extra_hosts), "domainname": n.domainname, "mac_address": n.mac_address,
            "links": links, "expose": list(n.expose)}


def network_config(project: Project, key: str) -> NetworkConfig:
    """How to create the top-level network *key*: ipam, internal, enable_ipv6, driver_opts."""
    raw = (project.raw.get("networks") or {}).get(key) or {}
    cfg = NetworkConfig(internal=as_bool(raw.get("internal")), enable_ipv6=as_bool(raw.get("enable_ipv6")),
                        options={str(k): str(v) for k, v in (raw.get("driver_opts") or {}).items()})
    for pool in ((raw.get("ipam") or {}).get("config") or []):
        subnet = str(pool.get("subnet") or "")
        if ":" in subnet:
            cfg.subnet6, cfg.gateway6 = subnet, str(pool.get("gateway") or "")
        elif subnet:
            cfg.subnet, cfg.gateway = subnet, str(pool.get("gateway") or "")
            cfg.ip_range = str(pool.get("ip_range") or "")
    return cfg


