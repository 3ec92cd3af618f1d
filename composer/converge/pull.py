"""Which images a stack must pull, by each service's `pull_policy`, and pulling them.

Policies (compose-spec): `always`; `missing` (the default, also spelled `if_not_present`): pull
only what is not here; `never`: never pull, fail if missing; `build`: the builder makes it, never
pulled; `daily`, `weekly`, `every_<duration>` (`every_12h`, `every_1h30m`): pull when missing or
when it was last pulled longer ago than that. A service with `build:` is left to the builder
unless its policy is `always` (or a refresh interval that has passed); so is a service without
`build:` whose image another service builds.

The reconciler's preflight calls `ensure_images(project, engine, policy, progress)` before it
creates containers; `composer pull` calls `pull_images`.
"""
from __future__ import annotations

from datetime import UTC, datetime

from composer.errors import ComposerError
from composer.labels import image_name
from composer.load.parsers import parse_duration
from composer.model import Project
from engine.api import EngineError, NotFound

POLICIES = ("always", "missing", "if_not_present", "never", "build", "daily", "weekly")
CONCURRENT_PULLS = 4


def refresh_interval(policy: str, where: str) -> float | None:
    """Seconds for daily/weekly/every_<duration>; None for the other policies."""
    if policy == "daily":
        return 86400.0
    if policy == "weekly":
        return 7 * 86400.0
    if policy.startswith("every_"):
        text = policy[len("every_"):]
        if text.endswith("d") and text[:-1].isdigit():  # compose accepts days here too
            return int(text[:-1]) * 86400.0
        seconds = parse_duration(text, where)
        if seconds <= 0:
            raise ComposerError(f"{where}: invalid pull_policy {policy!r}: the interval must be positive")
        return seconds
    return None


def check_policy(policy: str, where: str) -> str:
    policy = policy.strip().lower()
    if policy in POLICIES:
        return "missing" if policy == "if_not_present" else policy
    if policy.startswith("every_"):
        refresh_interval(policy, where)
        return policy
    raise ComposerError(f"{where}: invalid pull_policy {policy!r}: use always, missing, never, build, daily, weekly "
                        "or every_<duration>")


def _age(last: str) -> float | None:

    try:
        when = datetime.fromisoformat(last.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (datetime.now(UTC) - when).total_seconds()


def inspector(engine, known: dict | None = None):
    """image_of(name) -> ImageInfo, or None when the engine has no such image; each name is looked up
    once, remembered in *known*."""

    known = {} if known is None else known

    def image_of(name: str):
        if name not in known:
            try:
                known[name] = engine.inspect_image(name)
            except NotFound:
                known[name] = None
        return known[name]

    return image_of


def wanted(project: Project, engine, policy: str | None = None, image_of=None) -> dict[str, list[str]]:
    """{image: [services]} to pull now. *policy* (`up --pull`) overrides every service's own.
    Raises ComposerError for a `never` service whose image is missing. *image_of* looks images up
    (default: an inspector of *engine*)."""
    image_of = image_of or inspector(engine)
    out: dict[str, list[str]] = {}
    # an image some service builds is the builder's, for every service that runs it
    built = {image_name(project, s) for s in project.services.values() if s.build is not None}
    for svc in project.services.values():
        where = f"services.{svc.name}.pull_policy"
        pol = check_policy(policy or svc.pull_policy, where)
        has_build = image_name(project, svc) in built
        if pol == "build" or (has_build and pol in ("missing", "never")):
            continue
        name = image_name(project, svc)
        image = image_of(name)
        if pol == "never":
            if image is None:
                raise ComposerError(f"service {svc.name}: image {name} is not here and its pull_policy is never: "
                                    "pull, load or build it first")
            continue
        interval = refresh_interval(pol, where)
        if pol == "always":
            pass
        elif interval is not None:
            age = _age(image.last_tag_time) if image is not None else None
            if has_build and image is None:
                continue  # the builder makes it
            if image is not None and age is not None and age < interval:
                continue
        elif image is not None:
            continue
        out.setdefault(name, []).append(svc.name)
    return out


class _Lines:
    """Pull events as lines of a composer.progress.Progress: one line per image, with a byte count."""

    def __init__(self, display, ref: str):
        self.display, self.ref = display, ref
        self.done: dict[str, int] = {}
        self.total: dict[str, int] = {}

    def __call__(self, event) -> None:
        if event.id and event.status == "Downloading":
            self.done[event.id], self.total[event.id] = event.current, event.total
            self.display.downloading("Image", self.ref, sum(self.done.values()), sum(self.total.values()))


def _reporter(progress, ref: str):
    """(callable for engine events, callable(text, state) for the image's own line) for *progress*:
    a composer.progress.Progress, a callable taking ProgressEvent's, or None."""
    from engine.api import ProgressEvent, quiet_progress  # only when pulling: loaded on first use

    if progress is None:
        return quiet_progress, lambda text, state: None
    if hasattr(progress, "update"):
        return _Lines(progress, ref), lambda text, state: progress.update("Image", ref, text, state)
    return progress, lambda text, state: progress(ProgressEvent(f"{ref} {text}"))


def pull_images(engine, images: dict[str, list[str]], progress=None,
                ignore_failures: bool = False) -> dict[str, str]:
    """Pull each image (concurrently); returns {reference: image id} of those pulled. A failure
    raises ComposerError naming the service, after the other pulls finish (or is skipped with
    *ignore_failures*). *progress*: a composer.progress.Progress, a ProgressEvent callable, or None."""

    def one(name: str) -> tuple[str, str] | None:
        services = ", ".join(images[name])
        events, line = _reporter(progress, name)
        line("Pulling", "working")
        try:
            result = engine.pull_image(name, events)
        except EngineError as e:
            line("Error", "error")
            if ignore_failures:
                return None
            raise ComposerError(f"service {services}: pulling {name}: {e}") from None
        line("Pulled", "done")
        return name, result.image.id

    if not images:
        return {}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(CONCURRENT_PULLS, len(images))) as pool:
        futures = [pool.submit(one, name) for name in images]
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e
    return dict(r for f in futures if (r := f.result()) is not None)


def ensure_images(project: Project, engine, policy: str | None = None, progress=None) -> dict[str, str]:
    """Pull what the project's services need now under their pull_policy (*policy*, as `up --pull`,
    overrides them all). *progress*: a composer.progress.Progress (one line per image), a callable
    taking engine ProgressEvent's, or None. Returns {image reference: image id} of what was pulled;
    raises ComposerError naming the service on failure (a `never` image that is missing, a failed pull)."""
    return pull_images(engine, wanted(project, engine, policy), progress)
