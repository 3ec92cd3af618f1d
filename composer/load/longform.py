"""The normalization pass: a merged, validated service in the long form `docker compose config` prints.

Every short syntax becomes its long form, relative paths become absolute (against the directory
given), env_file/label_file are read into environment/labels, durations are printed as Go does
(1m30s) and byte sizes as strings of digits. The pass is idempotent: a service already in long form
comes out unchanged, which lets extends and include normalize pieces early (against their own
directories) and the loader normalize the result once more.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping

from composer.errors import StackFileError
from composer.load import dotenv
from composer.load import parsers as n
from composer.load.recorder import NOT_RECORDING, Recorder

At = Callable[..., str]  # at("ports", 0) -> "file:line: services.web.ports[0]"

SERVICE_ORDER = [
    "profiles", "annotations", "attach", "build", "develop", "blkio_config", "cap_add", "cap_drop",
    "cgroup_parent", "cgroup", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period",
    "cpu_rt_runtime", "cpus", "cpuset", "cpu_shares", "command", "configs", "container_name",
    "credential_spec", "depends_on", "deploy", "device_cgroup_rules", "devices", "dns", "dns_opt",
    "dns_search", "domainname", "entrypoint", "environment", "expose", "external_links", "extra_hosts",
    "group_add", "gpus", "hostname", "healthcheck", "image", "init", "ipc", "isolation", "labels", "links",
    "logging", "mem_limit", "mem_reservation", "memswap_limit", "mem_swappiness", "mac_address", "models",
    "network_mode", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports",
    "privileged", "provider", "pull_policy", "read_only", "restart", "runtime", "scale", "secrets",
    "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal", "storage_opt", "sysctls",
    "tmpfs", "tty", "ulimits", "use_api_socket", "user", "userns_mode", "uts", "volumes", "volumes_from",
    "working_dir", "post_start", "pre_stop",
]
_RANK = {k: i for i, k in enumerate(SERVICE_ORDER)}

STRINGS = {"image", "container_name", "hostname", "domainname", "cgroup", "cgroup_parent", "cpuset", "ipc",
           "pid", "isolation", "mac_address", "network_mode", "platform", "pull_policy", "runtime",
           "stop_signal", "user", "userns_mode", "uts", "working_dir", "pull_refresh_after"}
BOOLS = {"attach", "init", "oom_kill_disable", "privileged", "read_only", "stdin_open", "tty", "use_api_socket"}
KEPT_WHEN_FALSE = {"attach", "init"}  # Docker Compose prints the others only when true
INTS = {"cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_shares", "oom_score_adj", "pids_limit",
        "scale"}
BYTES = {"mem_limit", "mem_reservation", "memswap_limit", "mem_swappiness", "shm_size"}
LISTS = {"cap_add", "cap_drop", "device_cgroup_rules", "dns", "dns_opt", "dns_search", "external_links",
         "group_add", "links", "profiles", "security_opt", "tmpfs", "volumes_from", "expose"}
MAPS = {"annotations", "labels", "sysctls", "storage_opt"}


def is_url(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


def service(name: str, data: Mapping[str, Any], base_dir: str, env: Mapping[str, str], at: At,
            defaults: bool = True, recorder: Recorder = NOT_RECORDING) -> dict:
    """The long form of one service (see the module docstring). Without *defaults* (`config
    --no-normalize`) the default network, implied dependencies and Dockerfile name are not added."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("x-") or key in ("extends", "env_file", "label_file"):
            continue
        value = _attribute(key, value, base_dir, env, at)
        if (value is False and key not in KEPT_WHEN_FALSE) or (value == "" and key in STRINGS):
            continue  # Docker Compose prints neither false nor empty strings for these
        out[key] = value
    _check_cpus(out, at)

    if "env_file" in data or "environment" in data:
        environment: dict[str, Any] = {}
        if data.get("env_file") is not None:
            environment.update(read_env_files(data["env_file"], base_dir, env, at, "env_file", recorder))
        environment.update(out.get("environment") or {})
        out["environment"] = dict(sorted(environment.items()))
    if data.get("label_file") is not None:
        labels = {k: v or "" for k, v in read_env_files(data["label_file"], base_dir, env, at, "label_file", recorder).items()}
        labels.update(out.get("labels") or {})
        out["labels"] = dict(sorted(labels.items()))

    mode = str(out.get("network_mode") or "")
    if not mode and "networks" not in out and defaults:
        out["networks"] = {"default": None}
    out.setdefault("command", None)
    out.setdefault("entrypoint", None)
    if defaults:
        _implicit_dependencies(out)
    elif isinstance(out.get("build"), dict) and "dockerfile" not in data.get("build", {}) \
            and isinstance(data.get("build"), dict):
        out["build"].pop("dockerfile", None)
    elif isinstance(data.get("build"), str):
        out["build"].pop("dockerfile", None)
    return {k: out[k] for k in sorted(out, key=lambda k: (_RANK.get(k, len(_RANK)), k))}


