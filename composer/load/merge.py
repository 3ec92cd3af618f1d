"""Merging stack files (and extended services) by the compose-spec's rules.

Mappings are merged key by key and scalars replaced. Sequences are appended, except where the spec
gives them a key: ports are unique by (host IP, target, published, protocol), volumes and devices by
target, secrets and configs by target; plain string lists (dns, cap_add, ...) keep one copy of each
value. command, entrypoint and healthcheck.test are replaced whole. environment, labels, extra_hosts,
depends_on, networks, ... are merged as mappings whatever syntax each side uses. A logging section
with another driver replaces the previous one. `!reset` removes a value, `!override` replaces it whole.
"""
from __future__ import annotations

from typing import Any

from composer.load import parsers as n
from composer.load.yamlsource import Tagged

_DELETE = object()


def strip_tags(node: Any) -> Any:
    """The tree without merge tags: `!reset` values vanish, `!override` ones become plain.
    Parts without tags are returned as they are (not copied)."""
    if isinstance(node, Tagged):
        return _DELETE if node.tag == "reset" else strip_tags(node.value)
    if isinstance(node, dict):
        out = None
        for k, v in node.items():
            if isinstance(v, (dict, list, Tagged)):
                new = strip_tags(v)
                if new is not v:
                    if out is None:
                        out = dict(node)
                    if new is _DELETE:
                        del out[k]
                    else:
                        out[k] = new
        return node if out is None else out
    if isinstance(node, list):
        changed = False
        items = []
        for x in node:
            new = strip_tags(x) if isinstance(x, (dict, list, Tagged)) else x
            changed = changed or new is not x
            if new is not _DELETE:
                items.append(new)
        return items if changed else node
    return node


def plain(node: Any) -> Any:
    out = strip_tags(node)
    return None if out is _DELETE else out


_RESOURCES = ("networks", "volumes", "configs", "secrets")


def merge_files(base: dict, over: dict) -> dict:
    """One stack file's tree merged onto another's."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Tagged):
            _tagged_into(out, key, value)
        elif key == "services" and isinstance(out.get(key), dict) and isinstance(value, dict):
            services = dict(out[key])
            for name, svc in value.items():
                if isinstance(svc, Tagged):
                    _tagged_into(services, name, svc)
                elif isinstance(services.get(name), dict) and isinstance(svc, dict):
                    services[name] = merge_service(services[name], svc)
                else:
                    services[name] = plain(svc)
            out[key] = services
        elif key in _RESOURCES and isinstance(out.get(key), dict) and isinstance(value, dict):
            # a resource named with no body keeps the base's definition, as in Docker Compose
            out[key] = merge_generic(out[key], {k: v for k, v in value.items() if v is not None or k not in out[key]})
        elif key in out:
            out[key] = merge_generic(out[key], value)
        else:
            out[key] = plain(value)
    return out


def _tagged_into(out: dict, key: str, value: Tagged) -> None:
    if value.tag == "reset":
        out.pop(key, None)
    else:
        out[key] = plain(value.value)


def merge_generic(base: Any, over: Any) -> Any:
    if isinstance(over, Tagged):
        return _DELETE if over.tag == "reset" else plain(over.value)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            if k in out and not k.startswith("x-"):
                merged = merge_generic(out[k], v)
            else:
                merged = strip_tags(v)
            if merged is _DELETE:
                out.pop(k, None)
            else:
                out[k] = merged
        return out
    if isinstance(base, list) and isinstance(over, list):
        return base + plain(over)
    return plain(over)


# -- services -------------------------------------------------------------------------------

def merge_service(base: dict, over: dict) -> dict:
    """A service definition *over* merged onto *base* (override file, or extends)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Tagged):
            _tagged_into(out, key, value)
            continue
        if key not in out or out[key] is None or key.startswith("x-"):
            out[key] = plain(value)
            continue
        rule = _SERVICE_RULES.get(key)
        merged = rule(out[key], value) if rule else merge_generic(out[key], value)
        if merged is _DELETE:
            out.pop(key, None)
        else:
            out[key] = merged
    return out


def _replace(base: Any, over: Any) -> Any:
    return plain(over)


def _as_map(value: Any) -> dict:
    """A key/value attribute as a mapping whose values may still carry tags."""
    if isinstance(value, dict):
        return dict(value)
    return dict(n.key_value_map(value))


def _merge_map(base: Any, over: Any) -> dict:
    out = _as_map(base)
    for k, v in _as_map(over).items():
        if isinstance(v, Tagged):
            if v.tag == "reset":
                out.pop(k, None)
            else:
                out[k] = plain(v.value)
        else:
            out[k] = v
    return out


def _unique_strings(base: Any, over: Any) -> list:
    out = n.string_list(plain(base))
    for v in n.string_list(plain(over)):
        if v not in out:
            out.append(v)
    return out


def _keyed_list(key_of, long_form):
    """Sequences whose entries are unique by a key: later entries with the same key win."""
    def merge(base: Any, over: Any) -> list:
        entries: dict[Any, Any] = {}
        for entry in list(plain(base) or []) + list(plain(over) or []):
            for item in long_form(entry):
                entries[key_of(item)] = item
        return list(entries.values())
    return merge


def _port_long(entry: Any) -> list:
    try:
        return n.parse_ports(entry)
    except Exception:  # noqa: BLE001 - left for validation/normalization to report
        return [entry]


def _port_key(item: Any) -> Any:
    if isinstance(item, dict):
        return (item.get("host_ip", ""), str(item.get("target")), str(item.get("published", "")),
                item.get("protocol", "tcp"))
    return repr(item)


def _volume_long(entry: Any) -> list:
    if isinstance(entry, str):
        try:
            return [n.parse_volume(entry)]
        except Exception:  # noqa: BLE001
            return [entry]
    return [entry]


