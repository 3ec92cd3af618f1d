"""`develop.watch` rules: which host paths a rule watches and where they go in the container.

A changed path belongs to a rule when it is the rule's `path` or lies under it, is not excluded by
the rule's `ignore` patterns, by the service's build context `.dockerignore` (for paths inside the
context) or by editor/VCS droppings, and matches one of `include` when the rule has any. Patterns are
`.dockerignore`-style and relative to the rule's path (the context for `.dockerignore`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from composer.converge.build import build_spec
from composer.errors import ComposerError
from composer.model import Project
from engine.api import dockerignore, path_patterns

ACTIONS = ("sync", "rebuild", "restart", "sync+restart", "sync+exec")

# files editors and git write next to what is edited (as Docker Compose ignores them too)
EPHEMERAL = [".git", "**/.git", "**/*~", "**/.*.swp", "**/.*.swx", "**/4913", "**/.#*", "**/#*#",
             "**/*___jb_old___", "**/*___jb_tmp___"]


@dataclass
class Rule:
    service: str
    action: str
    path: str                      # absolute host path (file or directory)
    target: str | None = None      # container path (sync actions)
    initial_sync: bool = False
    exec: dict = field(default_factory=dict)  # sync+exec: command, user, privileged, working_dir, environment
    ignore: object = None          # path_patterns matchers
    include: object = None
    context: str | None = None     # build context, for its .dockerignore
    dockerignore: object = None
    index: int = 0

    @property
    def syncs(self) -> bool:
        return self.action.startswith("sync")

    def takes(self, path: str) -> bool:
        """Whether a change of host *path* concerns this rule."""
        rel = _below(path, self.path)
        if rel is None or self.ignored(path):
            return False
        return not rel or self.include is None or self.include.excluded(rel)

    def ignored(self, path: str) -> bool:
        """Excluded by `ignore`, editor droppings or the context's .dockerignore (a directory: all below it)."""
        rel = _below(path, self.path)
        if rel and self.ignore.excluded(rel):
            return True
        if self.dockerignore is not None and self.context:
            crel = _below(path, self.context)
            if crel and self.dockerignore.excluded(crel):
                return True
        return False

    def container_path(self, path: str) -> str:
        rel = _below(path, self.path)
        return self.target if not rel else self.target.rstrip("/") + "/" + rel


def _below(path: str, top: str) -> str | None:
    """*path* relative to *top* ("" for top itself), or None when outside it."""
    if path == top:
        return ""
    prefix = top.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


def rules_for(project: Project, services: list[str]) -> list[Rule]:
    """The watch rules of *services* (all the project's when empty), checked; an error when none has any."""
    names = services or list(project.services)
    out: list[Rule] = []
    for name in names:
        svc = project.service(name)
        develop = svc.raw.get("develop") or {}
        spec = build_spec(svc, project)
        ctx_ignore = None
        if spec is not None:
            dockerfile = None if spec.get("dockerfile_inline") is not None else \
                os.path.join(spec["context"], spec.get("dockerfile") or "Dockerfile")
            ctx_ignore = dockerignore(spec["context"], dockerfile)
        for i, raw in enumerate(develop.get("watch") or []):
            where = f"services.{name}.develop.watch[{i}]"
            action = raw.get("action")
            if action not in ACTIONS:
                raise ComposerError(f"{where}.action: {action!r} is not one of {', '.join(ACTIONS)}")
            rule = Rule(name, action, os.path.normpath(raw["path"]), raw.get("target"),
                        bool(raw.get("initial_sync")), dict(raw.get("exec") or {}),
                        path_patterns(EPHEMERAL + list(raw.get("ignore") or [])),
                        path_patterns(list(raw["include"])) if raw.get("include") else None,
                        spec["context"] if spec else None, ctx_ignore, i)
            if rule.syncs and not rule.target:
                raise ComposerError(f"{where}: action {action} needs a target (where the files go in the container)")
            if rule.syncs and not rule.target.startswith("/"):
                raise ComposerError(f"{where}.target: {rule.target!r} must be an absolute container path")
            if action == "rebuild" and spec is None:
                raise ComposerError(f"{where}: action rebuild needs the service to have a build: section")
            if action == "sync+exec" and not rule.exec.get("command"):
                raise ComposerError(f"{where}: action sync+exec needs exec.command")
            if not os.path.exists(rule.path):
                raise ComposerError(f"{where}.path: {rule.path} does not exist")
            out.append(rule)
    if not out:
        raise ComposerError("none of the selected services is configured for watch: add a develop.watch "
                            "section (https://docs.docker.com/compose/file-watch/)")
    return out


def files_under(rule: Rule) -> list[str]:
    """Every path the rule takes below its path (for initial_sync and new directories), parents first."""
    return walk(rule, rule.path)


def walk(rule: Rule, top: str) -> list[str]:
    if not os.path.isdir(top) or os.path.islink(top):
        return [top] if rule.takes(top) else []
    out = [top] if not rule.ignored(top) else []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not rule.ignored(os.path.join(dirpath, d)))
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        out.extend(p for p in (os.path.join(dirpath, n) for n in sorted(filenames) + links) if rule.takes(p))
        out.extend(os.path.join(dirpath, d) for d in dirnames if d not in links)
    return out
