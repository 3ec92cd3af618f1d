"""The build: stages in dependency order, each instruction a step, each step's result cached.

A stage's *state* is its layers (diff ids), its image config ("config" of the image JSON) and its
history. A step turns a state into the next one: metadata instructions change the config only;
RUN, COPY, ADD (and WORKDIR when the directory is missing) add a layer. Every step's result is
cached under a key of the parent state, the evaluated instruction, the build args it sees and the
content it copies, so an unchanged rebuild reuses every layer and config and yields the same image.
Only the stages the target needs are built.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from engine.containers.runtimeconfig import DEFAULT_PATH
from engine.images.build import BuildError, copying, runstep
from engine.images.build import shellwords as sw
from engine.images.build.cache import Cache, make_key
from engine.images.build.context import Context, Ignore
from engine.images.build.dockerfile import Dockerfile, Instr, Instruction, parse
from engine.images.build.layerfs import LayerFS
from engine.images.build.layertar import LayerWriter
from engine.images.build.options import exec_form, flags, take_repeated
from engine.images.build.runmounts import RunMounts
from engine.snapshots.store import chain_ids

DEFAULT_SHELL = ["/bin/sh", "-c"]
COMMENT = "buildkit.dockerfile.v0"
NOT_IN_ONBUILD = (Instr.ONBUILD, Instr.FROM, Instr.MAINTAINER)


@dataclass
class State:
    diff_ids: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)

    def key(self) -> str:
        return make_key("state", self.diff_ids, self.config)

    def env(self) -> dict[str, str]:
        out = {}
        for item in self.config.get("Env") or []:
            k, _, v = item.partition("=")
            out[k] = v
        return out

    def set_env(self, env: dict[str, str]) -> None:
        self.config["Env"] = [f"{k}={v}" for k, v in env.items()]


@dataclass
class Stage:
    index: int
    name: str  # lower case, "" if unnamed
    base: str  # the FROM argument as written
    line: int
    instructions: list[Instruction]
    deps: set[int] = field(default_factory=set)

    @property
    def label(self) -> str:
        return self.name or f"stage-{self.index}"


@dataclass
class Scope:
    """What one stage's steps see while it is built."""

    stage: Stage
    state: State
    args: dict[str, str | None] = field(default_factory=dict)
    cmd_set: bool = False


def _now() -> str:
    from engine.images.config import now

    return now()


def _duration_ns(text: str, what: str) -> int:
    import re

    units = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
             "h": 3_600_000_000_000}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise BuildError(f"{what}={text}: not a duration (e.g. 30s, 1m30s, 500ms)")
    return int(sum(float(n) * units[u] for n, u in parts))


