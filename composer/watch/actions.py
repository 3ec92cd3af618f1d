"""What a batch of changes does to a service: sync files in, rebuild, restart, exec.

Per service and batch: a `rebuild` rule that fired wins over everything else (the new container gets
the files from the image); otherwise the sync rules copy their files into every running container
of the service, then one restart follows when a restart or sync+restart rule fired, then the
sync+exec commands run.
"""
from __future__ import annotations

import os
import sys
from typing import Callable

from composer import labels
from composer.converge.plan import UpOptions
from composer.errors import ComposerError
from composer.progress import Progress
from composer.watch.rules import Rule, walk
from engine.api import EngineError, NotFound


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _count(n: int) -> str:
    return f"{n} change was" if n == 1 else f"{n} changes were"


def changes(rule: Rule, paths: set[str] | list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(files to copy as (host path, container path), container paths to remove) for the changed
    *paths*. A new directory brings everything the rule takes below it: files made in it before it
    was watched are not reported on their own."""
    files: list[tuple[str, str]] = []
    removals: list[str] = []
    seen: set[str] = set()
    for path in sorted(paths):
        if not os.path.lexists(path):
            removals.append(rule.container_path(path))
            continue
        for p in walk(rule, path) if os.path.isdir(path) and not os.path.islink(path) else [path]:
            if p not in seen:
                seen.add(p)
                files.append((p, rule.container_path(p)))
    return files, removals


def sync(rec, rule: Rule, paths: set[str] | list[str], why: str = "") -> int:
    """Bring *paths* (host paths the rule takes) up to date in the service's running containers; the
    number of containers synced. *why* (a sentence) is said first, with the number of changes."""
    files, removals = changes(rule, paths)
    if why:
        count = sum(1 for host, _ in files if not os.path.isdir(host) or os.path.islink(host)) + len(removals)
        say(why.format(count=_count(count)))
    running = [c for c in rec.containers(rule.service) if c.status == "running"]
    for c in running:
        rec.engine.sync_to_container(c.id, files, removals)
    return len(running)


def restart(rec, service: str) -> None:
    with rec.lock():
        rec.stop([service])
        rec.start([service])


def rebuild(rec, service: str, prune: bool = True, quiet: bool = False) -> None:
    """Build the service's image again and recreate its containers from it. With *prune*, the image
    the build replaced is removed once nothing names or uses it; *quiet* hides the build's output."""
    ref = labels.image_name(rec.project, rec.project.services[service])
    with rec.lock():
        try:
            old = rec.engine.inspect_image(ref).id
        except NotFound:
            old = None
        shown, rec.progress = rec.progress, rec.progress if quiet else Progress("plain")
        try:
            rec.prepare_images([service], build=True)
        finally:
            rec.progress = shown
        rec.up(UpOptions(services=[service], no_deps=True))
        if prune and old:
            prune_replaced(rec.engine, old)


def prune_replaced(engine, image_id: str) -> bool:
    """Remove an image a rebuild replaced, if it is now dangling (no tag) and no container uses it."""
    try:
        if engine.inspect_image(image_id).repo_tags:
            return False  # the build made the same image, or another tag still names it
        engine.remove_image(image_id)
        return True
    except (NotFound, EngineError):
        return False  # gone already, or still used by a container


def run_exec(rec, rule: Rule) -> None:
    spec = rule.exec
    env = {str(k): "" if v is None else str(v) for k, v in (spec.get("environment") or {}).items()}
    for c in rec.containers(rule.service):
        if c.status != "running":
            continue
        code = rec.engine.exec_container(c.id, list(spec["command"]), env or None, spec.get("user"),
                                         spec.get("working_dir"), stdout=sys.stdout.fileno(),
                                         stderr=sys.stderr.fileno(), privileged=bool(spec.get("privileged")))
        if code != 0:
            raise ComposerError(f"exec {' '.join(spec['command'])} in {c.name} exited with code {code}")


def apply(rec, service: str, fired: dict[int, tuple[Rule, set[str]]],
          on_recreated: Callable[[str], None] | None = None, prune: bool = True, quiet: bool = False) -> bool:
    """Carry out what the *fired* rules (index -> (rule, changed paths)) of *service* ask for. A failure
    is reported and False returned: watching goes on."""
    rules = [fired[i] for i in sorted(fired)]
    total = len({p for _, paths in rules for p in paths})
    step = "sync"
    try:
        if any(r.action == "rebuild" for r, _ in rules):
            step = "rebuild"
            say(f'Rebuilding service "{service}" after {_count(total)} detected')
            rebuild(rec, service, prune, quiet)
            say(f'service "{service}" rebuilt and recreated')
            if on_recreated:
                on_recreated(service)
            return True
        for rule, paths in rules:
            if rule.syncs:
                sync(rec, rule, paths, f'Syncing service "{service}" after {{count}} detected')
        if any(r.action in ("restart", "sync+restart") for r, _ in rules):
            step = "restart"
            restart(rec, service)
            say(f'service "{service}" restarted')
            if on_recreated:
                on_recreated(service)
        for rule, _ in rules:
            if rule.action == "sync+exec":
                step = "exec"
                run_exec(rec, rule)
        return True
    except (ComposerError, EngineError, OSError) as e:
        say(f'error: service "{service}": {step} failed: {getattr(e, "strerror", None) or e} (still watching)')
        return False
