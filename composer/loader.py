"""Loading a stack: discover -> read -> interpolate -> merge -> validate -> normalize -> model.

Each pass works on a plain tree, so each can be read (and tested) on its own.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from composer import normalize as norm
from composer.errors import StackFileError
from composer.model import Dependency, MountSpec, NetworkSpec, PortSpec, Project, Service, VolumeSpec
from composer.yamlsource import Source

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas",
                           "compose-spec.json")


@dataclass
class LoadOptions:
    files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_dir: str | None = None
    env_files: list[str] = field(default_factory=list)
    environ: Mapping[str, str] | None = None
    interpolate: bool = True


# -- discover -----------------------------------------------------------------

def discover(opts: LoadOptions, cwd: str) -> list[str]:
    if opts.files:
        return [os.path.abspath(os.path.join(cwd, f)) if f != "-" else f for f in opts.files]
    env_files = (opts.environ or {}).get("COMPOSE_FILE")
    if env_files:
        return [os.path.abspath(os.path.join(cwd, f)) for f in env_files.split(os.pathsep) if f]
    directory = os.path.abspath(cwd)
    while True:
        for name in DEFAULT_FILES:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                found = [candidate]
                stem, ext = os.path.splitext(name)
                override = os.path.join(directory, f"{stem}.override{ext}")
                if os.path.isfile(override):
                    found.append(override)
                return found
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    raise StackFileError(
        "no configuration file provided: not found (looked for compose.yaml, docker-compose.yml and "
        "their .yml/.yaml variants in this directory and its parents; use -f FILE)")


# -- project name ---------------------------------------------------------------

_NAME_OK = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def normalize_project_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")


def check_project_name(name: str, origin: str) -> str:
    if not _NAME_OK.match(name):
        raise StackFileError(
            f"invalid project name {name!r} from {origin}: use lowercase letters, digits, dashes and "
            "underscores, starting with a letter or digit")
    return name


# -- merge --------------------------------------------------------------------

def merge(base: Any, over: Any) -> Any:
    """Merge an override file onto a base: mappings merged key by key, sequences appended,
    scalars replaced; `!reset` removes, `!override` replaces whole."""
    from composer.yamlsource import Tagged

    if isinstance(over, Tagged):
        return None if over.tag == "reset" else over.value
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            if isinstance(v, Tagged) and v.tag == "reset":
                out.pop(k, None)
            elif k in out:
                out[k] = merge(out[k], v)
            else:
                out[k] = strip_tags(v)
        return out
    if isinstance(base, list) and isinstance(over, list):
        return base + [x for x in strip_tags(over) if x not in base]
    return strip_tags(over)


def strip_tags(node: Any) -> Any:
    from composer.yamlsource import Tagged

    if isinstance(node, Tagged):
        return None if node.tag == "reset" else strip_tags(node.value)
    if isinstance(node, dict):
        return {k: strip_tags(v) for k, v in node.items() if not (isinstance(v, Tagged) and v.tag == "reset")}
    if isinstance(node, list):
        return [strip_tags(v) for v in node]
    return node


def stringify_keys(node: Any) -> Any:
    """YAML reads keys like `80` or `yes` as numbers/booleans; the spec means strings."""
    if isinstance(node, dict):
        return {norm._scalar(k) if not isinstance(k, str) else k: stringify_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [stringify_keys(v) for v in node]
    return node


# -- validate -------------------------------------------------------------------

_validator = None


def validate(data: dict, where) -> None:
    global _validator
    if not os.path.exists(SCHEMA_PATH):
        return
    if _validator is None:
        import json

        import jsonschema

        with open(SCHEMA_PATH, encoding="utf-8") as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        _validator = cls(schema)
    errors = sorted(_validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
    err = _deepest(errors[0])
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = _extra_keys(err)
        if extra:
            path += (extra[0],)
            raise StackFileError(f"{where(path)}: {_dotted(path)}: unknown attribute {extra[0]!r} "
                                 "(a typo, or not part of the compose specification)")
    raise StackFileError(f"{where(path)}: {_dotted(path)}: {_describe(err)}")


def _deepest(err):
    """The most telling error inside oneOf/anyOf: the deepest, preferring one that is not
    a mere type mismatch (the branch whose type matched says what is really wrong)."""
    while err.context:
        err = sorted(err.context, key=lambda e: (-len(e.absolute_path), e.validator == "type"))[0]
    return err


def _extra_keys(err) -> list[str]:
    extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
    return [k for k in extra if not any(re.match(p, k) for p in err.schema.get("patternProperties", {}))]


def _describe(err) -> str:
    if err.validator == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"must be of type {want}, not {type(err.instance).__name__}"
    if err.validator == "enum":
        return f"must be one of {', '.join(map(str, err.validator_value))}"
    if err.validator == "pattern":
        hint = err.schema.get("description")
        return f"{err.instance!r} is not valid" + (f": {hint}" if hint else "")
    return err.message.splitlines()[0]


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(top level)"


# -- load -----------------------------------------------------------------------

def load(opts: LoadOptions | None = None, cwd: str | None = None) -> Project:
    from composer import dotenv
    from composer.interpolate import interpolate_tree
    from composer.yamlsource import read

    opts = opts or LoadOptions()
    cwd = cwd or os.getcwd()
    process_env = dict(os.environ if opts.environ is None else opts.environ)
    files = discover(LoadOptions(files=opts.files, environ=process_env), cwd)
    project_dir = os.path.abspath(opts.project_dir or os.path.dirname(files[0]))

    # the environment: .env (or --env-file), then the process environment wins
    env: dict[str, str] = {}
    env_files = opts.env_files or ([os.path.join(project_dir, ".env")]
                                   if os.path.isfile(os.path.join(project_dir, ".env")) else [])
    for path in env_files:
        env.update(dotenv.read(os.path.join(project_dir, path), {**env, **process_env}))
    env.update(process_env)

    sources: list[Source] = [read(f) for f in files]
    merged: dict = {}
    for src in sources:
        data = stringify_keys(src.data)
        if opts.interpolate:
            data = interpolate_tree(data, env, src.where)
        merged = merge(merged, data) if merged else strip_tags(data)

    def where(path: tuple) -> str:
        for src in reversed(sources):
            probe = tuple(path)
            while probe:
                if probe in src.lines:
                    return src.where(probe)
                probe = probe[:-1]
        return sources[0].filename

    validate(merged, where)

    name = opts.project_name or env.get("COMPOSE_PROJECT_NAME")
    origin = "-p" if opts.project_name else "COMPOSE_PROJECT_NAME"
    if not name and merged.get("name"):
        name, origin = str(merged["name"]), "the top-level name"
    if not name:
        name, origin = normalize_project_name(os.path.basename(project_dir)), "the project directory"
    check_project_name(name, origin)
    return build_project(merged, name, project_dir, files, env, where)


def build_project(data: dict, name: str, project_dir: str, files: list[str], env: Mapping[str, str],
                  where) -> Project:
    services_in = data.get("services") or {}
    if not isinstance(services_in, dict):
        raise StackFileError(f"{where(('services',))}: services must be a mapping")

    networks: dict[str, NetworkSpec] = {}
    raw_networks: dict[str, Any] = {}
    for key, spec in (data.get("networks") or {}).items():
        spec = spec or {}
        ext = spec.get("external")
        ext = ext if isinstance(ext, bool) else (bool(ext) if isinstance(ext, dict) else norm.as_bool(ext))
        net_name = spec.get("name") or (key if ext else f"{name}_{key}")
        networks[key] = NetworkSpec(key, net_name, spec.get("driver", "bridge"), ext, dict(spec.get("labels") or {}))
        raw_networks[key] = {**spec, "name": net_name}

    volumes: dict[str, VolumeSpec] = {}
    raw_volumes: dict[str, Any] = {}
    for key, spec in (data.get("volumes") or {}).items():
        spec = spec or {}
        ext = spec.get("external")
        ext = bool(ext) if isinstance(ext, dict) else norm.as_bool(ext)
        vol_name = spec.get("name") or (key if ext else f"{name}_{key}")
        volumes[key] = VolumeSpec(key, vol_name, spec.get("driver", "local"), ext,
                                  norm.key_value_map(spec.get("labels")))  # type: ignore[arg-type]
        raw_volumes[key] = {**spec, "name": vol_name}

    services: dict[str, Service] = {}
    raw_services: dict[str, Any] = {}
    for sname, sdata in services_in.items():
        svc = build_service(sname, sdata or {}, project_dir, env, where)
        for net in svc.networks:
            if net == "default" and "default" not in networks:
                networks["default"] = NetworkSpec("default", f"{name}_default")
                raw_networks["default"] = {"name": f"{name}_default"}
            elif net not in networks:
                raise StackFileError(
                    f"{where(('services', sname, 'networks'))}: services.{sname}.networks: "
                    f"network {net!r} is not declared in the top-level networks")
        for i, m in enumerate(svc.volumes):
            if m.type == "volume" and m.source and m.source not in volumes:
                raise StackFileError(
                    f"{where(('services', sname, 'volumes', i))}: services.{sname}.volumes[{i}]: "
                    f"volume {m.source!r} is not declared in the top-level volumes")
        services[sname] = svc
        raw_services[sname] = svc.raw
    for sname, svc in services.items():
        for dep in svc.depends_on:
            if dep not in services:
                raise StackFileError(f"{where(('services', sname, 'depends_on'))}: services.{sname}.depends_on: "
                                     f"service {dep!r} is not defined")

    raw: dict[str, Any] = {"name": name, "services": raw_services}
    if raw_networks:
        raw["networks"] = raw_networks
    if raw_volumes:
        raw["volumes"] = raw_volumes
    for key in ("configs", "secrets"):
        if data.get(key):
            raw[key] = data[key]
    return Project(name, project_dir, files, services, networks, volumes, raw)


def build_service(name: str, data: dict, project_dir: str, env: Mapping[str, str], where) -> Service:
    def at(*path):
        return where(("services", name) + path)

    image = data.get("image")
    if image is None and data.get("build") is None:
        raise StackFileError(f"{at()}: services.{name}: neither an image nor a build context is specified")
    raw: dict[str, Any] = {k: v for k, v in data.items() if not str(k).startswith("x-")}

    command = norm.split_command(data.get("command"))
    entrypoint = norm.split_command(data.get("entrypoint"))
    if command is not None:
        raw["command"] = command
    if entrypoint is not None:
        raw["entrypoint"] = entrypoint
    environment = {k: v for k, v in norm.key_value_map(data.get("environment"), env, resolve=True).items()
                   if v is not None}
    if "environment" in data:
        raw["environment"] = environment
    labels = {k: v or "" for k, v in norm.key_value_map(data.get("labels")).items()}
    if "labels" in data:
        raw["labels"] = labels

    ports_raw = norm.normalize_ports(data.get("ports") or [], lambda i: f"{at('ports', i)}: services.{name}.ports[{i}]")
    if "ports" in data:
        raw["ports"] = ports_raw
    ports = []
    for p in ports_raw:
        published = p.get("published")
        if published and "-" in str(published):
            lo = int(str(published).split("-")[0])
            published = lo
        ports.append(PortSpec(int(p["target"]), int(published) if published else None, p.get("host_ip", ""),
                              p.get("protocol", "tcp")))

    vols_raw = norm.normalize_volumes(data.get("volumes") or [], project_dir,
                                      lambda i: f"{at('volumes', i)}: services.{name}.volumes[{i}]")
    if "volumes" in data:
        raw["volumes"] = vols_raw
    mounts = [MountSpec(v.get("type", "volume"), v["target"], str(v.get("source") or ""), norm.as_bool(v.get("read_only")),
                        norm.as_bool((v.get("bind") or {}).get("create_host_path")))
              for v in vols_raw]

    networks_raw = norm.normalize_service_networks(data.get("networks") if "network_mode" not in data else {})
    raw["networks"] = networks_raw
    networks = {k: list((v or {}).get("aliases") or []) for k, v in networks_raw.items()}

    deps_raw = norm.normalize_depends_on(data.get("depends_on"))
    if deps_raw:
        raw["depends_on"] = deps_raw
    deps = {k: Dependency(v["condition"], v["required"], v.get("restart", False)) for k, v in deps_raw.items()}

    grace = norm.parse_duration(data.get("stop_grace_period", 10), f"{at('stop_grace_period')}: "
                                f"services.{name}.stop_grace_period")
    restart = data.get("restart", "no")
    restart = "no" if restart is False else str(restart)  # YAML reads an unquoted `no` as false
    return Service(
        name=name, image=image, command=command, entrypoint=entrypoint, environment=environment,
        working_dir=data.get("working_dir"), user=None if data.get("user") is None else str(data["user"]),
        hostname=data.get("hostname"), container_name=data.get("container_name"), ports=ports,
        volumes=mounts, networks=networks, depends_on=deps, restart=restart,
        stop_signal=str(data.get("stop_signal", "SIGTERM")), stop_grace_period=grace, labels=labels, raw=raw)