def _check_cpus(svc: dict, at: At) -> None:
    """Docker Compose refuses `cpus` and `deploy.resources.limits.cpus` that disagree."""
    limit = (((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("cpus")
    cpus = svc.get("cpus")
    if cpus and limit and float(cpus) != float(limit):
        raise StackFileError(f"{at('cpus')}: can't set distinct values on 'cpus' and 'deploy.resources.limits.cpus'")


def _implicit_dependencies(svc: dict) -> None:
    """links, network_mode/ipc/pid: service:X and volumes_from X make X a dependency, as in Docker Compose."""
    targets = []
    for link in svc.get("links") or []:
        targets.append(link.split(":", 1)[0])
    for key in ("network_mode", "ipc", "pid"):
        mode = str(svc.get(key) or "")
        if mode.startswith("service:"):
            targets.append(mode[len("service:"):])
    for entry in svc.get("volumes_from") or []:
        if entry.startswith("container:"):
            continue
        entry = entry[len("service:"):] if entry.startswith("service:") else entry
        targets.append(entry.split(":", 1)[0])
    if not targets:
        return
    deps = svc.setdefault("depends_on", {})
    for t in targets:
        if t and t not in deps:
            deps[t] = {"condition": "service_started", "restart": True, "required": True}


def _attribute(key: str, value: Any, base_dir: str, env: Mapping[str, str], at: At) -> Any:
    if value is None:
        return None
    if key in STRINGS:
        return n.scalar(value)
    if key in BOOLS:
        return n.as_bool(value, at(key))
    if key in INTS:
        return n.as_int(value, at(key))
    if key in BYTES:
        return str(n.parse_bytes(value, at(key)))
    if key in LISTS:
        return n.string_list(value)
    if key in MAPS:
        return {k: ("" if v is None else v) for k, v in sorted(n.key_value_map(value).items())}
    handler = _HANDLERS.get(key)
    if handler is not None:
        return handler(value, base_dir, env, at)
    return value


# -- handlers for the attributes with a syntax of their own -----------------------------------

def _restart(value, base_dir, env, at):
    return "no" if value is False else n.scalar(value)


def _cpus(value, base_dir, env, at):
    return n.as_number(value, at("cpus"))


def _cpu_rt(key):
    def handle(value, base_dir, env, at):
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            return int(value)
        return n.duration_string(value, at(key))
    return handle


def _command(key):
    def handle(value, base_dir, env, at):
        return n.split_command(value, at(key))
    return handle


def _environment(value, base_dir, env, at):
    return dict(sorted(n.key_value_map(value, env, resolve=True).items()))


def _extra_hosts(value, base_dir, env, at):
    return n.extra_hosts(value, at("extra_hosts"))


def _ports(value, base_dir, env, at):
    return n.normalize_ports(value, lambda i: at("ports", i))


def _stop_grace_period(value, base_dir, env, at):
    return n.duration_string(value, at("stop_grace_period"))


def _depends_on(value, base_dir, env, at):
    return n.normalize_depends_on(value)


def _networks(value, base_dir, env, at):
    nets = n.normalize_service_networks(value)
    out = {}
    for key, opts in nets.items():
        if opts is None:
            out[key] = None
            continue
        item = dict(opts)
        for k in ("aliases", "link_local_ips"):
            if k in item and item[k] is not None:
                item[k] = n.string_list(item[k])
        for k in ("priority", "gw_priority"):
            if item.get(k) is not None:
                item[k] = n.as_int(item[k], at("networks", key, k))
        if item.get("driver_opts"):
            item["driver_opts"] = {k: n.scalar(v) for k, v in item["driver_opts"].items()}
        out[key] = item
    return out


def volume(entry: Any, base_dir: str, where: str) -> dict:
    """One service mount in long form, with a bind source made absolute."""
    if isinstance(entry, str):
        item = n.parse_volume(entry, where)
    elif isinstance(entry, dict):
        item = dict(entry)
        if "type" not in item:
            item["type"] = "volume"
        if item.get("read_only") is not None:
            item["read_only"] = n.as_bool(item["read_only"], where)
            if not item["read_only"]:
                del item["read_only"]
        if isinstance(item.get("bind"), dict):
            bind = dict(item["bind"])
            if "create_host_path" in bind:
                bind["create_host_path"] = n.as_bool(bind["create_host_path"], where)
                if not bind["create_host_path"]:
                    del bind["create_host_path"]
            item["bind"] = bind
        if isinstance(item.get("volume"), dict):
            vol = dict(item["volume"])
            if "nocopy" in vol:
                vol["nocopy"] = n.as_bool(vol["nocopy"], where)
                if not vol["nocopy"]:
                    del vol["nocopy"]
            if vol.get("labels") is not None:
                vol["labels"] = n.key_value_map(vol["labels"])
            item["volume"] = vol
        if isinstance(item.get("tmpfs"), dict):
            tmp = dict(item["tmpfs"])
            if tmp.get("size") is not None:
                tmp["size"] = str(n.parse_bytes(tmp["size"], where))
            if isinstance(tmp.get("mode"), str) and tmp["mode"].isdigit():
                tmp["mode"] = int(tmp["mode"], 8)
            item["tmpfs"] = tmp
    else:
        raise StackFileError(f"{where}: invalid volume {entry!r}")
    if "target" not in item or not item["target"]:
        raise StackFileError(f"{where}: a mount needs a target (the path in the container)")
    if item["type"] == "bind" and item.get("source"):
        source = str(item["source"])
        # as Docker Compose: an absolute source is kept as written, a relative one resolved and cleaned
        item["source"] = source if source.startswith("/") else n.abs_path(source, base_dir)
    target = str(item["target"])
    if len(target) > 1 and target.endswith("/"):
        item["target"] = target.rstrip("/") or "/"
    if item["type"] == "volume" and item.get("source") and n.is_path(str(item["source"])):
        raise StackFileError(f"{where}: {item['source']!r} looks like a path but the mount type is volume "
                             "(use type: bind)")
    order = ("type", "source", "target", "read_only", "consistency", "bind", "volume", "tmpfs", "image")
    return {k: item[k] for k in sorted(item, key=lambda k: order.index(k) if k in order else len(order))}


def _volumes(value, base_dir, env, at):
    # one mount per target, as in Docker Compose: a later entry replaces an earlier one in its place
    by_target: dict[Any, dict] = {}
    for i, entry in enumerate(value):
        item = volume(entry, base_dir, at("volumes", i))
        by_target[item.get("target")] = item
    return list(by_target.values())


def _file_refs(key):
    """`secrets`/`configs` of a service: names become {source[, target]}; modes print in octal."""
    def handle(value, base_dir, env, at):
        out = []
        for i, entry in enumerate(value):
            item = {"source": entry} if isinstance(entry, str) else dict(entry)
            if key == "secrets" and not item.get("target"):
                item["target"] = f"/run/secrets/{item['source']}"
            for k in ("uid", "gid"):
                if item.get(k) is not None:
                    item[k] = n.scalar(item[k])
            mode = item.get("mode")
            if isinstance(mode, int) and not isinstance(mode, bool):
                item["mode"] = "0" + format(mode, "o") if mode else "0"
            elif mode is not None:
                item["mode"] = str(mode)
            out.append({k: item[k] for k in ("source", "target", "uid", "gid", "mode") if k in item})
        return out
    return handle


def _devices(value, base_dir, env, at):
    out = []
    for i, entry in enumerate(value):
        if isinstance(entry, dict):
            item = {"source": str(entry["source"]), "target": str(entry.get("target") or entry["source"]),
                    "permissions": str(entry.get("permissions") or "rwm")}
        else:
            parts = str(entry).split(":")
            if len(parts) > 3 or not parts[0]:
                raise StackFileError(f"{at('devices', i)}: invalid device {entry!r}: use HOST[:CONTAINER[:PERMISSIONS]]")
            perms = "rwm"
            if len(parts) == 2 and all(c in "rwm" for c in parts[1]) and not parts[1].startswith("/"):
                parts, perms = [parts[0], parts[0]], parts[1]
            elif len(parts) == 3:
                perms = parts[2]
            item = {"source": parts[0], "target": parts[1] if len(parts) > 1 and parts[1] else parts[0],
                    "permissions": perms}
        out.append(item)
    return out


def _healthcheck(value, base_dir, env, at):
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k.startswith("x-") or v is None:
            continue
        if k == "test":
            out[k] = ["CMD-SHELL", v] if isinstance(v, str) else n.string_list(v)
        elif k in ("interval", "timeout", "start_period", "start_interval"):
            out[k] = n.duration_string(v, at("healthcheck", k))
        elif k == "retries":
            out[k] = n.as_int(v, at("healthcheck", k))
        elif k == "disable":
            if n.as_bool(v, at("healthcheck", k)):
                out[k] = True
        else:
            out[k] = v
    order = ("test", "timeout", "interval", "retries", "start_period", "start_interval", "disable")
    return {k: out[k] for k in sorted(out, key=lambda k: order.index(k) if k in order else len(order))}


def _logging(value, base_dir, env, at):
    out = dict(value)
    if out.get("options") is not None:
        out["options"] = {k: ("" if v is None else n.scalar(v)) for k, v in out["options"].items()}
    return out


def _ulimits(value, base_dir, env, at):
    out = {}
    for k, v in value.items():
        if isinstance(v, dict):
            out[k] = {"soft": n.as_int(v.get("soft"), at("ulimits", k)), "hard": n.as_int(v.get("hard"), at("ulimits", k))}
        else:
            out[k] = n.as_int(v, at("ulimits", k))
    return out


def _blkio(value, base_dir, env, at):
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k == "weight":
            out[k] = n.as_int(v, at("blkio_config", k))
        elif k == "weight_device":
            out[k] = [{"Path": str(d.get("path")), "Weight": n.as_int(d.get("weight"), at("blkio_config", k))}
                      for d in v or []]
        elif k in ("device_read_bps", "device_write_bps"):
            out[k] = [{"Path": str(d.get("path")), "Rate": str(n.parse_bytes(d.get("rate"), at("blkio_config", k)))}
                      for d in v or []]
        elif k in ("device_read_iops", "device_write_iops"):
            out[k] = [{"Path": str(d.get("path")), "Rate": str(n.as_int(d.get("rate"), at("blkio_config", k)))}
                      for d in v or []]
        else:
            out[k] = v
    return out


def _build(value, base_dir, env, at):
    spec = {"context": value} if isinstance(value, str) else dict(value)
    context = str(spec.get("context") or ".")
    spec["context"] = context if is_url(context) else n.abs_path(context, base_dir)
    if not spec.get("dockerfile") and not spec.get("dockerfile_inline"):
        spec["dockerfile"] = "Dockerfile"
    for k in ("args", "labels", "additional_contexts"):
        if spec.get(k) is not None:
            kv = n.key_value_map(spec[k], env, resolve=(k == "args"))
            spec[k] = {a: b for a, b in kv.items() if b is not None} if k == "args" else kv
    if spec.get("extra_hosts") is not None:
        spec["extra_hosts"] = n.extra_hosts(spec["extra_hosts"], at("build", "extra_hosts"))
    if spec.get("shm_size") is not None:
        spec["shm_size"] = str(n.parse_bytes(spec["shm_size"], at("build", "shm_size")))
    for k in ("no_cache", "pull", "privileged"):
        if spec.get(k) is not None:
            spec[k] = n.as_bool(spec[k], at("build", k))
    if spec.get("secrets") is not None:
        spec["secrets"] = _file_refs("build_secrets")(spec["secrets"], base_dir, env, at)
    if spec.get("ssh") is not None:
        ssh = spec["ssh"]
        if isinstance(ssh, dict):
            spec["ssh"] = [f"{k}={v}" if v is not None else k for k, v in ssh.items()]
        else:
            spec["ssh"] = n.string_list(ssh)
    if isinstance(spec.get("ulimits"), dict):
        spec["ulimits"] = _ulimits(spec["ulimits"], base_dir, env, at)
    order = ("context", "dockerfile", "dockerfile_inline", "entitlements", "args", "ssh", "labels", "cache_from",
             "cache_to", "no_cache", "additional_contexts", "network", "provenance", "sbom", "pull", "target",
             "shm_size", "extra_hosts", "isolation", "privileged", "secrets", "tags", "ulimits", "platforms")
    return {k: spec[k] for k in sorted(spec, key=lambda k: order.index(k) if k in order else len(order))
            if not k.startswith("x-")}


def _hooks(key):
    def handle(value, base_dir, env, at):
        out = []
        for i, hook in enumerate(value):
            item = dict(hook)
            item["command"] = n.split_command(item.get("command"), at(key, i, "command"))
            if item.get("environment") is not None:
                item["environment"] = n.key_value_map(item["environment"], env, resolve=True)
            if item.get("privileged") is not None:
                item["privileged"] = n.as_bool(item["privileged"], at(key, i, "privileged"))
            if item.get("user") is not None:
                item["user"] = n.scalar(item["user"])
            out.append(item)
        return out
    return handle


def _develop(value, base_dir, env, at):
    out = dict(value)
    watch = []
    for i, rule in enumerate(value.get("watch") or []):
        item: dict[str, Any] = {"path": n.abs_path(str(rule.get("path", ".")), base_dir),
                                "action": rule.get("action")}
        if rule.get("target") is not None:
            item["target"] = str(rule["target"])
        hook = rule.get("exec")
        item["exec"] = _hooks("exec")([hook], base_dir, env, at)[0] if hook else {"command": None}
        for k in ("include", "ignore"):
            if rule.get(k) is not None:
                item[k] = n.string_list(rule[k])
        if rule.get("initial_sync") is not None:
            item["initial_sync"] = n.as_bool(rule["initial_sync"], at("develop", "watch", i, "initial_sync"))
        watch.append(item)
    if "watch" in value:
        out["watch"] = watch
    return out


def _device_requests(value, where) -> list[dict]:
    out = []
    for d in value or []:
        item = dict(d)
        count = item.get("count")
        if count is None and not item.get("device_ids"):
            item["count"] = -1
        elif count is not None:
            item["count"] = -1 if str(count).strip() == "all" else n.as_int(count, where)
        if item.get("options") is not None:
            item["options"] = n.key_value_map(item["options"])
        order = ("capabilities", "driver", "count", "device_ids", "options")
        out.append({k: item[k] for k in sorted(item, key=lambda k: order.index(k) if k in order else len(order))})
    return out


def _gpus(value, base_dir, env, at):
    if isinstance(value, str):
        return [{"count": -1}]
    return _device_requests(value, at("gpus"))


def _resources(value: dict, at: At, path: tuple) -> dict:
    out: dict[str, Any] = {}
    for k, v in value.items():
        if v is None:
            continue
        if k == "cpus":
            out[k] = n.as_number(v, at(*path, k))
        elif k == "memory":
            out[k] = str(n.parse_bytes(v, at(*path, k)))
        elif k == "pids":
            out[k] = n.as_int(v, at(*path, k))
        elif k == "devices":
            out[k] = _device_requests(v, at(*path, k))
        else:
            out[k] = v
    return out


def _update_config(value: dict, at: At, path: tuple) -> dict:
    out = dict(value)
    for k in ("delay", "monitor"):
        if out.get(k) is not None:
            out[k] = n.duration_string(out[k], at(*path, k))
    if out.get("parallelism") is not None:
        out["parallelism"] = n.as_int(out["parallelism"], at(*path, "parallelism"))
    if out.get("max_failure_ratio") is not None:
        out["max_failure_ratio"] = n.as_number(out["max_failure_ratio"], at(*path, "max_failure_ratio"))
    return out


def _deploy(value, base_dir, env, at):
    out = dict(value)
    if out.get("replicas") is not None:
        out["replicas"] = n.as_int(out["replicas"], at("deploy", "replicas"))
    if out.get("labels") is not None:
        out["labels"] = n.key_value_map(out["labels"])
    resources = out.get("resources") or {}
    out["resources"] = {k: _resources(v, at, ("deploy", "resources", k)) for k, v in resources.items()
                        if isinstance(v, dict)}
    rp = out.get("restart_policy")
    if isinstance(rp, dict):
        rp = dict(rp)
        for k in ("delay", "window"):
            if rp.get(k) is not None:
                rp[k] = n.duration_string(rp[k], at("deploy", "restart_policy", k))
        if rp.get("max_attempts") is not None:
            rp["max_attempts"] = n.as_int(rp["max_attempts"], at("deploy", "restart_policy", "max_attempts"))
        out["restart_policy"] = rp
    for k in ("update_config", "rollback_config"):
        if isinstance(out.get(k), dict):
            out[k] = _update_config(out[k], at, ("deploy", k))
    out["placement"] = out.get("placement") or {}
    order = ("mode", "replicas", "labels", "update_config", "rollback_config", "resources", "restart_policy",
             "placement", "endpoint_mode")
    return {k: out[k] for k in sorted(out, key=lambda k: order.index(k) if k in order else len(order))}


def _credential_spec(value, base_dir, env, at):
    return dict(value)


_HANDLERS: dict[str, Callable[[Any, str, Mapping[str, str], At], Any]] = {
    "restart": _restart,
    "cpus": _cpus,
    "cpu_rt_period": _cpu_rt("cpu_rt_period"),
    "cpu_rt_runtime": _cpu_rt("cpu_rt_runtime"),
    "command": _command("command"),
    "entrypoint": _command("entrypoint"),
    "environment": _environment,
    "extra_hosts": _extra_hosts,
    "ports": _ports,
    "stop_grace_period": _stop_grace_period,
    "depends_on": _depends_on,
    "networks": _networks,
    "volumes": _volumes,
    "secrets": _file_refs("secrets"),
    "configs": _file_refs("configs"),
    "devices": _devices,
    "healthcheck": _healthcheck,
    "logging": _logging,
    "ulimits": _ulimits,
    "blkio_config": _blkio,
    "build": _build,
    "post_start": _hooks("post_start"),
    "pre_stop": _hooks("pre_stop"),
    "develop": _develop,
    "gpus": _gpus,
    "deploy": _deploy,
    "credential_spec": _credential_spec,
}


# -- env_file / label_file ------------------------------------------------------------------

def env_file_entries(value: Any) -> list[dict]:
    """`env_file` in long form: [{path, required, [format]}]."""
    entries = []
    for entry in (value if isinstance(value, list) else [value]):
        if isinstance(entry, dict):
            item = {"path": str(entry.get("path")), "required": n.as_bool(entry.get("required", True))}
            if entry.get("format"):
                item["format"] = str(entry["format"])
        else:
            item = {"path": str(entry), "required": True}
        entries.append(item)
    return entries


def read_env_files(value: Any, base_dir: str, env: Mapping[str, str], at: At, key: str,
                   recorder: Recorder = NOT_RECORDING) -> dict[str, Any]:
    """Variables of a service's env files (later files win). A bare KEY takes the environment's value."""
    out: dict[str, Any] = {}
    for i, entry in enumerate(env_file_entries(value)):
        path = n.abs_path(entry["path"], base_dir)
        if not recorder.exists(path):
            if entry["required"]:
                raise StackFileError(f"{at(key, i)}: env file {path} not found (set required: false to make it optional)")
            continue
        fmt = entry.get("format")
        if fmt not in (None, "", "raw"):
            raise StackFileError(f"{at(key, i)}: unsupported env file format {fmt!r} (use raw, or leave it unset)")
        out.update(dotenv.read(path, env, raw=(fmt == "raw"), bare_from=env, recorder=recorder))
    return out


# -- paths of pieces loaded from elsewhere ---------------------------------------------------

def relocate_service(data: Mapping[str, Any], base_dir: str) -> dict:
    """A raw service from another directory (extends file:, include) with its relative paths made
    absolute against *base_dir*, so that merging it into this project keeps them pointing right."""
    out = dict(data)
    build = out.get("build")
    if isinstance(build, str):
        out["build"] = build if is_url(build) else n.abs_path(build, base_dir)
    elif isinstance(build, dict):
        context = str(build.get("context") or ".")
        out["build"] = {**build, "context": context if is_url(context) else n.abs_path(context, base_dir)}
    if isinstance(out.get("volumes"), list):
        vols = []
        for entry in out["volumes"]:
            item = n.parse_volume(entry) if isinstance(entry, str) else entry
            if isinstance(item, dict) and item.get("type") == "bind" and item.get("source"):
                item = {**item, "source": n.abs_path(str(item["source"]), base_dir)}
            vols.append(item)
        out["volumes"] = vols
    for key in ("env_file", "label_file"):
        if out.get(key) is not None:
            entries = []
            for entry in (out[key] if isinstance(out[key], list) else [out[key]]):
                if isinstance(entry, dict):
                    entries.append({**entry, "path": n.abs_path(str(entry.get("path")), base_dir)})
                else:
                    entries.append(n.abs_path(str(entry), base_dir))
            out[key] = entries
    develop = out.get("develop")
    if isinstance(develop, dict) and isinstance(develop.get("watch"), list):
        out["develop"] = {**develop, "watch": [
            {**rule, "path": n.abs_path(str(rule.get("path", ".")), base_dir)} if isinstance(rule, dict) else rule
            for rule in develop["watch"]]}
    ext = out.get("extends")
    if isinstance(ext, dict) and ext.get("file"):
        out["extends"] = {**ext, "file": n.abs_path(str(ext["file"]), base_dir)}
    return out


# -- top-level resources -------------------------------------------------------------------

_RESOURCE_ORDER = {
    "networks": ("name", "driver", "driver_opts", "ipam", "external", "internal", "attachable", "labels",
                 "enable_ipv4", "enable_ipv6"),
    "volumes": ("name", "driver", "driver_opts", "external", "labels"),
    "configs": ("name", "file", "environment", "content", "external", "labels", "template_driver"),
    "secrets": ("name", "file", "environment", "external", "labels", "driver", "driver_opts", "template_driver"),
}


def resource(kind: str, key: str, spec: Mapping[str, Any], project: str, base_dir: str, at: At,
             defaults: bool = True) -> dict:
    """A top-level network, volume, config or secret in long form, with its real name (unless not
    *defaults*: then only a name given in the file)."""
    out = {k: v for k, v in spec.items() if not k.startswith("x-")}
    ext = out.get("external")
    legacy_name = None
    if isinstance(ext, dict):
        legacy_name = ext.get("name")
        ext = True
    elif ext is not None:
        ext = n.as_bool(ext, at("external"))
    if ext:
        out["external"] = True
    else:
        out.pop("external", None)
    if defaults or out.get("name") or legacy_name:
        out["name"] = str(out.get("name") or legacy_name or (key if ext else f"{project}_{key}"))
    for k in ("labels",):
        if out.get(k) is not None:
            out[k] = {a: ("" if b is None else b) for a, b in n.key_value_map(out[k]).items()}
    if out.get("driver_opts") is not None:
        out["driver_opts"] = {a: n.scalar(b) for a, b in out["driver_opts"].items()}
    if kind == "networks":
        out["ipam"] = dict(out.get("ipam") or {})
        for k in ("internal", "attachable", "enable_ipv4", "enable_ipv6"):
            if out.get(k) is not None:
                out[k] = n.as_bool(out[k], at(k))
                if not out[k] and k in ("internal", "attachable"):
                    del out[k]
    if kind in ("configs", "secrets") and out.get("file"):
        out["file"] = n.abs_path(str(out["file"]), base_dir)
    order = _RESOURCE_ORDER[kind]
    return {k: out[k] for k in sorted(out, key=lambda k: order.index(k) if k in order else len(order))}


# -- printing --------------------------------------------------------------------------------------

def escape_dollars(node: Any) -> Any:
    """The model as `config` prints it: a literal `$` is written `$$`, so the output is itself a
    stack file that loads to the same model; a whole number held as a float (`cpus: 1.0`) prints as
    an integer, as Docker Compose's encoder prints it (below 1e21, where it turns to exponents)."""
    if isinstance(node, str):
        return node.replace("$", "$$")
    if isinstance(node, float) and node.is_integer() and abs(node) < 1e21:
        return int(node)
    if isinstance(node, dict):
        return {k: escape_dollars(v) for k, v in node.items()}
    if isinstance(node, list):
        return [escape_dollars(v) for v in node]
    return node