class Builder:
    def __init__(self, engine, context: str, dockerfile_text: str, dockerfile_name: str = "Dockerfile",
                 dockerfile_path: str | None = None, tags: list[str] | None = None,
                 build_args: dict[str, str] | None = None, target: str | None = None, no_cache: bool = False,
                 labels: dict[str, str] | None = None, progress: Callable[[str], None] | None = None,
                 network: str | None = None, secrets: dict[str, bytes] | None = None):
        from engine.images import reference

        if not os.path.isdir(context):
            raise BuildError(f"build context {context} is not a directory")
        self.engine = engine
        self.images = engine.images
        self.context = Context(context, Ignore.read(context, dockerfile_path))
        self.df: Dockerfile = parse(dockerfile_text, dockerfile_name)
        self.name = dockerfile_name
        self.tags = [reference.normalize(t) for t in tags or []]
        self.build_args = dict(build_args or {})
        self.used_args: set[str] = set()
        self.target = target
        self.no_cache = no_cache
        self.labels = dict(labels or {})
        self.emit = progress or (lambda line: None)
        self.network = network
        self.secrets = dict(secrets or {})  # id -> value, for RUN --mount=type=secret
        self.cache = Cache(engine.paths, self.images.blobs)
        self.step_no = 0
        self.results: dict[int, State] = {}

    # -- plan ------------------------------------------------------------------------------
    def _stages(self) -> tuple[list[Stage], dict[str, str | None]]:
        from engine.images.config import host_architecture

        arch = host_architecture()
        meta: dict[str, str | None] = {"TARGETPLATFORM": f"linux/{arch}", "TARGETOS": "linux", "TARGETARCH": arch,
                                       "TARGETVARIANT": "", "BUILDPLATFORM": f"linux/{arch}", "BUILDOS": "linux",
                                       "BUILDARCH": arch, "BUILDVARIANT": ""}
        stages: list[Stage] = []
        for inst in self.df.instructions:
            if inst.cmd == Instr.FROM:
                _, rest = self._flags(inst, ("platform",))
                words = rest.split()
                name = ""
                if len(words) == 3 and words[1].lower() == "as":
                    name = words[2].lower()
                elif len(words) != 1:
                    raise BuildError(f"{self.name}:{inst.line}: FROM takes an image and an optional "
                                     "`AS name`: FROM image[:tag] [AS name]")
                stages.append(Stage(len(stages), name, words[0], inst.line, []))
            elif not stages:
                if inst.cmd != Instr.ARG:
                    raise BuildError(f"{self.name}:{inst.line}: {inst.cmd} before the first FROM: only ARG may "
                                     "come before FROM")
                for word in self._words(inst):
                    key, eq, default = word.partition("=")
                    meta[key] = self.build_args[key] if key in self.build_args else (
                        sw.expand(default, meta, self.df.escape) if eq else meta.get(key))
                    if key in self.build_args:
                        self.used_args.add(key)
            else:
                stages[-1].instructions.append(inst)
        if not stages:
            raise BuildError(f"{self.name}: no FROM instruction: a Dockerfile starts its first stage with FROM")
        names = {s.name: s.index for s in stages if s.name}
        for s in stages:
            base = sw.expand(s.base, meta, self.df.escape).lower()
            if base in names and names[base] < s.index:
                s.deps.add(names[base])
            for inst in s.instructions:
                if inst.cmd in (Instr.COPY, Instr.ADD):
                    fl, _ = self._flags(inst, ("from", "chown", "chmod", "link", "parents", "exclude", "checksum",
                                               "keep-git-dir"))
                    ref = sw.expand(fl.get("from", ""), meta, self.df.escape).lower()
                    dep = self._stage_ref(ref, stages, s)
                    if dep is not None:
                        s.deps.add(dep)
        return stages, meta

    def _stage_ref(self, ref: str, stages: list[Stage], current: Stage) -> int | None:
        if not ref:
            return None
        for s in stages:
            if s.name == ref:
                if s.index >= current.index:
                    raise BuildError(f"{self.name}:{current.line}: stage {ref} is used before it is defined")
                return s.index
        if ref.isdigit():
            i = int(ref)
            if i >= current.index:
                raise BuildError(f"{self.name}:{current.line}: stage {i} is used before it is defined")
            return i
        return None

    # -- helpers ---------------------------------------------------------------------------
    def _flags(self, inst: Instruction, allowed: tuple[str, ...]) -> tuple[dict[str, str], str]:
        try:
            return flags(inst.rest, allowed, inst.cmd)
        except ValueError as e:
            raise BuildError(f"{self.name}:{inst.line}: {inst.cmd}: {e}") from None

    def _words(self, inst: Instruction, text: str | None = None) -> list[str]:
        try:
            return sw.split(inst.rest if text is None else text, self.df.escape)
        except sw.WordError as e:
            raise BuildError(f"{self.name}:{inst.line}: {inst.cmd}: {e}") from None

    def _image(self, ref: str):
        """The image *ref* from the engine, pulled from its registry if missing (as Docker does)."""
        from engine.errors import EngineError, NotFound

        try:
            return self.images.get(ref)
        except NotFound:
            pass
        self.emit(f"#{self.step_no} pulling {ref}")
        try:
            return self.engine.pull_image(ref).image
        except EngineError as e:
            raise BuildError(f"the image is not in the engine and pulling it failed ({e})") from None

    def _snapshot_view(self, state: State) -> LayerFS:
        self.images._unpack(state.diff_ids)
        return LayerFS(self.images.snapshots.lowerdirs(state.diff_ids))

    def _store_layer(self, write: Callable[[LayerWriter], None]) -> str:
        from engine.store.blobs import TEMP_PREFIX

        os.makedirs(self.images.blobs.dir, exist_ok=True)
        tmp = os.path.join(self.images.blobs.dir, f"{TEMP_PREFIX}build-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            with open(tmp, "wb") as f:
                w = LayerWriter(f)
                write(w)
                w.close()
            diff_id = self.images.blobs.put_file(tmp)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return diff_id

    # -- the build -------------------------------------------------------------------------
    def run(self):
        stages, meta = self._stages()
        self._stage_names = {s.index: s.name for s in stages}
        target = len(stages) - 1
        if self.target:
            found = [s.index for s in stages if s.name == self.target.lower()]
            if not found:
                raise BuildError(f"target stage {self.target!r} could not be found in {self.name}")
            target = found[0]
        needed: set[int] = set()
        todo = [target]
        while todo:
            i = todo.pop()
            if i not in needed:
                needed.add(i)
                todo += stages[i].deps
        runstep.sweep(self.engine)
        with self.images._adding():
            for stage in stages:
                if stage.index in needed:
                    self.results[stage.index] = self._build_stage(stage, stages, meta)
            unused = sorted(set(self.build_args) - self.used_args)
            if unused:
                self.emit(f"[warning] build args not consumed by any ARG: {', '.join(unused)}")
            return self._commit(self.results[target])

    def _base(self, stage: Stage, stages: list[Stage], meta) -> State:
        ref = sw.expand(stage.base, meta, self.df.escape)
        if ref.lower() == "scratch":
            return State()
        for s in stages[:stage.index]:
            if s.name and s.name == ref.lower():
                return copy.deepcopy(self.results[s.index])
        try:
            info = self._image(ref)
        except BuildError as e:
            raise BuildError(f"{self.name}:{stage.line}: FROM {ref}: {e}") from None
        doc = json.loads(self.images.blobs.read(info.id))
        return State(list(info.layers), copy.deepcopy(doc.get("config") or {}), list(doc.get("history") or []))

    def _build_stage(self, stage: Stage, stages: list[Stage], meta) -> State:
        state = self._base(stage, stages, meta)
        triggers = list(state.config.get("OnBuild") or [])
        state.config.pop("OnBuild", None)
        env = state.env()
        if "PATH" not in env:
            env = {"PATH": DEFAULT_PATH, **env}
            state.set_env(env)
        onbuild = [inst for t in triggers for inst in parse(t, "ONBUILD").instructions]
        total = 1 + len(onbuild) + len(stage.instructions)
        scope = Scope(stage, state)
        self.step_no += 1
        self.emit(f"#{self.step_no} [{stage.label} 1/{total}] FROM {sw.expand(stage.base, meta, self.df.escape)}")
        self.emit(f"#{self.step_no} DONE")
        k = 1
        for inst in onbuild + stage.instructions:
            k += 1
            self.step_no += 1
            shown = ("ONBUILD " if inst in onbuild else "") + inst.text
            self.emit(f"#{self.step_no} [{stage.label} {k}/{total}] {shown}")
            started = time.monotonic()
            try:
                cached = self._step(scope, inst, meta)
            except (sw.WordError, ValueError) as e:
                raise BuildError(f"{self.name}:{inst.line}: {inst.cmd}: {e}") from None
            except BuildError as e:
                text = str(e)
                if not text.startswith(self.name + ":"):
                    text = f"{self.name}:{inst.line}: {inst.cmd}: {text}"
                raise BuildError(text) from None
            self.emit(f"#{self.step_no} CACHED" if cached else f"#{self.step_no} DONE "
                      f"{time.monotonic() - started:.1f}s")
        return scope.state

    def _expand_env(self, scope: Scope) -> dict[str, str | None]:
        env: dict[str, str | None] = {k: v for k, v in scope.args.items() if v is not None}
        env.update(scope.state.env())
        return env

    def _expand(self, scope: Scope, word: str) -> str:
        return sw.expand(word, self._expand_env(scope), self.df.escape)

    def _step(self, scope: Scope, inst: Instruction, meta) -> bool:
        """Apply *inst* to scope.state. True if the result came from the cache."""
        kind = Instr.of(inst.cmd)
        if kind is None:
            raise BuildError(f"{self.name}:{inst.line}: unknown instruction: {inst.cmd}")
        if kind is Instr.ARG:  # sees the build's meta-args; never cached
            self._do_arg(scope, inst, meta)
            return False
        if not inst.rest and kind is not Instr.RUN:
            raise BuildError(f"{self.name}:{inst.line}: {inst.cmd} needs an argument")
        return STEPS[kind](self, scope, inst)

    def _apply(self, scope: Scope, inst: Instruction, parts: list, config: dict | None = None,
               layer: Callable[[], str] | None = None, created_by: str | None = None) -> bool:
        """The common end of a step: look the key up, else compute (new *config*, a *layer*) and cache it."""
        key = make_key(scope.state.key(), inst.cmd, parts)
        if not self.no_cache:
            hit = self.cache.get(key)
            if hit is not None:
                scope.state = State(hit["diff_ids"], hit["config"], hit["history"])
                return True
        new = State(list(scope.state.diff_ids), copy.deepcopy(config if config is not None else scope.state.config),
                    list(scope.state.history))
        entry = {"created": _now(), "created_by": created_by or inst.text, "comment": COMMENT}
        if layer is not None:
            new.diff_ids.append(layer())
        else:
            entry["empty_layer"] = True
        new.history.append(entry)
        self.cache.put(key, {"diff_ids": new.diff_ids, "config": new.config, "history": new.history})
        scope.state = new
        return False

    # -- instructions ----------------------------------------------------------------------
    def _do_arg(self, scope: Scope, inst: Instruction, meta) -> None:
        env = self._expand_env(scope)
        for word in self._words(inst):
            key, eq, default = word.partition("=")
            if not key:
                raise BuildError(f"{self.name}:{inst.line}: ARG needs a name")
            if key in self.build_args:
                value: str | None = self.build_args[key]
                self.used_args.add(key)
            elif eq:
                value = sw.expand(default, env, self.df.escape)
            else:
                value = meta.get(key)
            scope.args[key] = value

    def _pairs(self, scope: Scope, inst: Instruction) -> list[tuple[str, str]]:
        env = self._expand_env(scope)
        words = self._words(inst)
        if words and "=" not in words[0]:
            if len(words) < 2:
                raise BuildError(f"{inst.cmd} needs a name and a value (e.g. {inst.cmd} KEY=value)")
            rest = inst.rest.split(None, 1)[1]
            return [(words[0], sw.expand(rest.strip(), env, self.df.escape))]
        out = []
        for w in words:
            key, eq, value = w.partition("=")
            if not eq or not key:
                raise BuildError(f"{inst.cmd} expects KEY=VALUE pairs, got {w!r}")
            out.append((sw.expand(key, env, self.df.escape), sw.expand(value, env, self.df.escape)))
        return out

    def _do_env(self, scope: Scope, inst: Instruction) -> bool:
        env = scope.state.env()
        env.update(self._pairs(scope, inst))
        config = copy.deepcopy(scope.state.config)
        config["Env"] = [f"{k}={v}" for k, v in env.items()]
        return self._apply(scope, inst, [config["Env"]], config)

    def _do_label(self, scope: Scope, inst: Instruction) -> bool:
        config = copy.deepcopy(scope.state.config)
        labels = dict(config.get("Labels") or {})
        labels.update(self._pairs(scope, inst))
        config["Labels"] = labels
        return self._apply(scope, inst, [labels], config)

    def _do_maintainer(self, scope: Scope, inst: Instruction) -> bool:
        config = copy.deepcopy(scope.state.config)
        config["Labels"] = {**(config.get("Labels") or {}), "maintainer": inst.rest}
        return self._apply(scope, inst, [inst.rest], config)

    def _set(self, scope: Scope, inst: Instruction, key: str, value) -> bool:
        config = copy.deepcopy(scope.state.config)
        config[key] = value
        return self._apply(scope, inst, [key, value], config)

    def _do_user(self, scope: Scope, inst: Instruction) -> bool:
        return self._set(scope, inst, "User", self._expand(scope, inst.rest))

    def _do_stopsignal(self, scope: Scope, inst: Instruction) -> bool:
        return self._set(scope, inst, "StopSignal", self._expand(scope, inst.rest))

    def _do_workdir(self, scope: Scope, inst: Instruction) -> bool:
        path = self._expand(scope, inst.rest)
        path = os.path.normpath(os.path.join(scope.state.config.get("WorkingDir") or "/", path))
        config = copy.deepcopy(scope.state.config)
        config["WorkingDir"] = path
        view = self._snapshot_view(scope.state)
        if view.lstat(view.resolve(path)) is not None:
            return self._apply(scope, inst, [path], config)
        made = copying.mkdir_plan(path, view)
        return self._apply(scope, inst, [path, "mkdir"], config,
                           layer=lambda: self._store_layer(lambda w: copying.write(made, w)))

    def _exec_or_shell(self, scope: Scope, inst: Instruction, rest: str) -> list[str]:
        form = exec_form(rest)
        if form is not None:
            return form
        return list(scope.state.config.get("Shell") or DEFAULT_SHELL) + [rest]

    def _do_cmd(self, scope: Scope, inst: Instruction) -> bool:
        scope.cmd_set = True
        return self._set(scope, inst, "Cmd", self._exec_or_shell(scope, inst, inst.rest))

    def _do_entrypoint(self, scope: Scope, inst: Instruction) -> bool:
        config = copy.deepcopy(scope.state.config)
        config["Entrypoint"] = self._exec_or_shell(scope, inst, inst.rest)
        if not scope.cmd_set:
            config["Cmd"] = None  # like Docker: an inherited CMD does not survive a new ENTRYPOINT
        return self._apply(scope, inst, [config["Entrypoint"], config["Cmd"]], config)

    def _do_shell(self, scope: Scope, inst: Instruction) -> bool:
        form = exec_form(inst.rest)
        if not form:
            raise BuildError('SHELL needs the JSON form, e.g. SHELL ["/bin/sh", "-c"]')
        return self._set(scope, inst, "Shell", form)

    def _do_expose(self, scope: Scope, inst: Instruction) -> bool:
        from engine.images.config import _ports

        words = [self._expand(scope, w) for w in self._words(inst)]
        try:
            ports = _ports(" ".join(words), inst.text)
        except Exception as e:  # InvalidArgument: one line already
            raise BuildError(str(e)) from None
        exposed = dict(scope.state.config.get("ExposedPorts") or {})
        exposed.update({p: {} for p in ports})
        return self._set(scope, inst, "ExposedPorts", exposed)

    def _do_volume(self, scope: Scope, inst: Instruction) -> bool:
        form = exec_form(inst.rest)
        names = form if form is not None else self._words(inst)
        names = [self._expand(scope, n) for n in names]
        if not all(names):
            raise BuildError("VOLUME needs a path")
        volumes = dict(scope.state.config.get("Volumes") or {})
        volumes.update({n: {} for n in names})
        return self._set(scope, inst, "Volumes", volumes)

    def _do_healthcheck(self, scope: Scope, inst: Instruction) -> bool:
        fl, rest = self._flags(inst, ("interval", "timeout", "start-period", "start-interval", "retries"))
        word, _, cmd = rest.partition(" ")
        if word.upper() == "NONE":
            if cmd.strip() or fl:
                raise BuildError("HEALTHCHECK NONE takes no other arguments")
            return self._set(scope, inst, "Healthcheck", {"Test": ["NONE"]})
        if word.upper() != "CMD" or not cmd.strip():
            raise BuildError("HEALTHCHECK needs CMD and a command (or NONE)")
        form = exec_form(cmd)
        check: dict = {"Test": ["CMD", *form] if form is not None else ["CMD-SHELL", cmd.strip()]}
        for name, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                          ("start-interval", "StartInterval")):
            if name in fl:
                check[key] = _duration_ns(fl[name], "--" + name)
        if "retries" in fl:
            if not fl["retries"].isdigit():
                raise BuildError(f"--retries={fl['retries']}: give a whole number")
            check["Retries"] = int(fl["retries"])
        return self._set(scope, inst, "Healthcheck", check)

    def _do_onbuild(self, scope: Scope, inst: Instruction) -> bool:
        trigger = inst.rest.split(None, 1)[0].upper()
        if trigger in NOT_IN_ONBUILD:
            raise BuildError(f"ONBUILD {trigger} is not allowed")
        if Instr.of(trigger) is None:
            raise BuildError(f"ONBUILD: unknown instruction: {trigger}")
        triggers = list(scope.state.config.get("OnBuild") or []) + [inst.rest]
        return self._set(scope, inst, "OnBuild", triggers)

    def _do_from(self, scope: Scope, inst: Instruction) -> bool:
        raise BuildError("FROM inside a stage")  # stages are split before; only reachable from ONBUILD

    def _do_run(self, scope: Scope, inst: Instruction) -> bool:
        mount_specs, rest_text = take_repeated(inst.rest, "mount")
        fl, rest = self._flags(replace(inst, rest=rest_text), ("network", "security"))
        if fl.get("security", "sandbox") != "sandbox":
            raise BuildError("RUN --security=insecure is not supported")
        network = self.network
        if "network" in fl:
            if fl["network"] == "none":
                network = None
            elif fl["network"] != "default":
                raise BuildError(f"RUN --network={fl['network']}: use default or none")
        if not rest.strip():
            raise BuildError("RUN needs a command")
        shell = list(scope.state.config.get("Shell") or DEFAULT_SHELL)
        if inst.heredocs:
            refs = rest.strip()
            if len(inst.heredocs) == 1 and refs.lstrip("<-").strip("\"'") == inst.heredocs[0].name:
                argv = shell + [inst.heredocs[0].content]  # the heredoc is the script
            else:
                script = rest + "\n" + "".join(h.content + h.name + "\n" for h in inst.heredocs)
                argv = shell + [script]
        else:
            argv = exec_form(rest) or shell + [rest]
        args = {k: v for k, v in scope.args.items() if v is not None}
        env = {**args, **scope.state.env()}
        config = scope.state.config
        state = scope.state

        mounts = RunMounts(mount_specs, self.engine.paths.root, self.context, config.get("WorkingDir") or "/",
                           self.secrets)

        def layer() -> str:
            view = self._snapshot_view(state)
            skip = runstep.placeholders(view)

            def emit(line: str) -> None:
                self.emit(f"#{self.step_no} {line}")

            try:
                return runstep.run(self.engine, state.diff_ids, argv, {**env, **mounts.env()},
                                   config.get("WorkingDir") or "/",
                                   config.get("User") or "", network, emit,
                                   lambda upper: self._store_layer(lambda w: w.add_upper(
                                       upper, skip | runstep.mount_points(view, upper, mounts.targets()))),
                                   mounts=mounts.prepare())
            finally:
                mounts.cleanup()

        shown = "RUN " + (" ".join(argv) if exec_form(rest) is None else json.dumps(argv))
        # not keyed on the network: where RUN can connect to is not what it makes
        key = [argv, args] + ([mounts.digest()] if mount_specs else [])
        return self._apply(scope, inst, key, layer=layer, created_by=shown)

    def _do_copy(self, scope: Scope, inst: Instruction, add: bool = False) -> bool:
        allowed = ("from", "chown", "chmod", "link") if not add else ("chown", "chmod", "link", "checksum")
        fl, rest = self._flags(inst, allowed)
        env = self._expand_env(scope)
        form = exec_form(rest)
        raw = form if form is not None else self._words(inst, rest)
        words = [w if w.startswith("<<") else sw.expand(w, env, self.df.escape) for w in raw]
        if len(words) < 2:
            raise BuildError(f"{inst.cmd} needs a source and a destination")
        srcs, dest = words[:-1], words[-1]
        heredocs = {h.name: (sw.expand(h.content, env, self.df.escape) if h.expand else h.content).encode()
                    for h in inst.heredocs}
        source = "context"
        from_context = True
        tree: LayerFS = self.context
        if fl.get("from"):
            ref = sw.expand(fl["from"], env, self.df.escape)
            tree, source = self._from_tree(ref)
            from_context = False
        view = self._snapshot_view(scope.state)
        chown = sw.expand(fl["chown"], env, self.df.escape) if fl.get("chown") else None
        p = copying.plan(srcs, dest, tree=tree, image=view, workdir=scope.state.config.get("WorkingDir") or "/",
                         add=add, chown=chown, chmod=fl.get("chmod"), from_context=from_context,
                         heredocs=heredocs, what=inst.cmd)
        return self._apply(scope, inst, [source, srcs, dest, chown, fl.get("chmod"), p.digest],
                           layer=lambda: self._store_layer(lambda w: copying.write(p, w)))

    def _do_add(self, scope: Scope, inst: Instruction) -> bool:
        return self._do_copy(scope, inst, add=True)

    def _from_tree(self, ref: str) -> tuple[LayerFS, str]:
        """The files of a stage (by name or index) or of an image, for COPY --from."""
        lowered = ref.lower()
        for index, state in self.results.items():
            if lowered == str(index) or lowered == self._stage_names.get(index):
                return self._snapshot_view(state), "stage " + state.key()
        try:
            info = self._image(ref)
        except BuildError as e:
            raise BuildError(f"--from={ref}: no stage of that name, and {e}") from None
        return self._snapshot_view(State(list(info.layers))), "image " + info.id

    # -- the image -------------------------------------------------------------------------
    def _existing(self, image_id: str):
        """The image *image_id* if it is stored whole and already has every tag asked for (an unchanged
        rebuild then writes nothing)."""
        from engine.errors import NotFound

        try:
            info = self.images.get(image_id)
        except NotFound:
            return None
        if not set(self.tags) <= set(info.repo_tags):
            return None
        chains = chain_ids(info.layers)
        return info if all(self.images.snapshots.has(c) for c in chains) else None

    def _commit(self, state: State):
        from engine.images.config import host_architecture
        from engine.images.store import _Staged

        self.step_no += 1
        self.emit(f"#{self.step_no} exporting to image")
        config = copy.deepcopy(state.config)
        if self.labels:
            config["Labels"] = {**(config.get("Labels") or {}), **self.labels}
        created = state.history[-1]["created"] if state.history else _now()
        doc = {"architecture": host_architecture(), "os": "linux", "config": config, "created": created,
               "history": state.history, "rootfs": {"type": "layers", "diff_ids": state.diff_ids}}
        data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        image_id = "sha256:" + hashlib.sha256(data).hexdigest()
        info = self._existing(image_id)
        if info is None:
            self.images.blobs.put_bytes(data, expect=image_id)
            size = sum(self.images.blobs.size(d) for d in state.diff_ids)
            (info,) = self.images._commit([_Staged(image_id, list(state.diff_ids), size, self.tags)])
        self.emit(f"#{self.step_no} writing image {image_id}")
        for t in self.tags:
            self.emit(f"#{self.step_no} naming to {t}")
        self.emit(f"#{self.step_no} DONE")
        return info


# What each instruction does to a stage (ARG, which sees the build's meta-args, is Builder._step's own).
STEPS: dict[Instr, Callable[[Builder, Scope, Instruction], bool]] = {
    Instr.FROM: Builder._do_from,
    Instr.ENV: Builder._do_env,
    Instr.LABEL: Builder._do_label,
    Instr.MAINTAINER: Builder._do_maintainer,
    Instr.USER: Builder._do_user,
    Instr.STOPSIGNAL: Builder._do_stopsignal,
    Instr.WORKDIR: Builder._do_workdir,
    Instr.CMD: Builder._do_cmd,
    Instr.ENTRYPOINT: Builder._do_entrypoint,
    Instr.SHELL: Builder._do_shell,
    Instr.EXPOSE: Builder._do_expose,
    Instr.VOLUME: Builder._do_volume,
    Instr.HEALTHCHECK: Builder._do_healthcheck,
    Instr.ONBUILD: Builder._do_onbuild,
    Instr.RUN: Builder._do_run,
    Instr.COPY: Builder._do_copy,
    Instr.ADD: Builder._do_add,
}
