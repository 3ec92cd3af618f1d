"""The engine API: the one interface between the front end (composer/) and the engine.

A thin door: each method delegates to one of the engine's services, each built from the stores of
the root (engine/stores.py): containers (engine/containers/), images (engine/images/), volumes
(engine/volumes/) and networks (engine/network/). Everything here is synchronous and safe to call
from worker threads; every mutation holds a file lock, and every multi-step operation rolls back
what it made when a later step fails. Services are imported on first use, so a command pays only
for what it touches.
"""
from __future__ import annotations

# -- what the front end may use ------------------------------------------------------------------
# composer/ imports only engine.api (and engine.types for the typed records). Besides Engine, these
# are the names it needs: the errors, image references and filters, and pull progress. Those whose
# modules cost something to import (compiled patterns) load on first use.
from engine.errors import Conflict, EngineError, InvalidArgument, NotFound  # noqa: F401

_FRONT_END_LAZY = {
    "parse_reference": ("engine.images.reference", "parse"),  # "name[:tag][@digest]" -> Reference
    "parse_image_filters": ("engine.images.filters", "parse"),  # `images --filter` -> a predicate
    "ProgressEvent": ("engine.images.progress", "ProgressEvent"),  # what pull_image reports
    "quiet_progress": ("engine.images.progress", "quiet"),  # a progress callback that drops events
}


def __getattr__(name: str):
    if name in _FRONT_END_LAZY:
        import importlib

        module, attr = _FRONT_END_LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
# -- end of what the front end may use -----------------------------------------------------------

import os
from functools import cached_property
from typing import IO, Callable, ContextManager, Iterator

from engine.containers.records import process_args
from engine.paths import Paths
from engine.store.locks import file_lock
from engine.stores import Stores
from engine.types import (ContainerInfo, ContainerSpec, ImageInfo, Mount, NetworkAttachment, NetworkConfig,
                          NetworkInfo, PortBinding, VolumeInfo)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.containers.service import Containers
    from engine.images.build.context import Ignore
    from engine.images.progress import Progress
    from engine.images.registry.pull import PullResult
    from engine.images.registry.push import PushResult
    from engine.images.store import ImageStore
    from engine.network.manager import Networks
    from engine.runtime.exec import ExecProcess
    from engine.usage import UsageRow
    from engine.volumes.local import Volumes


