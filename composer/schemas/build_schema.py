"""Builds composer/schemas/compose-spec.json, our JSON Schema (draft 2020-12) for a stack file.

The schema checks a compose file after YAML parsing and variable interpolation and before
normalization. Because interpolation only ever produces strings, every number, boolean, byte
size and duration also accepts a string of the right shape. Known objects are closed
(``additionalProperties: false``) so a misspelt key is reported, while ``x-`` keys stay open
wherever the compose specification allows extensions.

Run ``python3 composer/schemas/build_schema.py`` after editing this file; a unit test checks that the
committed JSON matches what this script produces.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

Schema = dict[str, Any]

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compose-spec.json")
EXT = "^x-"
NAME_PATTERN = "^[a-zA-Z0-9._-]+$"


# -- small builders -------------------------------------------------------------

def ref(name: str, description: str | None = None) -> Schema:
    out: Schema = {"$ref": f"#/$defs/{name}"}
    if description:
        out["description"] = description
    return out


def typed(types: str | list[str], description: str, **more: Any) -> Schema:
    return {"type": types, "description": description, **more}


def string(description: str, **more: Any) -> Schema:
    return typed("string", description, **more)


def enum(values: list[str], description: str) -> Schema:
    return {"type": "string", "enum": values, "description": description}


def array(items: Schema, description: str) -> Schema:
    return {"type": "array", "items": items, "description": description}


def closed(description: str, props: dict[str, Schema], required: list[str] | None = None,
           extensions: bool = True, also: list[str] | None = None, **more: Any) -> Schema:
    """An object with exactly the given keys (plus ``x-*`` ones when *extensions*).

    *also* lists other JSON types accepted in the same place (a short syntax); object keywords
    do not apply to them, while keywords in *more* (pattern, items, ...) apply to theirs. One
    schema with several types, rather than an anyOf, keeps error messages to the point.
    """
    out: Schema = {"type": (also or []) + ["object"] if also else "object", "description": description,
                   "properties": props, "additionalProperties": False, **more}
    if extensions:
        out["patternProperties"] = {EXT: {}}
    if required:
        out["required"] = required
    return out


def named_map(value: Schema, description: str) -> Schema:
    """A mapping from resource names (services, networks, ...) to definitions."""
    return {"type": "object", "description": description,
            "propertyNames": {"pattern": NAME_PATTERN}, "additionalProperties": value}


# -- definitions ------------------------------------------------------------------

SCALAR = ["string", "number", "boolean", "null"]
BOOL_WORDS = ["true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES", "no", "No",
              "NO", "y", "Y", "n", "N", "on", "On", "ON", "off", "Off", "OFF"]

DEFS: dict[str, Schema] = {}

DEFS["boolean"] = typed(
    ["boolean", "string"],
    "a boolean; as a string (e.g. from a variable) one of true/false, yes/no, y/n, on/off",
    pattern="^(" + "|".join(BOOL_WORDS) + ")$")

DEFS["integer"] = typed(
    ["integer", "string"], "a whole number, or a string holding one (e.g. from a variable)",
    pattern=r"^\s*[+-]?[0-9]+\s*$")

DEFS["number"] = typed(
    ["number", "string"], "a number, or a string holding one (e.g. from a variable)",
    pattern=r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$")

DEFS["bytes"] = typed(
    ["integer", "string"],
    "a size in bytes: a number, or a string such as 512m, 1g, 1.5GiB, 100kb (-1 means unlimited)",
    pattern=r"^\s*(-1|[0-9]+(\.[0-9]+)?\s?([bkmgtpBKMGTP][iI]?)?[bB]?)\s*$")

DURATION = r"([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+"

DEFS["duration"] = typed(
    ["number", "string"],
    "a duration: a number of seconds, or a Go-style string such as 10s, 1m30s, 500ms, 2h",
    pattern=r"^\s*" + DURATION + r"\s*$")

DEFS["string_list"] = array({"type": "string"}, "a list of strings")

DEFS["string_or_list"] = typed(["string", "array"], "a string, or a list of strings",
                               items={"type": "string"})

DEFS["command"] = typed(
    ["string", "array", "null"],
    "a command: a string split like a shell would, or a list of arguments (null keeps the image's)",
    items={"type": "string"})

DEFS["list_or_dict"] = typed(
    ["object", "array"],
    "key/value pairs: a mapping (values may be strings, numbers, booleans or null) "
    "or a list of KEY=VALUE strings",
    additionalProperties={"type": SCALAR}, items={"type": "string"})

DEFS["options"] = typed(
    "object", "driver options: a mapping of option names to string or number values",
    additionalProperties={"type": ["string", "number", "boolean", "null"]})

DEFS["extra_hosts"] = typed(
    ["array", "object"],
    "additional /etc/hosts entries: a list of HOST:IP (or HOST=IP) strings, "
    "or a mapping from host name to an IP address or a list of them",
    items={"type": "string"}, additionalProperties=ref("string_or_list"))

DEFS["service_hook"] = closed(
    "a command run inside the service container (lifecycle hook or watch exec)",
    {
        "command": ref("command", "the command to run"),
        "user": typed(["string", "integer"], "user (name or UID[:GID]) to run the command as"),
        "privileged": ref("boolean", "run the command with extended privileges"),
        "working_dir": string("working directory for the command"),
        "environment": ref("list_or_dict", "extra environment variables for the command"),
    }, required=["command"])

DEFS["healthcheck"] = closed(
    "how to check that the service's container is healthy",
    {
        "test": ref("string_or_list",
                    "the check: a string run by the shell, or a list starting with NONE, CMD or CMD-SHELL"),
        "interval": ref("duration", "time between two checks"),
        "timeout": ref("duration", "how long one check may take"),
        "retries": ref("integer", "consecutive failures before the container is unhealthy"),
        "start_period": ref("duration", "grace period after start during which failures do not count"),
        "start_interval": ref("duration", "time between checks during the start period"),
        "disable": ref("boolean", "disable any health check the image defines"),
    })

DEFS["logging"] = closed(
    "the logging driver of the service's containers",
    {
        "driver": string("logging driver name (json-file, local, none, ...)"),
        "options": typed("object", "logging driver options",
                         additionalProperties={"type": SCALAR}),
    })

DEFS["blkio_limit"] = closed(
    "a per-device I/O rate limit",
    {"path": string("device path"),
     "rate": ref("bytes", "bytes (or operations) per second")},
    extensions=False)

DEFS["blkio_weight"] = closed(
    "a per-device relative I/O weight",
    {"path": string("device path"), "weight": ref("integer", "relative weight, 10 to 1000")},
    extensions=False)

DEFS["blkio_config"] = closed(
    "block I/O limits of the service's containers",
    {
        "weight": ref("integer", "relative block I/O weight, 10 to 1000"),
        "weight_device": array(ref("blkio_weight"), "per-device weights"),
        "device_read_bps": array(ref("blkio_limit"), "per-device read limits in bytes per second"),
        "device_read_iops": array(ref("blkio_limit"), "per-device read limits in operations per second"),
        "device_write_bps": array(ref("blkio_limit"), "per-device write limits in bytes per second"),
        "device_write_iops": array(ref("blkio_limit"), "per-device write limits in operations per second"),
    }, extensions=False)

DEFS["credential_spec"] = closed(
    "credential spec for a managed service account (Windows containers)",
    {"config": string("name of a config holding the spec"),
     "file": string("file holding the spec"),
     "registry": string("registry key holding the spec")})

DEFS["device_request"] = closed(
    "a request for host devices such as GPUs",
    {
        "capabilities": ref("string_list", "device capabilities, e.g. [gpu]"),
        "count": typed(["integer", "string"], "how many devices: a number or 'all'",
                       pattern=r"^\s*(all|[0-9]+)\s*$"),
        "device_ids": ref("string_list", "ids of the devices to use"),
        "driver": string("device driver, e.g. nvidia"),
        "options": ref("list_or_dict", "driver-specific options"),
    })

DEFS["ulimits"] = typed(
    "object", "resource limits (nofile, nproc, ...): a single number for both soft and hard, "
    "or a mapping with soft and hard",
    additionalProperties=closed(
        "one limit for both soft and hard, or a mapping with both",
        {"soft": ref("integer", "soft limit"), "hard": ref("integer", "hard limit")},
        required=["soft", "hard"], extensions=False, also=["integer", "string"],
        pattern=r"^\s*[+-]?[0-9]+\s*$"))

DEFS["service_file_ref"] = closed(
    "a config or secret granted to the service: its name, or a mapping with its options", {
        "source": string("name of the config or secret"),
        "target": string("path (or name) inside the container"),
        "uid": typed(["string", "integer"], "owner UID of the file in the container"),
        "gid": typed(["string", "integer"], "owner GID of the file in the container"),
        "mode": typed(["string", "integer"], "file permission bits, e.g. 0440"),
    }, required=["source"], also=["string"])

DEFS["build"] = closed(
    "how to build the service's image: the build context path, or a mapping of build options", {
        "context": string("build context: a directory (relative to the project) or a URL"),
        "dockerfile": string("Dockerfile path, relative to the context"),
        "dockerfile_inline": string("Dockerfile content given inline"),
        "args": ref("list_or_dict", "build arguments"),
        "ssh": typed(["string", "array", "object"], "SSH agent sockets or keys to expose to the build",
                     items={"type": "string"}, additionalProperties={"type": SCALAR}),
        "cache_from": ref("string_list", "images or cache sources to reuse"),
        "cache_to": ref("string_list", "cache export destinations"),
        "additional_contexts": ref("list_or_dict", "extra named build contexts"),
        "entitlements": ref("string_list", "extra privileges for the build (network.host, ...)"),
        "extra_hosts": ref("extra_hosts", "/etc/hosts entries during the build"),
        "isolation": string("isolation technology for the build"),
        "labels": ref("list_or_dict", "labels of the built image"),
        "network": string("network mode for RUN instructions"),
        "no_cache": ref("boolean", "build without the cache"),
        "platforms": ref("string_list", "target platforms"),
        "privileged": ref("boolean", "build with extended privileges"),
        "pull": ref("boolean", "always pull referenced images"),
        "provenance": typed(["boolean", "string"], "provenance attestation: a boolean or attestation options"),
        "sbom": typed(["boolean", "string"], "SBOM attestation: a boolean or attestation options"),
        "secrets": array(ref("service_file_ref"), "secrets available to the build"),
        "shm_size": ref("bytes", "size of /dev/shm during the build"),
        "tags": ref("string_list", "extra tags for the built image"),
        "target": string("Dockerfile stage to build"),
        "ulimits": ref("ulimits", "resource limits during the build"),
    }, also=["string"])

DEFS["depends_on"] = typed(
    ["array", "object"],
    "services this one depends on: a list of names, or a mapping of names to start conditions",
    items={"type": "string"},
    propertyNames={"pattern": NAME_PATTERN},
    additionalProperties=closed("a dependency", {
         "condition": enum(["service_started", "service_healthy", "service_completed_successfully"],
                           "what the dependency must reach before this service starts"),
         "required": ref("boolean", "false: start anyway when the dependency is missing or fails"),
         "restart": ref("boolean", "restart this service when the dependency is updated"),
     }))

DEFS["resource_limits"] = closed(
    "resource limits of each container",
    {"cpus": ref("number", "number of CPUs"),
     "memory": ref("bytes", "memory limit"),
     "pids": ref("integer", "maximum number of processes")})

DEFS["resource_reservations"] = closed(
    "resources each container is guaranteed",
    {
        "cpus": ref("number", "number of CPUs"),
        "memory": ref("bytes", "memory"),
        "generic_resources": array(
            closed("a generic resource", {
                "discrete_resource_spec": closed("a discrete resource", {
                    "kind": string("resource kind"), "value": ref("number", "amount")}),
            }), "generic (swarm) resources"),
        "devices": array(ref("device_request"), "devices the containers need"),
    })

DEFS["update_config"] = closed(
    "how replicas are updated (or rolled back)",
    {
        "parallelism": ref("integer", "how many containers at a time"),
        "delay": ref("duration", "wait between two groups"),
        "failure_action": enum(["continue", "rollback", "pause"], "what to do when an update fails"),
        "monitor": ref("duration", "how long to watch each updated task for failure"),
        "max_failure_ratio": ref("number", "tolerated failure ratio"),
        "order": enum(["start-first", "stop-first"], "start the new container before or after stopping the old"),
    })

DEFS["deploy"] = closed(
    "deployment and runtime constraints of the service",
    {
        "mode": enum(["replicated", "global", "replicated-job", "global-job"], "replication model"),
        "replicas": ref("integer", "number of containers"),
        "endpoint_mode": enum(["vip", "dnsrr"], "service discovery method"),
        "labels": ref("list_or_dict", "labels on the service (not the containers)"),
        "placement": closed("where containers may run", {
            "constraints": ref("string_list", "node constraints"),
            "preferences": array(closed("a placement preference", {
                "spread": string("node label to spread containers over")}), "placement preferences"),
            "max_replicas_per_node": ref("integer", "replica limit per node"),
        }),
        "resources": closed("resource limits and reservations", {
            "limits": ref("resource_limits"),
            "reservations": ref("resource_reservations"),
        }),
        "restart_policy": closed("when containers are restarted", {
            "condition": enum(["none", "on-failure", "any"], "when to restart"),
            "delay": ref("duration", "wait between restart attempts"),
            "max_attempts": ref("integer", "give up after this many attempts"),
            "window": ref("duration", "how long to wait before deciding a restart succeeded"),
        }),
        "rollback_config": ref("update_config", "how a failed update is rolled back"),
        "update_config": ref("update_config", "how the service is updated"),
    })

DEFS["watch_rule"] = closed(
    "a rule of compose watch: a path to watch and what to do when it changes",
    {
        "path": string("file or directory to watch, relative to the project directory"),
        "action": enum(["sync", "rebuild", "restart", "sync+restart", "sync+exec"],
                       "what to do on change"),
        "target": string("where changed files go in the container (sync actions)"),
        "ignore": ref("string_or_list", "patterns to ignore, relative to path"),
        "include": ref("string_or_list", "only watch paths matching these patterns"),
        "initial_sync": ref("boolean", "sync everything once when watch starts"),
        "exec": ref("service_hook", "command run in the container after a sync (sync+exec)"),
    }, required=["path", "action"])

DEFS["develop"] = closed(
    "development workflow settings (compose watch)",
    {"watch": array(ref("watch_rule"), "watch rules")})

DEFS["env_file"] = typed(
    ["string", "array"],
    "files of environment variables for the containers: a path, or a list of paths or "
    "{path, required, format} mappings (later files win)",
    items=closed("an env file: a path or {path, required, format}", {
        "path": string("file path, relative to the project directory"),
        "required": ref("boolean", "false: ignore the file when it does not exist"),
        "format": string("file format (raw: no quoting or interpolation)"),
    }, required=["path"], extensions=False, also=["string"]))

DEFS["extends"] = closed(
    "inherit the configuration of another service: its name, or {service, file}", {
        "service": string("name of the service to extend"),
        "file": string("file that defines it (default: this one)"),
    }, required=["service"], extensions=False, also=["string"])

DEFS["gpus"] = typed(
    ["string", "array"], "GPUs for the containers: 'all', or a list of device requests",
    pattern="^all$", items=ref("device_request"))

DEFS["service_network"] = closed(
    "options of the service on one network (null: defaults)", {
        "aliases": ref("string_list", "extra host names of the service on this network"),
        "interface_name": string("name of the network interface in the container"),
        "ipv4_address": string("static IPv4 address"),
        "ipv6_address": string("static IPv6 address"),
        "link_local_ips": ref("string_list", "link-local addresses"),
        "mac_address": string("MAC address on this network"),
        "driver_opts": ref("options", "driver options for this endpoint"),
        "priority": ref("integer", "order in which networks are connected (higher first)"),
        "gw_priority": ref("integer", "the network with the highest value gives the default gateway"),
    }, also=["null"])

DEFS["service_networks"] = typed(
    ["array", "object"], "networks the service joins: a list of names, or a mapping of names to options",
    items={"type": "string"}, propertyNames={"pattern": NAME_PATTERN},
    additionalProperties=ref("service_network"))

DEFS["port"] = closed(
    "a published port: a number, a string [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL] "
    "(ranges allowed), or a mapping with target, published, host_ip, protocol, ...", {
        "target": ref("integer", "container port"),
        "published": typed(["integer", "string"], "host port or range"),
        "host_ip": string("host address to bind (default: all)"),
        "protocol": string("tcp, udp or sctp"),
        "mode": enum(["host", "ingress"], "publishing mode"),
        "name": string("a human-readable name for the port"),
        "app_protocol": string("application protocol (http, grpc, ...)"),
    }, required=["target"], also=["integer", "string"], minimum=0, maximum=65535,
    pattern=r"^\s*((\[[0-9a-fA-F:.]*\]|[0-9a-fA-F:.]*):)?(([0-9]+(-[0-9]+)?)?:)?"
            r"[0-9]+(-[0-9]+)?(/(tcp|udp|sctp))?\s*$")

DEFS["service_volume"] = closed(
    "a mount: a string SOURCE:TARGET[:MODE] (or just TARGET), or a mapping with type, source, target, ...", {
        "type": enum(["bind", "volume", "tmpfs", "image", "npipe", "cluster"], "mount type"),
        "source": string("host path, volume name or image (by type)"),
        "target": string("path in the container"),
        "read_only": ref("boolean", "mount read-only"),
        "consistency": string("consistency requirement (ignored on Linux)"),
        "bind": closed("bind mount options", {
            "propagation": string("mount propagation (rprivate, shared, ...)"),
            "create_host_path": ref("boolean", "create the host path when missing"),
            "selinux": enum(["z", "Z"], "SELinux relabelling: z shared, Z private"),
            "recursive": enum(["enabled", "disabled", "writable", "readonly"], "recursive bind mounts"),
        }),
        "volume": closed("volume options", {
            "nocopy": ref("boolean", "do not copy the image's data into a new volume"),
            "subpath": string("mount only this path inside the volume"),
            "labels": ref("list_or_dict", "labels of the volume"),
        }),
        "tmpfs": closed("tmpfs options", {
            "size": ref("bytes", "tmpfs size"),
            "mode": typed(["string", "integer"], "permission bits of the tmpfs root"),
        }),
        "image": closed("image mount options", {
            "subpath": string("mount only this path inside the image"),
        }),
    }, required=["type"], also=["string"], minLength=1)

DEFS["device"] = closed(
    "a host device: HOST[:CONTAINER[:PERMISSIONS]], or a mapping with source, target, permissions", {
        "source": string("device path on the host"),
        "target": string("device path in the container"),
        "permissions": string("cgroup permissions, e.g. rwm"),
    }, required=["source"], also=["string"])

DEFS["service_models"] = typed(
    ["array", "object"], "AI models the service uses: a list of names, or a mapping of names to options",
    items={"type": "string"},
    additionalProperties=closed("how the service is told about one model (null: defaults)", {
        "endpoint_var": string("environment variable set to the model's URL"),
        "model_var": string("environment variable set to the model's name"),
    }, also=["null"]))

DEFS["provider"] = closed(
    "an external provider that manages this service instead of a container",
    {"type": string("provider name or plugin"),
     "options": typed("object", "provider options", additionalProperties=typed(
         ["string", "number", "boolean", "array"], "an option value, or a list of them",
         items={"type": ["string", "number", "boolean"]}))},
    required=["type"])

DEFS["service"] = closed(
    "a service: the configuration of one or more identical containers",
    {
        "annotations": ref("list_or_dict", "OCI annotations of the containers"),
        "attach": ref("boolean", "collect the service's logs when attached (default true)"),
        "blkio_config": ref("blkio_config"),
        "build": ref("build"),
        "cap_add": ref("string_list", "Linux capabilities to add"),
        "cap_drop": ref("string_list", "Linux capabilities to drop"),
        "cgroup": enum(["host", "private"], "cgroup namespace"),
        "cgroup_parent": string("parent cgroup of the containers"),
        "command": ref("command", "overrides the image's CMD"),
        "configs": array(ref("service_file_ref"), "configs granted to the service"),
        "container_name": string("fixed container name (the service then cannot scale)"),
        "cpu_count": ref("integer", "number of usable CPUs (Windows)"),
        "cpu_percent": ref("integer", "usable percentage of the CPUs (Windows)"),
        "cpu_period": ref("integer", "CFS period in microseconds"),
        "cpu_quota": ref("integer", "CFS quota in microseconds"),
        "cpu_rt_period": typed(["integer", "string"], "real-time period: microseconds or a duration",
                               pattern=r"^\s*([0-9]+|" + DURATION + r")\s*$"),
        "cpu_rt_runtime": typed(["integer", "string"], "real-time runtime: microseconds or a duration",
                                pattern=r"^\s*([0-9]+|" + DURATION + r")\s*$"),
        "cpu_shares": ref("integer", "relative CPU weight"),
        "cpus": ref("number", "number of CPUs (fractions allowed)"),
        "cpuset": string("CPUs the containers may use, e.g. 0-3 or 0,1"),
        "credential_spec": ref("credential_spec"),
        "depends_on": ref("depends_on"),
        "deploy": ref("deploy"),
        "develop": ref("develop"),
        "device_cgroup_rules": ref("string_list", "device cgroup rules, e.g. 'c 1:3 mr'"),
        "devices": array(ref("device"), "host devices"),
        "dns": ref("string_or_list", "DNS servers"),
        "dns_opt": ref("string_list", "resolver options"),
        "dns_search": ref("string_or_list", "DNS search domains"),
        "domainname": string("domain name of the containers"),
        "entrypoint": ref("command", "overrides the image's ENTRYPOINT"),
        "env_file": ref("env_file"),
        "environment": ref("list_or_dict", "environment variables of the containers"),
        "expose": array(typed(["string", "integer"], "a port or range, optionally with /PROTOCOL"),
                        "ports exposed to other services only"),
        "extends": ref("extends"),
        "external_links": ref("string_list", "links to containers outside the project"),
        "extra_hosts": ref("extra_hosts"),
        "gpus": ref("gpus"),
        "group_add": array(typed(["string", "integer"], "a group name or GID"),
                           "extra groups of the container user"),
        "healthcheck": ref("healthcheck"),
        "hostname": string("host name of the containers"),
        "image": string("image to run (pulled, or the name of the built image)"),
        "init": ref("boolean", "run an init process as PID 1"),
        "ipc": string("IPC namespace: shareable, private, host, service:NAME or container:ID"),
        "isolation": string("container isolation technology"),
        "label_file": ref("string_or_list", "files of labels"),
        "labels": ref("list_or_dict", "labels of the containers"),
        "links": ref("string_list", "legacy links SERVICE[:ALIAS]"),
        "logging": ref("logging"),
        "mac_address": string("MAC address of the containers"),
        "mem_limit": ref("bytes", "memory limit"),
        "mem_reservation": ref("bytes", "memory soft limit"),
        "mem_swappiness": ref("integer", "swappiness, 0 to 100"),
        "memswap_limit": ref("bytes", "memory plus swap limit (-1: unlimited)"),
        "models": ref("service_models"),
        "network_mode": string("network mode: none, host, service:NAME or container:ID"),
        "networks": ref("service_networks"),
        "oom_kill_disable": ref("boolean", "do not OOM-kill the containers"),
        "oom_score_adj": ref("integer", "OOM score adjustment, -1000 to 1000"),
        "pid": typed(["string", "null"], "PID namespace: host, service:NAME or container:ID"),
        "pids_limit": ref("integer", "maximum number of processes (-1: unlimited)"),
        "platform": string("target platform, e.g. linux/amd64"),
        "ports": array(ref("port"), "ports published on the host"),
        "post_start": array(ref("service_hook"), "commands run after a container starts"),
        "pre_stop": array(ref("service_hook"), "commands run before a container is stopped"),
        "privileged": ref("boolean", "run with extended privileges"),
        "profiles": ref("string_list", "profiles that enable the service"),
        "provider": ref("provider"),
        "pull_policy": {"type": "string", "description":
                        "when to pull the image: always, never, missing, if_not_present, build, "
                        "daily, weekly or every_<duration>",
                        "pattern": r"^(always|never|missing|if_not_present|build|refresh|daily|weekly|every_.+)$"},
        "pull_refresh_after": string("how long a pulled image stays fresh (compose internal)"),
        "read_only": ref("boolean", "mount the root filesystem read-only"),
        "restart": {"type": ["string", "boolean"],
                    "pattern": r"^(no|always|unless-stopped|on-failure(:[0-9]+)?)$",
                    "if": {"type": "boolean"}, "then": {"const": False},
                    "description": "restart policy: no, always, on-failure[:MAX] or unless-stopped "
                                   "(an unquoted `no` reads as false and is accepted)"},
        "runtime": string("OCI runtime"),
        "scale": ref("integer", "number of containers"),
        "secrets": array(ref("service_file_ref"), "secrets granted to the service"),
        "security_opt": ref("string_list", "security options (seccomp, apparmor, no-new-privileges, ...)"),
        "shm_size": ref("bytes", "size of /dev/shm"),
        "stdin_open": ref("boolean", "keep stdin open"),
        "stop_grace_period": ref("duration", "wait after stop_signal before SIGKILL"),
        "stop_signal": string("signal that stops the containers"),
        "storage_opt": typed("object", "storage driver options"),
        "sysctls": ref("list_or_dict", "namespaced kernel parameters"),
        "tmpfs": ref("string_or_list", "tmpfs mounts: PATH[:OPTIONS]"),
        "tty": ref("boolean", "allocate a terminal"),
        "ulimits": ref("ulimits"),
        "use_api_socket": ref("boolean", "give the containers access to the engine API socket"),
        "user": typed(["string", "integer"], "user to run as: NAME or UID[:GID]"),
        "userns_mode": string("user namespace mode"),
        "uts": string("UTS namespace mode (host)"),
        "volumes": array(ref("service_volume"), "mounts of the containers"),
        "volumes_from": ref("string_list", "mount all volumes of another service or container"),
        "working_dir": string("working directory of the command"),
    })

DEFS["external"] = closed(
    "true: the resource exists already and is not managed by the project "
    "(the legacy form {name: ...} is accepted too)",
    {"name": string("resource name")}, extensions=False, also=["boolean", "string"],
    pattern="^(" + "|".join(BOOL_WORDS) + ")$")

DEFS["ipam_pool"] = closed(
    "an address pool of a network",
    {
        "subnet": string("subnet in CIDR form"),
        "ip_range": string("range to allocate container addresses from"),
        "gateway": string("gateway address"),
        "aux_addresses": typed("object", "addresses reserved for other uses",
                               additionalProperties={"type": "string"}),
    })

DEFS["network"] = closed(
    "a network (null: all defaults)", {
        "name": string("actual network name (default: PROJECT_KEY)"),
        "driver": string("network driver (default bridge)"),
        "driver_opts": ref("options"),
        "attachable": ref("boolean", "standalone containers may join"),
        "enable_ipv4": ref("boolean", "give containers IPv4 addresses"),
        "enable_ipv6": ref("boolean", "give containers IPv6 addresses"),
        "external": ref("external"),
        "internal": ref("boolean", "no route outside the network"),
        "ipam": closed("address management", {
            "driver": string("IPAM driver"),
            "config": array(ref("ipam_pool"), "address pools"),
            "options": typed("object", "IPAM driver options", additionalProperties={"type": SCALAR}),
        }),
        "labels": ref("list_or_dict", "labels of the network"),
    }, also=["null"])

DEFS["volume"] = closed(
    "a named volume (null: all defaults)", {
        "name": string("actual volume name (default: PROJECT_KEY)"),
        "driver": string("volume driver (default local)"),
        "driver_opts": ref("options"),
        "external": ref("external"),
        "labels": ref("list_or_dict", "labels of the volume"),
    }, also=["null"])

DEFS["config"] = closed(
    "a config: data mounted as a file into services that are granted it",
    {
        "name": string("actual config name"),
        "file": string("file holding the content"),
        "environment": string("environment variable holding the content"),
        "content": string("the content, inline"),
        "external": ref("external"),
        "labels": ref("list_or_dict", "labels of the config"),
        "template_driver": string("template driver rendering the content"),
    })

DEFS["secret"] = closed(
    "a secret: sensitive data mounted into services that are granted it",
    {
        "name": string("actual secret name"),
        "file": string("file holding the secret"),
        "environment": string("environment variable holding the secret"),
        "external": ref("external"),
        "labels": ref("list_or_dict", "labels of the secret"),
        "driver": string("secret driver"),
        "driver_opts": ref("options"),
        "template_driver": string("template driver rendering the secret"),
    })

DEFS["model"] = closed(
    "an AI model served by a model runner",
    {
        "model": string("OCI artifact of the model, e.g. ai/smollm2"),
        "name": string("actual model name"),
        "context_size": ref("integer", "maximum token context size"),
        "runtime_flags": ref("string_list", "raw flags for the inference engine"),
    }, required=["model"])

DEFS["include"] = closed(
    "another compose project to include: a path, or {path, env_file, project_directory}", {
        "path": ref("string_or_list", "compose file(s) of the included project"),
        "env_file": ref("string_or_list", "env file(s) for its interpolation"),
        "project_directory": string("base directory for its relative paths"),
    }, required=["path"], extensions=False, also=["string"])


def build() -> Schema:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://composer.invalid/schemas/compose-spec.json",
        "title": "composer stack file",
        "description": "A compose file after YAML parsing and interpolation, before normalization. "
                       "Generated by schemas/build_schema.py; edit that file, not this one.",
        "type": "object",
        "properties": {
            "version": typed(["string", "number"], "obsolete; accepted and ignored"),
            "name": string("the project name"),
            "include": array(ref("include"), "other compose projects to include"),
            "services": named_map(ref("service"), "the services of the project, by name"),
            "networks": named_map(ref("network"), "the networks of the project, by name"),
            "volumes": named_map(ref("volume"), "the named volumes of the project, by name"),
            "configs": named_map(ref("config"), "the configs of the project, by name"),
            "secrets": named_map(ref("secret"), "the secrets of the project, by name"),
            "models": named_map(ref("model"), "the AI models of the project, by name"),
        },
        "patternProperties": {EXT: {"description": "extension field, free for the user (e.g. YAML anchors)"}},
        "additionalProperties": False,
        "$defs": DEFS,
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        with open(OUT, encoding="utf-8") as f:
            sys.exit(0 if f.read() == text else 1)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
