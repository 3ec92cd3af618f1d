"""The watch loop: watchfiles reports changed paths, bursts are grouped into one batch, each batch
is split by service and rule and handed to the actions.

watchfiles yields a batch once no new change came for `quiet_ms()` (or after `DEBOUNCE_MS` of steady
changes); changes made while an action runs wait in its queue for the next batch. The quiet time is
short (a burst such as a checkout or a formatter run writes its files within a few milliseconds)
because it is most of the latency from a save to the container; COMPOSER_WATCH_QUIET_MS changes it.
"""
from __future__ import annotations

import os
import threading
from typing import Callable

from composer.errors import ComposerError
from composer.watch import actions
from composer.watch.rules import Rule, files_under
from engine.api import EngineError

QUIET_MS = 25
DEBOUNCE_MS = 1000
TICK_MS = 250  # how often the loop wakes without changes (to notice it may start, or stop)


def quiet_ms() -> int:
    value = os.environ.get("COMPOSER_WATCH_QUIET_MS", "")
    return int(value) if value.isdigit() and int(value) > 0 else QUIET_MS


def roots(rules: list[Rule]) -> list[str]:
    """The directories to watch: each rule's directory (a file rule: its parent, so an editor's
    save by rename is seen), without those inside another."""
    dirs = sorted({r.path if os.path.isdir(r.path) else os.path.dirname(r.path) for r in rules})
    out: list[str] = []
    for d in dirs:
        if not any(d == o or d.startswith(o.rstrip("/") + "/") for o in out):
            out.append(d)
    return out


def batches(rules: list[Rule], paths: set[str]) -> dict[str, dict[int, tuple[Rule, set[str]]]]:
    """{service: {rule index: (rule, its paths)}} for the changed *paths*."""
    out: dict[str, dict[int, tuple[Rule, set[str]]]] = {}
    for n, rule in enumerate(rules):
        mine = {p for p in paths if rule.takes(p)}
        if mine:
            out.setdefault(rule.service, {})[n] = (rule, mine)
    return out


def initial_sync(rec, rules: list[Rule]) -> None:
    for rule in rules:
        if rule.syncs and rule.initial_sync:
            actions.say(f'Syncing service "{rule.service}" initially ({rule.path} -> {rule.target})')
            try:
                actions.sync(rec, rule, files_under(rule))
            except (ComposerError, EngineError, OSError) as e:
                actions.say(f'error: service "{rule.service}": initial sync failed: {e}')


def watch(rec, rules: list[Rule], stop: threading.Event | None = None,
          on_recreated: Callable[[str], None] | None = None, prune: bool = True, quiet: bool = False) -> None:
    """Watch until *stop* is set (or Ctrl-C, which raises KeyboardInterrupt). *prune* and *quiet* are
    for rebuilds (see actions.rebuild)."""
    import watchfiles

    services = sorted({r.service for r in rules})
    ready = False
    for changes in watchfiles.watch(*roots(rules), watch_filter=None, debounce=DEBOUNCE_MS, step=quiet_ms(),
                                    stop_event=stop, raise_interrupt=True, rust_timeout=TICK_MS,
                                    yield_on_timeout=True):
        if not ready:  # the paths are watched from here on: nothing saved now is missed
            ready = True
            initial_sync(rec, rules)
            actions.say(f"Watch enabled for {', '.join(services)} (Ctrl-C to stop)")
        if changes:
            for service, fired in batches(rules, {path for _, path in changes}).items():
                actions.apply(rec, service, fired, on_recreated, prune, quiet)
