"""From a service of the model to the engine's container spec: names, labels, mounts, ports."""
from __future__ import annotations

from composer.converge import lifecycle
from composer.converge.isolation import container_fields
from composer.model import Project, Service
from composer.converge.mounts import service_mounts, volumes_from
from engine.api import ContainerInfo, ContainerSpec, NetworkAttachment, NetworkConfig, PortBinding

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
    mounts = service_mounts(project, svc, previous)
    networks = [_attachment(project, svc, key, aliases) for key, aliases in svc.networks.items()]
    ports = port_bindings(svc)
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
        volumes_from=volumes_from(project, svc), **container_fields(project, svc), **_network_settings(project, svc))


# -- networking (issue 5: networks) ---------------------------------------------------------------

def _strings(value) -> list[str]:
    """A string-or-list attribute (dns, dns_search, dns_opt, expose) as a list of strings."""
    if value is None or value == "":
        return []
    return [str(value)] if isinstance(value, (str, int)) else [str(v) for v in value]


def _attachment(project: Project, svc: Service, key: str, aliases: list[str]) -> NetworkAttachment:
    opts = (svc.raw.get("networks") or {}).get(key) or {}
    return NetworkAttachment(project.networks[key].name, [svc.name, *aliases],
                             ipv4_address=str(opts.get("ipv4_address") or ""),
                             ipv6_address=str(opts.get("ipv6_address") or ""),
                             priority=int(opts.get("priority") or 0), mac_address=str(opts.get("mac_address") or ""))


def port_bindings(svc: Service) -> list[PortBinding]:
    """The service's normalized `ports`; published "8000-8010" is a range, none a random host port."""
    out = []
    for p in svc.raw.get("ports") or []:
        low, _, high = str(p.get("published") or "0").partition("-")
        out.append(PortBinding(int(p["target"]), int(low or 0), p.get("host_ip") or "",  # "": 0.0.0.0 and [::]
                               p.get("protocol", "tcp"), host_port_end=int(high) if high else 0))
    return out


def network_peer_changed(svc: Service, c, recreated: set[str], observed: list) -> str | None:
    """Why container *c* (network_mode service:/container:) must be recreated because of the container
    whose namespace it joins, or None: that service is recreated in this plan, or the container is gone."""
    mode = str(svc.raw.get("network_mode") or "")
    if mode.startswith("service:") and mode[8:] in recreated:
        return f"the service {mode[8:]} whose network it joins is recreated"
    if c.network_container and not any(o.id == c.network_container for o in observed):
        return "the container whose network it joined is gone"
    return None


def _extra_hosts(value) -> list[str]:
    """extra_hosts as a list ("name:ip", "name=ip") or a mapping (name: ip or [ips]) -> ["name=ip", ...]."""
    if not value:
        return []
    if isinstance(value, dict):
        return [f"{name}={ip}" for name, ips in value.items()
                for ip in (ips if isinstance(ips, list) else [ips])]
    out = []
    for entry in value:
        entry = str(entry)
        name, sep, ip = entry.partition("=") if "=" in entry else entry.partition(":")
        out.append(f"{name}={ip}" if sep else entry)
    return out


def _network_settings(project: Project, svc: Service) -> dict:
    raw = svc.raw
    mode = str(raw.get("network_mode") or "")
    if mode.startswith("service:"):
        target = mode.partition(":")[2]
        if target not in project.services:
            from composer.errors import ComposerError

            raise ComposerError(f"service {svc.name}: network_mode {mode}: no such service")
        mode = "container:" + container_name(project, project.services[target])
    links = []
    for link in raw.get("links") or []:
        name, _, alias = str(link).partition(":")
        if name in project.services:
            name, alias = container_name(project, project.services[name]), alias or name
        links.append(f"{name}:{alias}" if alias else name)
    return {"network_mode": mode, "dns": _strings(raw.get("dns")), "dns_search": _strings(raw.get("dns_search")),
            "dns_opt": _strings(raw.get("dns_opt")), "extra_hosts": _extra_hosts(raw.get("extra_hosts")),
            "domainname": raw.get("domainname"), "mac_address": str(raw.get("mac_address") or ""),
            "links": links, "expose": _strings(raw.get("expose"))}


def network_config(project: Project, key: str) -> NetworkConfig:
    """How to create the top-level network *key*: ipam, internal, enable_ipv6, driver_opts."""
    raw = (project.raw.get("networks") or {}).get(key) or {}
    from composer.load.parsers import as_bool

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