class Engine:
    def __init__(self, root: str | None = None):
        self.paths = Paths.open(root)
        self.stores = Stores(self.paths)
        self.records = self.stores.records

    def lock_project(self, project: str) -> ContextManager[None]:
        """Serialises commands on one project: held for the whole of an up, down, stop..."""
        return file_lock(self.paths.lock("project-" + project))

    # -- services ------------------------------------------------------------------
    @cached_property
    def containers(self) -> Containers:
        from engine.containers.service import Containers

        return Containers(self.stores)

    @property
    def images(self) -> ImageStore:
        return self.stores.images

    @property
    def networks(self) -> Networks:
        return self.stores.networks

    @property
    def volumes(self) -> Volumes:
        return self.stores.volumes

    # -- images ------------------------------------------------------------------
    def import_image(self, src: str, ref: str | None, changes: list[str] | None = None) -> ImageInfo:
        return self.images.import_tarball(src, ref, changes or [])

    def load_images(self, path: str) -> list[str]:
        return self.images.load_archive(path)

    def build_image(self, context: str, dockerfile: str | None = None, tags: list[str] | None = None,
                    build_args: dict[str, str] | None = None, target: str | None = None, no_cache: bool = False,
                    labels: dict[str, str] | None = None, progress: Callable[[str], None] | None = None,
                    dockerfile_inline: str | None = None, network: str | None = None, secrets: dict[str, bytes] | None = None) -> ImageInfo:
        """`docker build`: the Dockerfile *dockerfile* (default CONTEXT/Dockerfile; relative paths are
        relative to *context*) or the text *dockerfile_inline*, built in the directory *context*.
        *progress* (a callable) receives the output lines; RUN steps join the engine network
        *network* if given (else they have loopback only); *secrets* ({id: value}) are what
        RUN --mount=type=secret mounts. Raises BuildError with Dockerfile:line."""
        from engine.images.build import BuildError
        from engine.images.build.executor import Builder

        context = os.path.abspath(context)
        path = None
        if dockerfile_inline is not None:
            text, name = dockerfile_inline, "Dockerfile"
        else:
            path = os.path.join(context, dockerfile or "Dockerfile")
            name = dockerfile or "Dockerfile"
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise BuildError(f"cannot read the Dockerfile {path}: {e.strerror}") from None
        return Builder(self, context, text, name, path, tags, build_args, target, no_cache, labels, progress,
                       network, secrets).run()

    def prune_build_cache(self) -> tuple[int, int]:
        """Forget the build cache, RUN's cache mounts included, and collect the layers only it kept:
        (entries, bytes freed)."""
        from engine.images.build.cache import prune
        from engine.images.build.runmounts import prune_caches

        before = {d: self.images.blobs.size(d) for d in self.images.blobs.list()}
        entries = prune(self.paths)
        mounts, mount_bytes = prune_caches(self.paths.root)
        self.images.gc()
        after = set(self.images.blobs.list())
        return entries + mounts, mount_bytes + sum(size for d, size in before.items() if d not in after)

    def list_images(self, filters: dict[str, list[str]] | None = None) -> list[ImageInfo]:
        """Every image, newest first; *filters* as `image ls --filter` (engine.images.filters.parse)."""
        images = self.images.list()
        if filters:
            from engine.images.filters import apply

            images = apply(images, filters, self.images.get)
        return images

    def pull_image(self, ref: str, progress: Progress | None = None, platform: str | None = None) -> PullResult:
        """Pull *ref* from its registry; *progress* gets engine.images.progress.ProgressEvent's.
        Returns an engine.images.registry.pull.PullResult (image, digest, reference, new)."""
        from engine.images.progress import quiet
        from engine.images.registry.pull import pull

        return pull(self.images, ref, progress or quiet, platform)

    def push_image(self, ref: str, progress: Progress | None = None) -> PushResult:
        """Push the image tagged *ref* to its registry; returns a PushResult (reference, digest, size)."""
        from engine.images.progress import quiet
        from engine.images.registry.push import push

        return push(self.images, ref, progress or quiet)

    def login(self, registry: str, username: str, password: str) -> None:
        """Check the credentials with the registry, then store them in the Docker client config."""
        from engine.images.registry.client import Session
        from engine.images.registry.credentials import Credentials, store

        creds = Credentials(username, password)
        session = Session(registry, "", creds=creds)
        try:
            session.ping()
        finally:
            session.close()
        store(registry, creds)

    def logout(self, registry: str) -> bool:
        from engine.images.registry.credentials import erase

        return erase(registry)

    def save_images(self, refs: list[str], dest: str) -> None:
        """`docker save`: the images to the tar *dest* ("-" for standard output)."""
        from engine.images.save import save

        save(self.images, refs, dest)

    def image_history(self, ref: str) -> list[dict]:
        """Rows of `docker history`, newest first: id, created, created_by, size, comment, tags."""
        from engine.images.history import history

        return history(self.images, ref)

    def prune_images(self, all: bool = False) -> tuple[list[str], int]:
        """Remove dangling images (with *all*, every image) that no container uses.
        Returns (`untagged: ...`/`deleted: ...` lines, bytes reclaimed)."""
        used = {r["image_id"] for r in self.records.all()}
        lines: list[str] = []
        reclaimed = 0
        images = self.images.list()
        for image in images:
            if image.id in used or (image.repo_tags and not all):
                continue
            others = {d for i in images if i.id != image.id for d in i.layers}
            freed = sum(self.images.blobs.size(d) for d in set(image.layers) - others if self.images.blobs.has(d))
            try:
                out = self.images.remove(image.id, force=True)
            except NotFound:
                continue  # removed meanwhile
            images = [i for i in images if i.id != image.id]
            reclaimed += freed
            lines += [line[0].lower() + line[1:] for line in out]
        return lines, reclaimed

    def disk_usage(self) -> list[UsageRow]:
        """`system df` rows (engine.usage.UsageRow): images, containers, local volumes, build cache."""
        from engine.usage import disk_usage

        return disk_usage(self)

    def export_container(self, ref: str, dest: str) -> None:
        """`docker export`: the container's filesystem as a tar at *dest* ("-" for standard output)."""
        from engine.images.export import export

        rec = self.records.find(ref)
        upper = os.path.join(self.paths.container_dir(rec["id"]), "upper")
        export([upper, *self.images.lowerdirs(rec["image_id"])], dest, os.path.join(self.paths.run, "export"))

    def inspect_image(self, ref: str) -> ImageInfo:
        return self.images.get(ref)

    def tag_image(self, src: str, ref: str) -> None:
        self.images.tag(src, ref)

    def remove_image(self, ref: str, force: bool = False) -> list[str]:
        image = self.images.get(ref)
        users = [r["name"] for r in self.records.all() if r["image_id"] == image.id]
        by_id = image.id.startswith(ref) or image.id[7:].startswith(ref)
        untag_only = not by_id and len(image.repo_tags) > 1
        if users and not untag_only:
            # even -f: deleting the layers would pull the root filesystem from under those containers
            raise Conflict(f"unable to remove image {ref}: it is used by container(s) {', '.join(users)}: "
                           "remove them first")
        return self.images.remove(ref, force=force)

    # -- volumes -------------------------------------------------------------------
    def check_volume_driver(self, driver: str) -> None:
        self.volumes.check_driver(driver)

    def create_volume(self, name: str, driver: str = "local", labels: dict[str, str] | None = None,
                      options: dict[str, str] | None = None) -> VolumeInfo:
        info = self.volumes.create(name, driver, labels, options)
        self.stores.events.record("volume", "create", info.name, {"driver": driver, **(labels or {})})
        return info

    def inspect_volume(self, name: str) -> VolumeInfo:
        return self.volumes.get(name)

    def list_volumes(self) -> list[VolumeInfo]:
        return self.volumes.list()

    def volume_users(self) -> dict[str, list[str]]:
        """Volume name -> names of the containers (any state) that mount it."""
        return self.records.volume_users()

    def remove_volume(self, name: str) -> None:
        self.volumes.remove(name, in_use_by=self.volume_users().get(name))
        self.stores.events.record("volume", "destroy", name)

    def snapshot_volume(self, name: str) -> str:
        """Save the volume's current contents; returns the snapshot's id (see engine/volumes/snapshots.py)."""
        from engine.volumes import snapshots

        vol = self.volumes.get(name)
        with file_lock(self.paths.lock("vol-" + name)):
            return snapshots.take(os.path.dirname(vol.mountpoint))

    def restore_volume(self, name: str, snapshot: str) -> None:
        """Put the volume's contents back as they were at *snapshot* (stop its users first)."""
        from engine.volumes import snapshots

        vol = self.volumes.get(name)
        with file_lock(self.paths.lock("vol-" + name)):
            snapshots.restore(os.path.dirname(vol.mountpoint), snapshot)

    def remove_volume_snapshot(self, name: str, snapshot: str) -> None:
        """Free the copy *snapshot* keeps (snapshots otherwise last as long as their volume)."""
        from engine.volumes import snapshots

        vol = self.volumes.get(name)
        with file_lock(self.paths.lock("vol-" + name)):
            snapshots.remove(os.path.dirname(vol.mountpoint), snapshot)

    def prune_volumes(self, all_volumes: bool = False,
                      labels: dict[str, str | None] | None = None) -> list[tuple[str, int]]:
        """Remove the volumes no container uses: anonymous ones only, or all with *all_volumes*
        (Docker 23+). *labels*: only volumes with these labels (a None value: any value).
        Returns each removed volume's name and the bytes its data took."""
        removed = []
        for vol in self.volumes.list():
            if not (all_volumes or vol.anonymous):
                continue
            if labels and any(k not in vol.labels or (v is not None and vol.labels[k] != v)
                              for k, v in labels.items()):
                continue
            size = self.volumes.disk_usage(vol.name)
            try:
                self.remove_volume(vol.name)  # re-checks under the volume's lock
            except (Conflict, NotFound):
                continue
            removed.append((vol.name, size))
        return removed

    # -- networks ------------------------------------------------------------------
    def create_network(self, name: str, labels: dict[str, str] | None = None,
                       config: NetworkConfig | None = None) -> NetworkInfo:
        info = self.networks.create(name, labels or {}, config)
        self.stores.events.record("network", "create", info.id, {"name": name, **(labels or {})})
        return info

    def inspect_network(self, name: str) -> NetworkInfo:
        return self.networks.get(name)

    def list_networks(self) -> list[NetworkInfo]:
        return self.networks.list()

    def remove_network(self, name: str) -> None:
        self.networks.get(name)
        users = [r["name"] for r in self.records.all() if name in r.get("addresses", {})]
        if users:
            raise Conflict(f"network {name} has active endpoints ({', '.join(users)}): remove them first")
        net = self.networks.get(name)
        self.networks.remove(name)
        self.stores.events.record("network", "destroy", net.id, {"name": name, **net.labels})

    # -- events ------------------------------------------------------------------------
    def events(self, since: float | None = None, until: float | None = None,
               follow: bool = False) -> Iterator[dict]:
        """The engine's events (engine/events.py), oldest first; with *follow*, as they happen."""
        return self.stores.events.read(since, until, follow)

    # -- containers --------------------------------------------------------------------
    def inspect_container(self, ref: str) -> ContainerInfo:
        return self.containers.inspect(ref)

    def list_containers(self, labels: dict[str, str] | None = None) -> list[ContainerInfo]:
        """Every container (with *labels*: those that have all of them), oldest first."""
        return self.containers.list(labels)

    def create_container(self, spec: ContainerSpec, layers: list[str] | None = None) -> ContainerInfo:
        """*layers* (diff ids, bottom first, already unpacked): the root filesystem is these layers, not
        an image's, and spec.image is only a name (the builder's RUN steps)."""
        return self.containers.create(spec, layers)

    def prepare_starts(self) -> None:
        """Get ready to start containers soon (the monitors' fork server begins its own start meanwhile)."""
        self.containers.prepare_starts()

    def start_container(self, ref: str, stdio: tuple[int, int, int] | None = None) -> ContainerInfo:
        """Start the container's process under its monitor. With *stdio*, the process uses these
        descriptors (a foreground `run`) instead of writing to the log."""
        return self.containers.start(ref, stdio)

    def start_with_terminal(self, ref: str, size: tuple[int, int] | None = None) -> int:
        """Start the container's process with a pseudo-terminal of the container's own devpts as its
        stdio and controlling terminal (a foreground `run -t`; *size*: rows, columns), instead of the
        log. Returns the pty's master (the caller closes it)."""
        return self.containers.start_with_terminal(ref, size)

    def stop_container(self, ref: str, timeout: float | None = None, signal: str | None = None) -> None:
        self.containers.stop(ref, timeout, signal)

    def kill_container(self, ref: str, signal: str = "SIGKILL") -> None:
        self.containers.kill(ref, signal)

    def pause_container(self, ref: str, paused: bool = True) -> None:
        """Freeze (or with paused=False, thaw) every process of a running container."""
        self.containers.pause(ref, paused)

    def wait_container(self, ref: str) -> int:
        return self.containers.wait(ref)

    def remove_container(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """With *volumes*, also the container's anonymous volumes that no other container uses."""
        self.containers.remove(ref, force, volumes)

    def run_container(self, spec: ContainerSpec, stdout: IO[bytes], stderr: IO[bytes]) -> int:
        """Create, start, stream the output until exit, and (with auto_remove) remove: `docker run`."""
        return self.containers.run(spec, stdout, stderr)

    def connect_network(self, ref: str, attachment: NetworkAttachment) -> ContainerInfo:
        """Attach a container to one more network; a running one gets its interface at once."""
        return self.containers.connect_network(ref, attachment)

    def disconnect_network(self, ref: str, network: str) -> ContainerInfo:
        return self.containers.disconnect_network(ref, network)

    def container_stats(self, ref: str) -> dict:
        """One sample of a running container's resource use (see engine/runtime/stats.py)."""
        return self.containers.stats(ref)

    def container_top(self, ref: str) -> tuple[list[str], list[list[str]]]:
        """The processes of a running container: column titles and rows, like `ps -ef`."""
        return self.containers.top(ref)

    def exec_container(self, ref: str, args: list[str], env: dict[str, str] | None = None, user: str | None = None,
                       workdir: str | None = None, stdin: int | None = None, stdout: int | None = None,
                       stderr: int | None = None, tty: bool = False, privileged: bool = False) -> int:
        """Run *args* in the running container to completion; its exit code."""
        return self.containers.exec(ref, args, env, user, workdir, stdin, stdout, stderr, tty, privileged).wait()

    def exec_process(self, ref: str, args: list[str], env: dict[str, str] | None = None, user: str | None = None,
                     workdir: str | None = None, stdin: int | None = None, stdout: int | None = None,
                     stderr: int | None = None, tty: bool = False, privileged: bool = False,
                     size: tuple[int, int] | None = None) -> ExecProcess:
        """Start *args* in the running container and return its handle (pid, poll, wait, send_signal,
        kill). With *tty*, the process gets a pseudo-terminal of the container's own devpts (*size*:
        rows, columns) as its stdio and controlling terminal, TERM=xterm unless *env* sets TERM (as
        Docker), and the handle's `terminal` is its master (the caller closes it; stdin, stdout and
        stderr are not used). The caller may close its copies of the descriptors afterwards."""
        return self.containers.exec(ref, args, env, user, workdir, stdin, stdout, stderr, tty, privileged, size)

    def attach_stdin(self, ref: str) -> int:
        """A descriptor writing into the stdin of a running container made with stdin_open (the
        caller closes it); a tty container's input goes through its terminal (^C included)."""
        return self.containers.attach_stdin(ref)

    def copy_from_container(self, ref: str, src: str, dest: str) -> None:
        """`docker cp CONTAINER:SRC DEST`: a file or directory of the container (running or not) to the host."""
        self.containers.copy(ref, "from", src, dest)

    def copy_to_container(self, ref: str, src: str, dest: str) -> None:
        """`docker cp SRC CONTAINER:DEST`: a host file or directory into the container (running or not)."""
        self.containers.copy(ref, "to", src, dest)

    def sync_to_container(self, ref: str, files: list[tuple[str, str]], removals: list[str] = ()) -> None:
        """Copy host files into the running container, each (host path, container path), keeping
        their modes, and remove *removals* there, in one pass (`composer watch`'s sync)."""
        self.containers.sync(ref, files, list(removals))

    def logs(self, ref: str, follow: bool = False, tail: int | None = None, since: float | None = None,
             until: float | None = None) -> Iterator[dict]:
        """Log entries {"log", "stream", "time"} within [since, until] (epoch seconds); with *follow*,
        new ones until the container stops for good (restarts by its policy do not end it)."""
        return self.containers.logs(ref, follow, tail, since, until)


def path_patterns(lines: list[str]) -> Ignore:
    """A `.dockerignore`-style matcher over *lines*: `.excluded(relative_path)` is true when the last
    matching pattern (or one matching a parent directory) is not a `!` exception."""
    from engine.images.build.context import Ignore

    return Ignore(lines)


def dockerignore(context_dir: str, dockerfile: str | None = None) -> Ignore:
    """The build context's `.dockerignore` as builds apply it (a `path_patterns` matcher)."""
    from engine.images.build.context import Ignore

    return Ignore.read(context_dir, dockerfile)


__all__ = ["Engine", "EngineError", "NotFound", "Conflict", "InvalidArgument", "ContainerInfo", "ContainerSpec",
           "ImageInfo", "Mount", "NetworkAttachment", "NetworkConfig", "NetworkInfo", "PortBinding", "VolumeInfo",
           "process_args", "path_patterns", "dockerignore"]
