"""Loading the project a stack command works on, and running reconciler steps under its lock."""
from __future__ import annotations

import os

from composer.errors import StackFileError
from composer.load.options import LoadOptions
from composer.model import Project

# like Docker Compose, `-p NAME down|ps|logs|...` works on what the engine has, without a file
FILELESS = {"down", "ps", "logs", "stop", "start", "restart", "kill", "rm", "pause", "unpause", "top", "port",
            "wait", "images", "events", "stats"}


def load_options(args, interpolate: bool = True) -> LoadOptions:
    """The loader's options from the global command-line options."""
    return LoadOptions(files=args.files, project_name=args.project_name, project_dir=args.project_dir,
                       env_files=args.env_files, interpolate=interpolate,
                       profiles=getattr(args, "profiles", None) or None)


def load_project(args, interpolate: bool = True) -> Project:
    try:
        from composer.load import projectcache

        opts, cwd = load_options(args, interpolate), os.getcwd()
        project = projectcache.remembered(opts, cwd)  # the no-op path: the loader is not even imported
        if project is None:
            from composer.load.loader import load_and_remember

            project = load_and_remember(opts, cwd)
        return project
    except StackFileError as e:
        if args.project_name and not args.files and args.command in FILELESS and "no configuration file" in str(e):
            return Project(args.project_name, os.getcwd(), [], {}, {}, {}, {})
        raise


def reconciler(args, progress=None):
    from composer.converge.reconciler import Reconciler
    from engine.api import Engine

    rec = Reconciler(Engine(), load_project(args), progress)
    rec.dry_run = bool(getattr(args, "dry_run", False))
    return rec


def converge(args, *steps):
    """Load the project, check named services, and run each step (a function taking the reconciler)
    under the project's lock."""
    from composer.progress import from_args

    rec = reconciler(args, from_args(args))
    for name in getattr(args, "services", None) or []:
        rec.project.service(name)
    with rec.lock():
        for step in steps:
            step(rec)
    return rec


def selected(rec, services: list[str]):
    """The project's containers of *services* (all when empty), after checking the names exist."""
    from composer import labels

    for name in services:
        rec.project.service(name)
    return [c for c in rec.containers() if not services or c.labels.get(labels.LABEL_SERVICE) in services]
