"""Attached `up`: follow the output of the stack's containers until they stop.

Ctrl-C stops the stack gracefully (a second Ctrl-C kills it); --abort-on-container-exit stops
everything when one container stops, and --exit-code-from returns that service's exit code.
"""
from __future__ import annotations

import queue
import sys

from composer import labels
from composer.cli.follow import Printer, follow, short_name, use_colour
from engine.api import ContainerInfo


def _chosen(rec, args) -> list[ContainerInfo]:
    from composer.converge.plan import targets

    if args.attach:
        names = set(args.attach)
    elif args.services and not args.attach_dependencies:
        names = set(args.services)
    else:
        names = set(targets(rec.project, args.services, args.no_deps))
    names -= set(args.no_attach)
    return [c for c in rec.containers() if c.labels.get(labels.LABEL_SERVICE) in names]


def before_up(rec) -> dict[str, ContainerInfo]:
    """The project's containers before an attached `up` changes them (see `attach`)."""
    return {c.id: c for c in rec.containers()}


def _since(c: ContainerInfo, before: dict[str, ContainerInfo]) -> dict:
    """Where following *c* starts: only what it writes from now on. A container that was running
    before this up shows only new lines, one this up started again shows what it wrote since its last
    run ended (not the previous runs' output), a new one everything."""
    old = before.get(c.id)
    if old is None:
        return {"tail": None}
    if old.status in ("running", "restarting", "paused") or old.paused:
        return {"tail": 0}
    if old.finished_at:
        from composer.cli.timearg import parse_log_time

        return {"tail": None, "since": parse_log_time(old.finished_at)}
    return {"tail": None}


def attach(rec, args, before: dict[str, ContainerInfo] | None = None) -> int:
    rec.progress.finish()  # the logs follow the display; a stop (Ctrl-C) gets a display of its own
    containers = _chosen(rec, args)
    printer = Printer(containers, prefix=not args.no_log_prefix,
                      colour=use_colour(getattr(args, "ansi", "auto"), args.no_color), timestamps=args.timestamps)
    ended: queue.Queue = queue.Queue()
    left = {c.id for c in containers}
    code = 0
    try:
        for c in containers:
            follow(rec.engine, [c], follow=True, prefix=True, printer=printer, on_end=ended.put, wait=False,
                   **_since(c, before or {}))
        while left:
            try:
                c = ended.get(timeout=0.2)
            except queue.Empty:
                continue
            left.discard(c.id)
            info = rec.engine.inspect_container(c.id)
            if info.status == "running":  # the log ended while it restarts: follow it again
                left.add(c.id)
                follow(rec.engine, [info], follow=True, tail=0, prefix=True, printer=printer, on_end=ended.put,
                       wait=False)
                continue
            printer.note(f"{short_name(c)} exited with code {info.exit_code}")
            service = c.labels.get(labels.LABEL_SERVICE)
            if args.exit_code_from == service:
                code = info.exit_code
            abort = args.abort_on_container_exit or (args.abort_on_container_failure and info.exit_code != 0)
            if abort:
                if not args.exit_code_from:
                    code = info.exit_code
                print("Aborting on container exit...", file=sys.stderr)
                _stop(rec, args)
                if args.exit_code_from and args.exit_code_from != service:
                    code = _exit_code(rec, args.exit_code_from)
                return code
    except KeyboardInterrupt:
        print("Gracefully stopping... (press Ctrl+C again to force)", file=sys.stderr, flush=True)
        _stop(rec, args)
        return 130
    if args.exit_code_from:
        code = _exit_code(rec, args.exit_code_from)
    return code


def _exit_code(rec, service: str) -> int:
    found = rec.containers(service)
    return found[0].exit_code if found else 0


def _stop(rec, args) -> None:
    """Stop the stack; a Ctrl-C while it stops kills what is left (the stop then ends at once)."""
    import signal

    services = args.services or list(rec.project.services)  # the stack's services, not orphans

    def force(signum, frame) -> None:
        print("Killing...", file=sys.stderr, flush=True)
        for c in rec.containers():
            if c.status == "running" and (not services or c.labels.get(labels.LABEL_SERVICE) in services):
                rec.engine.kill_container(c.id, "SIGKILL")

    previous = signal.signal(signal.SIGINT, force)
    try:
        with rec.lock():
            rec.stop(services, args.timeout)
    finally:
        signal.signal(signal.SIGINT, previous)