def _target_key(item: Any) -> Any:
    return item.get("target", repr(item)) if isinstance(item, dict) else repr(item)


def _device_long(entry: Any) -> list:
    if isinstance(entry, str):
        parts = entry.split(":")
        return [{"source": parts[0], "target": parts[1] if len(parts) > 1 and parts[1].startswith("/") else parts[0],
                 "permissions": parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"}]
    return [entry]


def _file_ref_long(default_dir: str):
    def long_form(entry: Any) -> list:
        if isinstance(entry, str):
            return [{"source": entry}]
        return [entry]
    return long_form


def _file_ref_key(default_dir: str):
    def key_of(item: Any) -> Any:
        if not isinstance(item, dict):
            return repr(item)
        target = item.get("target")
        if target:
            return target if str(target).startswith("/") or not default_dir else f"{default_dir}/{target}"
        return f"{default_dir}/{item.get('source')}"
    return key_of


def _merge_entries(out: dict, over_map: dict, when_null) -> dict:
    """Lay *over_map* onto the mapping *out*: tags reset or override an entry, two mappings merge, and
    a null entry becomes ``when_null(key)``."""
    for k, v in over_map.items():
        if isinstance(v, Tagged):
            if v.tag == "reset":
                out.pop(k, None)
            else:
                out[k] = plain(v.value)
        elif isinstance(out.get(k), dict) and isinstance(v, dict):
            out[k] = merge_generic(out[k], v)
        else:
            out[k] = plain(v) if v is not None else when_null(k)
    return out


def _depends_on(base: Any, over: Any) -> dict:
    out = n.normalize_depends_on(plain(base)) if isinstance(base, list) else dict(base)
    over_map = over if isinstance(over, dict) else n.normalize_depends_on(plain(over))
    return _merge_entries(out, over_map, lambda k: {"condition": "service_started", "required": True})


def _networks(base: Any, over: Any) -> dict:
    out = {str(x): None for x in base} if isinstance(base, list) else dict(base)
    over_map = {str(x): None for x in over} if isinstance(over, list) else over
    return _merge_entries(out, over_map, lambda k: out.get(k))  # a bare name keeps what the base said


def _extra_hosts(base: Any, over: Any) -> list:
    hosts: dict[str, list[str]] = {}
    for side in (plain(base), plain(over)):
        side_hosts: dict[str, list[str]] = {}
        try:
            for entry in n.extra_hosts(side):
                host, _, ip = entry.partition("=")
                side_hosts.setdefault(host, []).append(ip)
        except Exception:  # noqa: BLE001 - reported by normalization
            return plain(over)
        hosts.update(side_hosts)
    return [f"{h}={ip}" for h in sorted(hosts) for ip in hosts[h]]


def _healthcheck(base: Any, over: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(over, dict):
        return plain(over)
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Tagged) and v.tag == "reset":
            out.pop(k, None)
        else:
            out[k] = plain(v)  # test (and every scalar) replaced
    return out


def _logging(base: Any, over: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(over, dict):
        return plain(over)
    if over.get("driver") is not None and base.get("driver") is not None and over["driver"] != base["driver"]:
        return plain(over)
    return merge_generic(base, over)


def _ulimits(base: Any, over: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(over, dict):
        return plain(over)
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Tagged):
            _tagged_into(out, k, v)
        elif isinstance(out.get(k), dict) and isinstance(v, dict):
            out[k] = merge_generic(out[k], v)
        else:
            out[k] = plain(v)
    return out


def _build(base: Any, over: Any) -> Any:
    b = {"context": base} if isinstance(base, str) else base
    o = {"context": over} if isinstance(over, str) else over
    if not isinstance(b, dict) or not isinstance(o, dict):
        return plain(over)
    out = dict(b)
    for k, v in o.items():
        if isinstance(v, Tagged):
            _tagged_into(out, k, v)
        elif k in out and k in ("args", "labels", "additional_contexts"):
            out[k] = _merge_map(out[k], v)
        elif k in out and isinstance(out[k], list) and isinstance(v, list):
            out[k] = _unique_strings(out[k], v) if all(isinstance(x, str) for x in out[k] + v) else out[k] + plain(v)
        else:
            out[k] = plain(v)
    return out


def _env_files(base: Any, over: Any) -> list:
    b = base if isinstance(base, list) else [base]
    o = plain(over)
    o = o if isinstance(o, list) else [o]
    out = list(b)
    for entry in o:
        if entry not in out:
            out.append(entry)
    return out


_SERVICE_RULES = {
    "command": _replace,
    "entrypoint": _replace,
    "healthcheck": _healthcheck,
    "environment": _merge_map,
    "labels": _merge_map,
    "annotations": _merge_map,
    "sysctls": _merge_map,
    "storage_opt": _merge_map,
    "depends_on": _depends_on,
    "networks": _networks,
    "extra_hosts": _extra_hosts,
    "logging": _logging,
    "ulimits": _ulimits,
    "build": _build,
    "env_file": _env_files,
    "label_file": _env_files,
    "ports": _keyed_list(_port_key, _port_long),
    "volumes": _keyed_list(_target_key, _volume_long),
    "devices": _keyed_list(_target_key, _device_long),
    "secrets": _keyed_list(_file_ref_key("/run/secrets"), _file_ref_long("/run/secrets")),
    "configs": _keyed_list(_file_ref_key(""), _file_ref_long("")),
    **{k: _unique_strings for k in ("dns", "dns_search", "dns_opt", "tmpfs", "expose", "cap_add", "cap_drop",
                                     "security_opt", "group_add", "external_links", "links", "volumes_from",
                                     "profiles", "device_cgroup_rules")},
}
