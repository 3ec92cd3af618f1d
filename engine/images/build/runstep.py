"""RUN: the command runs in a container of the engine over the stage's layers; the container's
overlayfs upper dir (what the command changed) becomes the step's layer.

The container is an ordinary one of the engine (named `build-<hex>`, labelled with the building
process), removed as soon as the step's layer is written, whatever happened. If the build itself
dies (kill -9), the next build removes what it left (`sweep`), and `container rm` can too.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable

from engine.images.build import BuildError
from engine.images.build.layerfs import LayerFS, parts_of

BUILD_LABEL = "com.composer.build"  # value: "<pid>:<start time>" of the building process
# mount points the runtime makes in the root filesystem when the image lacks them: not the command's work
PLACEHOLDERS = ("proc", "sys", "dev", "etc/hosts", "etc/hostname", "etc/resolv.conf")


def placeholders(view: LayerFS) -> set[str]:
    """The runtime's mount points absent from the image (so they appear in the upper dir only because
    of the runtime): the layer leaves them out."""
    skip = {p for p in PLACEHOLDERS if view.lstat(p) is None}
    if view.lstat("etc") is None:
        skip.add("etc")
    return skip


def mount_points(view: LayerFS, upper: str, targets: list[str]) -> set[str]:
    """RUN --mount targets (absolute) the image did not have: made in the upper dir only to mount on
    (an empty directory, or an empty file for a secret), the layer leaves them out, and so their
    parents made for them, when nothing else is in those."""
    import stat

    skip: set[str] = set()
    for target in targets:
        parts = parts_of(target)
        if not parts or view.lstat("/".join(parts)) is not None:
            continue
        rel = "/".join(parts)
        host = os.path.join(upper, rel)
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            if os.listdir(host):
                continue
        elif not stat.S_ISREG(st.st_mode) or st.st_size:
            continue
        skip.add(rel)
        while len(parts) > 1:
            parts = parts[:-1]
            parent = "/".join(parts)
            if view.lstat(parent) is not None:
                break
            inside = {f"{parent}/{n}" for n in os.listdir(os.path.join(upper, parent))}
            if not inside <= skip:
                break
            skip.add(parent)
    return skip


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat.rsplit(b")", 1)[1].split()[19].decode()  # field 22, starttime


def _me() -> str:
    return f"{os.getpid()}:{_start_time(os.getpid())}"


def sweep(engine) -> None:
    """Remove RUN containers whose build died (kill -9, a crash): what the next build converges from."""
    from engine.errors import EngineError

    for c in engine.list_containers():
        owner = c.labels.get(BUILD_LABEL)
        if owner is None:
            continue
        pid, _, started = owner.partition(":")
        if pid.isdigit() and _start_time(int(pid)) == started:
            continue  # a build in progress
        try:
            engine.remove_container(c.id, force=True)
        except EngineError:
            pass


def run(engine, diff_ids: list[str], argv: list[str], env: dict[str, str], workdir: str, user: str,
        network: str | None, emit: Callable[[str], None], write_layer: Callable[[str], str],
        mounts: list | None = None) -> str:
    """Run *argv* over the layers *diff_ids* (with *mounts*, RUN --mount's); on success returns
    write_layer(upper dir)."""
    from engine.runtime.launch import StartError, wait_monitor_gone
    from engine.types import ContainerSpec, NetworkAttachment

    spec = ContainerSpec(name=f"build-{secrets.token_hex(6)}", image="", entrypoint=[], command=list(argv),
                         env=dict(env), working_dir=workdir or "/", user=user or "",
                         labels={BUILD_LABEL: _me()}, mounts=list(mounts or []),
                         networks=[NetworkAttachment(network)] if network else [])
    info = engine.create_container(spec, layers=diff_ids)
    try:
        try:
            engine.start_container(info.id)
        except StartError as e:
            raise BuildError(f"{e} (exit code {e.exit_code})") from None
        for entry in engine.logs(info.id, follow=True):
            emit(entry.get("log", "").rstrip("\n"))
        code = engine.wait_container(info.id)
        # the exit is recorded before the monitor has finished cleaning up: let it finish before the
        # container is removed (nothing of the step may outlive it)
        wait_monitor_gone(engine.paths.container_dir(info.id), 30)
        if code != 0:
            shown = " ".join(argv)
            raise BuildError(f'process "{shown}" did not complete successfully: exit code: {code}')
        return write_layer(os.path.join(engine.paths.container_dir(info.id), "upper"))
    finally:
        engine.remove_container(info.id, force=True)
