"""Attached `up`: follow the output of the stack's containers until they stop.

Ctrl-C stops the stack gracefully (a second Ctrl-C kills it); --abort-on-container-exit stops
everything when one container stops, and --exit-code-from returns that service's exit code.
"""
from __future__ import annotations

import queue
import sys

from composer import desired
from composer.cli.follow import Printer, follow, short_name, use_colour
from engine.api import ContainerInfo


def _chosen(rec, args) -> list[ContainerInfo]:
    from composer.plan import targets

    if args.attach:
        names = set(args.attach)
    elif args.services and not args.attach_dependencies:
        names = set(args.services)
    else:
        names = set(targets(rec.project, args.services, args.no_deps))
    names -= set(args.no_attach)
    return [c for c in rec.containers() if c.labels.get(desired.LABEL_SERVICE) in names]


def attach(rec, args) -> int:
    containers = _chosen(rec, args)
    printer = Printer(containers, prefix=not args.no_log_prefix,
                      colour=use_colour(getattr(args, "ansi", "auto"), args.no_color), timestamps=args.timestamps)
    ended: queue.Queue = queue.Queue()
    left = {c.id for c in containers}
    code = 0
    try:
        follow(rec.engine, containers, follow=True, tail=None, prefix=True, printer=printer, on_end=ended.put,
               wait=False)
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
            service = c.labels.get(desired.LABEL_SERVICE)
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
        print("Gracefully stopping... (press Ctrl+C again to force)", file=sys.stderr)
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

    services = args.services or None

    def force(signum, frame) -> None:
        print("Killing...", file=sys.stderr, flush=True)
        for c in rec.containers():
            if c.status == "running" and (not services or c.labels.get(desired.LABEL_SERVICE) in services):
                rec.engine.kill_container(c.id, "SIGKILL")

    previous = signal.signal(signal.SIGINT, force)
    try:
        with rec.lock():
            rec.stop(services, args.timeout)
    finally:
        signal.signal(signal.SIGINT, previous)
