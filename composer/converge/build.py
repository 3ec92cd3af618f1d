"""Compose `build:`: building the images of services that have one.

A built service's image is named `<project>-<service>` unless it sets `image:` (then that name).
`ensure_built` builds what is missing (or everything asked for, with *force*), one service after
another, and returns the image ids by reference.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable

from composer import labels
from composer.converge.secretfiles import build_secrets
from composer.errors import ComposerError
from composer.model import Project, Service
from engine.api import Engine, EngineError, NotFound


def build_spec(svc: Service, project: Project) -> dict | None:
    """The service's `build:` in its long form (context absolute), or None; a remote context is refused."""
    spec = svc.build
    if spec is None:
        return None
    context = str(spec.get("context") or ".")
    if "://" in context or context.startswith("git@"):
        raise ComposerError(f"service {svc.name}: build context {context}: only local directories can be "
                            "built (clone it first)")
    return dict(spec)


def _kv(value) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    out = {}
    for item in value or []:
        k, _, v = str(item).partition("=")
        out[k] = v
    return out


def _network(spec: dict, svc: Service, project: Project, engine: Engine) -> str | None:
    """The engine network RUN steps join: `build.network` (a project network or an engine network),
    else the service's first network when it exists already (so RUN reaches the running stack);
    None (loopback only) for `none`, or when the stack's network is not made yet."""
    name = spec.get("network")
    if name in ("none", "host"):
        return None
    if name and name != "default":
        net = project.networks.get(name)
        engine_name = net.name if net else name
        try:
            engine.inspect_network(engine_name)
        except NotFound:
            raise ComposerError(f"service {svc.name}: build network {name} does not exist (create it, or "
                                "start the stack once)") from None
        return engine_name
    for key in svc.networks:
        net = project.networks.get(key)
        if net is None:
            continue
        try:
            return engine.inspect_network(net.name).name
        except NotFound:
            return None
    return None


def _lines(progress) -> Callable[[str], None] | None:
    if progress is None:
        return None
    if callable(progress) and not hasattr(progress, "update"):
        return progress
    if getattr(progress, "mode", "plain") != "plain":
        return None  # a terminal display (redrawn in place), json or quiet: the build shows as one line
    stream = getattr(progress, "stream", sys.stderr)

    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return write


def build_service(project: Project, engine: Engine, svc: Service, progress=None, no_cache: bool | None = None,
                  build_args: dict[str, str] | None = None) -> str:
    """Build one service's image; returns its id."""
    spec = build_spec(svc, project)
    if spec is None:
        raise ComposerError(f"service {svc.name} has no build: section")
    ref = labels.image_name(project, svc)
    tags = [ref] + [t for t in spec.get("tags") or [] if t != ref]
    args = _kv(spec.get("args"))
    args.update(build_args or {})
    secrets = build_secrets(project, svc) if svc.build_secrets else None
    lines = _lines(progress)
    event = getattr(progress, "update", None)
    if event:
        event("Image", ref, "Building")
    dockerfile = spec.get("dockerfile") or "Dockerfile"
    try:
        info = engine.build_image(
            spec["context"], dockerfile=None if spec.get("dockerfile_inline") is not None else dockerfile,
            tags=tags, build_args=args, target=spec.get("target"),
            no_cache=bool(spec.get("no_cache")) if no_cache is None else no_cache,
            labels=_kv(spec.get("labels")), progress=lines, dockerfile_inline=spec.get("dockerfile_inline"),
            network=_network(spec, svc, project, engine), secrets=secrets)
    except EngineError as e:
        if event:
            event("Image", ref, "Error", "error")
        raise ComposerError(f"service {svc.name}: build failed: {e}") from None
    if event:
        event("Image", ref, "Built", "done")
    return info.id


def ensure_built(project: Project, engine: Engine, services: list[str], force: bool = False,
                 progress=None) -> dict[str, str]:
    """Build the images of *services* that have `build:`: those missing, or all of them with *force*.
    *progress* is a composer.progress.Progress or a callable taking output lines (or None).
    Returns {image reference: image id} of what was built."""
    built: dict[str, str] = {}
    for name in services:
        svc = project.service(name)
        if svc.build is None:
            continue
        ref = labels.image_name(project, svc)
        if ref in built:
            continue
        if not force and svc.pull_policy != "build":  # pull_policy: build always builds
            try:
                engine.inspect_image(ref)
                continue
            except NotFound:
                pass
        built[ref] = build_service(project, engine, svc, progress)
    return built
