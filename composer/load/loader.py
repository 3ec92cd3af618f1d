"""Loading a stack, one pass after another over plain trees:

discover files -> environment -> per file: read, interpolate, validate, include -> merge files
-> extends -> profiles -> long form (composer.load.longform) -> typed model (composer.load.typed:
composer.model.Service, every value parsed once).
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from composer.errors import StackFileError
from composer.graph import Graph
from composer.load import dotenv, longform, merge, projectcache, typed
from composer.load import parsers as norm
from composer.load.interpolate import interpolate_tree
from composer.load.longform import relocate_service
from composer.load.options import LoadOptions
from composer.load.recorder import NOT_RECORDING, Recorder
from composer.load.parsers import dotted
from composer.load.validate import validate
from composer.load.yamlsource import Source, parse, read
from composer.model import NetworkSpec, Project, VolumeSpec

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
RESOURCES = ("networks", "volumes", "configs", "secrets")


# -- discover -----------------------------------------------------------------

def discover(opts: LoadOptions, cwd: str, env: Mapping[str, str] | None = None,
             recorder: Recorder = NOT_RECORDING) -> list[str]:
    """The stack files: -f, else COMPOSE_FILE, else compose.yaml (and its override) here or above."""
    env = env if env is not None else (opts.environ or {})
    if opts.files:
        return [f if f == "-" else os.path.abspath(os.path.join(cwd, os.path.expanduser(f))) for f in opts.files]
    listed = env.get("COMPOSE_FILE")
    if listed:
        sep = env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return [os.path.abspath(os.path.join(cwd, os.path.expanduser(f))) for f in listed.split(sep) if f]
    directory = os.path.abspath(os.path.join(cwd, opts.project_dir) if opts.project_dir else cwd)
    while True:
        for name in DEFAULT_FILES:
            candidate = os.path.join(directory, name)
            if recorder.isfile(candidate):
                found = [candidate]
                stem, ext = os.path.splitext(name)
                override = os.path.join(directory, f"{stem}.override{ext}")
                if recorder.isfile(override):
                    found.append(override)
                return found
        parent = os.path.dirname(directory)
        if parent == directory or opts.project_dir:
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


def project_name(opts: LoadOptions, env: Mapping[str, str], data: dict, project_dir: str) -> str:
    if opts.project_name:
        return check_project_name(opts.project_name, "-p")
    if env.get("COMPOSE_PROJECT_NAME"):
        return check_project_name(env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
    if data.get("name"):
        return check_project_name(norm.scalar(data["name"]), "the top-level name")
    name = normalize_project_name(os.path.basename(project_dir))
    if not name:
        raise StackFileError(f"cannot make a project name from the directory {project_dir!r}: use -p NAME")
    return name


# -- environment ------------------------------------------------------------------

def environment(opts: LoadOptions, cwd: str, project_dir: str, process_env: Mapping[str, str],
                recorder: Recorder = NOT_RECORDING) -> dict[str, str]:
    """Variables for interpolation: .env in the project directory (or --env-file), process env winning."""
    return dotenv.project_environment(opts.env_files, cwd, project_dir, process_env, recorder)


# -- the load --------------------------------------------------------------------------

class _Session:
    """What the passes of one load share: the environment, the files read, warnings given."""

    def __init__(self, env: Mapping[str, str], interpolate: bool, recorder: Recorder = NOT_RECORDING):
        self.env = env
        self.recorder = recorder
        self.interpolate = interpolate
        self.sources: list[Source] = []
        self.warned: set[str] = set()
        self.including: list[str] = []
        self.version_warned: set[str] = set()
        self.preread: dict[str, Source] = {}  # top-level files parsed early, for the project name

    def warn(self, name: str) -> None:
        if name not in self.warned:
            self.warned.add(name)
            self.recorder.warn(f'WARN[0000] The "{name}" variable is not set. Defaulting to a blank string.')

    def where(self, path: tuple) -> str:
        """file:line of *path*: in the file that has the deepest part of it (the latest on a tie)."""
        best, best_len = None, 0
        for src in reversed(self.sources):
            probe = tuple(path)
            while len(probe) > best_len:
                if probe in src.lines:
                    best, best_len = src.where(probe), len(probe)
                    break
                probe = probe[:-1]
        if best:
            return best
        return self.sources[0].filename if self.sources else "(stack)"

    def at(self, *path) -> "Location":
        return Location(self, path)


class Location:
    """``file:line: services.web.ports[0]`` for error messages, worked out only when printed."""

    __slots__ = ("session", "path")

    def __init__(self, session: _Session, path: tuple):
        self.session, self.path = session, path

    def __str__(self) -> str:
        return f"{self.session.where(self.path)}: {dotted(self.path)}"

    __format__ = lambda self, spec: format(str(self), spec)  # noqa: E731

    def __bool__(self) -> bool:
        return True


def read_file(path: str, session: _Session, env: Mapping[str, str] | None = None) -> tuple[dict, Source]:
    """One stack file read, interpolated and validated (merge tags kept); several YAML documents in
    it are merged in order."""
    src = session.preread.pop(path, None) or _source(path, session)
    session.sources.append(src)
    env = session.env if env is None else env
    merged: dict = {}
    for i, data in enumerate(src.documents or [src.data]):
        if session.interpolate:
            data = interpolate_tree(data, env, src.where, warn=session.warn)
        validate(_without_null_files(merge.plain(data)), src.where, interpolated=session.interpolate)
        if "version" in data and path not in session.version_warned:
            session.version_warned.add(path)
            session.recorder.warn(f"WARN[0000] {src.filename}: the attribute `version` is obsolete, it will be "
                                  "ignored, please remove it to avoid potential confusion")
        merged = merge.merge_files(merged, data) if i else data
    return merged, src


def _source(path: str, session: _Session) -> Source:
    return parse(sys.stdin.read(), "(stdin)") if path == "-" else read(path, session.recorder)


def _early_name(opts: LoadOptions, env: Mapping[str, str], files: list[str], project_dir: str,
                session: _Session) -> str:
    """The project name before the files are interpolated (they may use ${COMPOSE_PROJECT_NAME}):
    -p, COMPOSE_PROJECT_NAME, the last top-level `name:` (interpolated alone), or the directory."""
    if opts.project_name or env.get("COMPOSE_PROJECT_NAME"):
        return project_name(opts, env, {}, project_dir)
    named: dict = {}
    blank = ""  # where a name that interpolated to nothing was written: an error, as in Docker Compose
    for path in files:
        src = session.preread[path] = _source(path, session)
        for data in src.documents or [src.data]:
            if isinstance(data, dict) and "name" in data:
                raw = value = merge.plain(data["name"])
                if session.interpolate:
                    value = interpolate_tree({"name": value}, env, src.where, warn=session.warn)["name"]
                named = {"name": value}
                if isinstance(raw, str) and raw:  # a literal `name: ""` means the directory's name
                    blank = src.where(("name",)) if isinstance(value, str) and not normalize_project_name(value) else ""
    if blank:
        raise StackFileError(f"{blank}: project name must not be empty")
    return project_name(opts, env, named, project_dir)


def _without_null_files(data: dict) -> dict:
    """*data* less secrets and configs named with no body: Docker Compose checks those on the merged
    result (an override may name one to keep the base's definition); see _check_null_files."""
    out = data
    for kind in ("secrets", "configs"):
        items = data.get(kind)
        if isinstance(items, dict) and None in items.values():
            out = {**out, kind: {k: v for k, v in items.items() if v is not None}}
    return out


def _check_null_files(tree: dict, session: _Session) -> None:
    for kind in ("secrets", "configs"):
        for name, value in (tree.get(kind) or {}).items() if isinstance(tree.get(kind), dict) else ():
            if value is None:
                raise StackFileError(f"{session.where((kind, name))}: {kind}.{name}: must be of type object, not null")


def load_tree(files: list[str], project_dir: str, session: _Session) -> dict:
    """The files merged in order, includes and extends applied: one plain tree."""
    merged: dict = {}
    for i, path in enumerate(files):
        data, src = read_file(path, session)
        base = os.path.dirname(path) if path != "-" else project_dir
        data = _apply_includes(data, base, session, src)
        merged = merge.merge_files(merged, data) if i else _plain_but_extending(data)
    _check_null_files(merged, session)
    services = merged.get("services")
    if isinstance(services, dict):
        merged["services"] = _apply_extends(services, project_dir, session, files[0])
    return merge.plain(merged)


def _plain_but_extending(data: dict) -> dict:
    """The tree without merge tags, except in services that extend another: there `!reset` and
    `!override` still have to act on what is inherited."""
    services = data.get("services")
    out = merge.plain({k: v for k, v in data.items() if k != "services"})
    if isinstance(services, dict):
        out["services"] = {k: v if isinstance(v, dict) and "extends" in v else merge.plain(v)
                           for k, v in services.items()
                           if not (hasattr(v, "tag") and v.tag == "reset")}
    elif services is not None:
        out["services"] = merge.plain(services)
    return out


def _apply_includes(data: dict, base_dir: str, session: _Session, src: Source) -> dict:
    entries = merge.plain(data.get("include"))
    if not entries:
        return data
    data = {k: v for k, v in data.items() if k != "include"}
    for i, entry in enumerate(entries):
        entry = {"path": entry} if isinstance(entry, str) else entry
        paths = norm.string_list(entry.get("path"))
        files = [norm.abs_path(p, base_dir) for p in paths]
        project_dir = norm.abs_path(str(entry["project_directory"]), base_dir) if entry.get("project_directory") \
            else os.path.dirname(files[0])
        for f in files:
            key = os.path.realpath(f)
            if key in session.including:
                chain = " -> ".join(session.including[session.including.index(key):] + [key])
                raise StackFileError(f"{src.where(('include', i))}: include[{i}]: include cycle: {chain}")
        env_paths = [norm.abs_path(p, base_dir) for p in norm.string_list(entry.get("env_file"))]
        if not env_paths and session.recorder.isfile(os.path.join(project_dir, ".env")):
            env_paths = [os.path.join(project_dir, ".env")]
        inc_env: dict[str, str] = {}
        for p in env_paths:
            inc_env.update(dotenv.read(p, {**inc_env, **session.env}, recorder=session.recorder))
        inc_env.update(session.env)
        inner = _Session(inc_env, session.interpolate, session.recorder)
        inner.sources, inner.warned, inner.version_warned = session.sources, session.warned, session.version_warned
        inner.including = session.including + [os.path.realpath(f) for f in files]
        for f in files:
            if not session.recorder.isfile(f):
                raise StackFileError(f"{src.where(('include', i))}: include[{i}]: included file {f} not found")
        tree = load_tree(files, project_dir, inner)
        tree = _relocate_tree(tree, project_dir)
        for kind in ("services",) + RESOURCES:
            theirs = tree.get(kind) or {}
            if not theirs:
                continue
            ours = data.get(kind)
            ours = dict(ours) if isinstance(ours, dict) else {}
            for name, value in theirs.items():
                if name in ours and merge.plain(ours[name]) != value:
                    raise StackFileError(f"{src.where((kind, name))}: {kind}.{name} is also defined by the "
                                         f"included {files[0]}; rename one of them")
                ours[name] = value
            data[kind] = ours
    return data


def _relocate_tree(tree: dict, base_dir: str) -> dict:
    out = dict(tree)
    if isinstance(out.get("services"), dict):
        out["services"] = {k: relocate_service(v, base_dir) if isinstance(v, dict) else v
                           for k, v in out["services"].items()}
    for kind in ("configs", "secrets"):
        if isinstance(out.get(kind), dict):
            out[kind] = {k: ({**v, "file": norm.abs_path(str(v["file"]), base_dir)}
                             if isinstance(v, dict) and v.get("file") else v)
                         for k, v in out[kind].items()}
    return out


def _apply_extends(services: dict, base_dir: str, session: _Session, filename: str) -> dict:
    resolved: dict[str, dict] = {}
    file_cache: dict[str, dict] = {}

    def resolve(name: str, pool: dict, pool_dir: str, chain: list[str], origin: str) -> dict:
        key = f"{origin}#{name}"
        if key in resolved:
            return resolved[key]
        svc = pool.get(name)
        if not isinstance(svc, dict):
            return svc
        ext = merge.plain(svc.get("extends"))
        if ext is None:
            resolved[key] = merge.plain(svc)
            return resolved[key]
        if key in chain:
            cycle = [c.split("#", 1)[1] for c in chain[chain.index(key):]] + [name]
            raise StackFileError(f"{session.at('services', name, 'extends')}: extends cycle: {' -> '.join(cycle)}")
        ext = {"service": ext} if isinstance(ext, str) else ext
        target = str(ext.get("service"))
        if ext.get("file"):
            path = norm.abs_path(str(ext["file"]), pool_dir)
            if path not in file_cache:
                if not session.recorder.isfile(path):
                    raise StackFileError(f"{session.at('services', name, 'extends', 'file')}: {path} not found")
                other = merge.plain(read_file(path, session)[0])
                file_cache[path] = other.get("services") or {}
            other_pool, other_dir, other_origin = file_cache[path], os.path.dirname(path), path
        else:
            other_pool, other_dir, other_origin = pool, pool_dir, origin
        if target not in other_pool or not isinstance(other_pool.get(target), dict):
            raise StackFileError(f"{session.at('services', name, 'extends')}: "
                                 f"cannot extend service {target!r}: not defined"
                                 + (f" in {other_origin}" if other_origin != origin else ""))
        parent = resolve(target, other_pool, other_dir, chain + [key], other_origin)
        if other_dir != pool_dir:
            parent = relocate_service(parent, other_dir)
        child = {k: v for k, v in svc.items() if k != "extends"}
        result = merge.plain(merge.merge_service({k: v for k, v in parent.items() if k != "extends"}, child))
        resolved[key] = result
        return result

    return {name: resolve(name, services, base_dir, [], filename) for name in services}


@dataclass
class Loaded:
    """A stack read, merged, extended and included, before profiles and normalization."""

    tree: dict
    name: str
    project_dir: str
    files: list[str]
    env: dict[str, str]
    profiles: list[str]
    session: _Session


def load_raw(opts: LoadOptions | None = None, cwd: str | None = None, recorder: Recorder = NOT_RECORDING) -> Loaded:
    """The passes up to (not including) profiles and normalization; *recorder* notes what they look at."""
    opts = opts or LoadOptions()
    cwd = cwd or os.getcwd()
    process_env = dict(os.environ if opts.environ is None else opts.environ)
    # COMPOSE_FILE and friends may come from the .env of the working (or project) directory
    pre_dir = os.path.abspath(os.path.join(cwd, opts.project_dir)) if opts.project_dir else cwd
    pre_env = process_env if opts.files else environment(opts, cwd, pre_dir, process_env, recorder)
    files = discover(opts, cwd, pre_env, recorder)
    first = files[0] if files[0] != "-" else os.path.join(cwd, "-")
    project_dir = os.path.abspath(os.path.join(cwd, opts.project_dir)) if opts.project_dir \
        else os.path.dirname(first)
    env = environment(opts, cwd, project_dir, process_env, recorder)
    session = _Session(env, opts.interpolate, recorder)
    session.including = [os.path.realpath(f) for f in files if f != "-"]
    # compose-go puts the resolved name into the interpolation environment
    env = session.env = {**env, "COMPOSE_PROJECT_NAME": _early_name(opts, env, files, project_dir, session)}
    tree = load_tree(files, project_dir, session)
    if not tree:  # each file empty or only comments (an empty one among others is fine, as in Docker Compose)
        raise StackFileError(f"{', '.join(files)}: empty compose file")
    name = project_name(opts, env, tree, project_dir)
    profiles = opts.profiles
    if profiles is None:
        profiles = [p for p in (env.get("COMPOSE_PROFILES") or "").split(",") if p.strip()]
    return Loaded(tree, name, project_dir, files, env, list(profiles), session)


def load(opts: LoadOptions | None = None, cwd: str | None = None) -> Project:
    """The project of the stack files *opts* name (see the module docstring for the passes); a repeat of
    a load whose inputs are unchanged comes from composer.load.projectcache."""
    opts = opts or LoadOptions()
    cwd = cwd or os.getcwd()
    return projectcache.remembered(opts, cwd) or load_and_remember(opts, cwd)


def load_and_remember(opts: LoadOptions, cwd: str) -> Project:
    """A load from the files, remembered for the next one (composer.load.projectcache)."""
    environ = dict(os.environ if opts.environ is None else opts.environ)  # as the load sees it
    recorder = Recorder()
    project = load_uncached(opts, cwd, recorder)
    projectcache.remember(opts, cwd, environ, recorder, project)
    return project


def load_uncached(opts: LoadOptions | None = None, cwd: str | None = None,
                  recorder: Recorder = NOT_RECORDING) -> Project:
    opts = opts or LoadOptions()
    got = load_raw(opts, cwd, recorder)
    return build_project(got.tree, got.name, got.project_dir, got.files, got.env, got.session, got.profiles,
                         opts.all_profiles)


# -- profiles and the project --------------------------------------------------------------

def active_services(services: dict, profiles: list[str]) -> set[str]:
    """Services enabled by *profiles* (those without profiles always are), plus what they depend on."""
    wanted = {p.strip() for p in profiles}
    enabled = set()
    for name, svc in services.items():
        own = set(norm.string_list((svc or {}).get("profiles")))
        if not own or "*" in wanted or own & wanted:
            enabled.add(name)
    todo = list(enabled)
    while todo:
        svc = services.get(todo.pop()) or {}
        for dep in _dependency_names(svc):
            if dep in services and dep not in enabled:
                enabled.add(dep)
                todo.append(dep)
    return enabled


def _dependency_names(svc: dict) -> list[str]:
    deps = svc.get("depends_on") or {}
    names = [str(d) for d in (deps if isinstance(deps, list) else deps)]
    names += [str(link).split(":", 1)[0] for link in svc.get("links") or []]
    mode = str(svc.get("network_mode") or "")
    if mode.startswith("service:"):
        names.append(mode[8:])
    for entry in svc.get("volumes_from") or []:
        entry = str(entry)
        if not entry.startswith("container:"):
            names.append(entry.removeprefix("service:").split(":", 1)[0])
    return names


def all_profiles(tree: dict) -> list[str]:
    seen: list[str] = []
    for svc in (tree.get("services") or {}).values():
        for p in norm.string_list((svc or {}).get("profiles")):
            if p not in seen:
                seen.append(p)
    return sorted(seen)


def build_project(data: dict, name: str, project_dir: str, files: list[str], env: Mapping[str, str],
                  session: _Session, profiles: list[str] | None = None, every_profile: bool = False,
                  defaults: bool = True) -> Project:
    """The model: enabled services in long form, the resources they use. Without *defaults*
    (`config --no-normalize`) nothing is added that the files do not say (default network, names)."""
    services_in = data.get("services") or {}
    if not isinstance(services_in, dict):
        raise StackFileError(f"{session.at('services')}: services must be a mapping")
    enabled = set(services_in) if every_profile else active_services(services_in, profiles or [])

    raw_services: dict[str, Any] = {}
    for sname in services_in:
        if sname not in enabled:
            continue
        sdata = services_in[sname] or {}
        if not isinstance(sdata, dict):
            raise StackFileError(f"{session.at('services', sname)}: services.{sname} must be a mapping")

        def at(*path, _s=sname):
            return session.at("services", _s, *path)

        if sdata.get("image") is None and sdata.get("build") is None and not sdata.get("provider"):
            raise StackFileError(f"{at()}: neither an image nor a build context is specified")
        raw_services[sname] = longform.service(sname, sdata, project_dir, env, at, defaults, session.recorder)

    raw: dict[str, Any] = {"name": name, "services": raw_services}
    used = _used_resources(raw_services)
    for kind in RESOURCES:
        declared = data.get(kind) or {}
        out: dict[str, Any] = {}
        for key in sorted(used[kind]):
            if key == "default" and kind == "networks" and key not in declared:
                if defaults:
                    out[key] = {"name": f"{name}_default", "ipam": {}}
                continue
            if key not in declared:
                raise StackFileError(_undeclared(kind, key, used[kind][key], session))
            out[key] = longform.resource(kind, key, declared[key] or {}, name, project_dir,
                                         lambda *p, _k=key: session.at(kind, _k, *p), defaults)
        if out:
            raw[kind] = out
    for key, value in data.items():
        if key.startswith("x-"):
            raw[key] = value
    for sname, svc in raw_services.items():
        for dep, opts in (svc.get("depends_on") or {}).items():
            if dep not in raw_services and opts.get("required", True):
                what = "is not defined" if dep not in services_in else "is not enabled (check its profiles)"
                raise StackFileError(f"{session.at('services', sname, 'depends_on')}: services.{sname} depends "
                                     f"on service {dep!r}, which {what}")
    raw = {k: raw[k] for k in sorted(raw)}
    project = _model(raw, name, project_dir, files, session)
    project.take_environment(env)
    project.disabled = sorted(s for s in services_in if s not in enabled)
    Graph(project)  # rejects dependency cycles, naming the whole cycle
    return project


def _undeclared(kind: str, key: str, user: tuple, session: _Session) -> str:
    singular = kind[:-1]
    return (f"{session.at(*user)}: {singular} {key!r} is not declared in the top-level {kind} "
            f"(add it under `{kind}:`)")


def _used_resources(services: dict) -> dict[str, dict[str, tuple]]:
    used: dict[str, dict[str, tuple]] = {k: {} for k in RESOURCES}
    for sname, svc in services.items():
        for net in svc.get("networks") or {}:
            used["networks"].setdefault(net, ("services", sname, "networks"))
        for i, m in enumerate(svc.get("volumes") or []):
            if m.get("type") == "volume" and m.get("source"):
                used["volumes"].setdefault(m["source"], ("services", sname, "volumes", i))
        for kind in ("configs", "secrets"):
            for i, ref in enumerate(svc.get(kind) or []):
                used[kind].setdefault(ref["source"], ("services", sname, kind, i))
        for i, ref in enumerate((svc.get("build") or {}).get("secrets") or []):
            used["secrets"].setdefault(ref["source"], ("services", sname, "build", "secrets", i))
    return used


# -- the model ---------------------------------------------------------------------------------

def _model(raw: dict, name: str, project_dir: str, files: list[str], session: _Session) -> Project:
    networks = {key: NetworkSpec(key, spec.get("name", key), spec.get("driver") or "bridge", bool(spec.get("external")),
                                 dict(spec.get("labels") or {}))
                for key, spec in (raw.get("networks") or {}).items()}
    volumes = {key: VolumeSpec(key, spec.get("name", key), spec.get("driver") or "local", bool(spec.get("external")),
                               dict(spec.get("labels") or {}))
               for key, spec in (raw.get("volumes") or {}).items()}
    services = {sname: typed.service(sname, svc, lambda *p, _s=sname: session.at("services", _s, *p), project_dir)
                for sname, svc in raw["services"].items()}
    return Project(name, project_dir, [f for f in files], services, networks, volumes, raw)
