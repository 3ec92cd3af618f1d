"""`RUN --mount=...`: what a build step sees besides its image, never part of the layer it makes.

- ``type=cache,target=DIR[,id=ID][,sharing=...][,mode=,uid=,gid=]``: a directory kept by the engine
  between builds (per id, by default the target), for package managers' caches;
- ``type=bind[,source=PATH],target=DIR[,rw]``: a file or directory of the build context (as
  `.dockerignore` leaves it), read-only unless ``rw`` (then writes are thrown away after the step);
  symlinks in PATH are followed inside the context only, and the runtime binds it through a descriptor;
- ``type=tmpfs,target=DIR[,size=BYTES]``: an empty tmpfs;
- ``type=secret[,id=ID][,target=FILE][,env=VAR][,required][,mode=,uid=,gid=]``: a secret the build
  was given (``--secret``, a service's ``build.secrets``), as a read-only file (default
  /run/secrets/ID, mode 0400, owned by 0:0) that the engine keeps outside the step's root filesystem
  (engine/volumes/files.py), and/or in the variable VAR of the step's environment (then no file
  unless a target is given too). A secret that was not given is left out, or fails the build with
  ``required``. Its value is never part of the step's cache key.
``from=`` (another stage or image as the source) and ``type=ssh`` are refused with a one-line error.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

from engine.images.build import BuildError
from engine.images.build.copying import file_digest
from engine.images.build.layerfs import parts_of
from engine.types import Mount

TYPES = ("cache", "bind", "tmpfs", "secret")


def parse(spec: str) -> dict[str, str]:
    """The key=value fields of one --mount value (a bare key means true); type defaults to bind."""
    fields: dict[str, str] = {}
    for item in (i.strip() for i in spec.split(",")):
        if not item:
            continue
        key, eq, value = item.partition("=")
        fields[key.strip().lower()] = value.strip() if eq else "true"
    fields.setdefault("type", "bind")
    for alias in ("dst", "destination"):
        if alias in fields:
            fields.setdefault("target", fields.pop(alias))
    if "src" in fields:
        fields.setdefault("source", fields.pop("src"))
    if "ro" in fields:
        fields.setdefault("readonly", fields.pop("ro"))
    return fields


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


class RunMounts:
    """The mounts of one RUN step: made by :meth:`prepare`, undone by :meth:`cleanup`."""

    def __init__(self, specs: list[str], engine_root: str, context, workdir: str,
                 secrets: dict[str, bytes] | None = None):
        self.fields = [parse(s) for s in specs]
        self.root = engine_root
        self.context = context
        self.workdir = workdir or "/"
        self.secrets = secrets or {}
        self._tmp: list[str] = []
        for f in self.fields:
            kind = f["type"]
            if kind == "ssh":
                raise BuildError("RUN --mount=type=ssh is not supported (use a secret mount)")
            if kind not in TYPES:
                raise BuildError(f"RUN --mount: unknown type {kind!r} (use cache, bind, tmpfs or secret)")
            if kind == "secret":
                self._check_secret(f)
                continue
            if not f.get("target"):
                raise BuildError(f"RUN --mount=type={kind}: a target is required")
            if "from" in f:
                raise BuildError("RUN --mount from= another stage or image is not supported: "
                                 "COPY --from what the step needs")

    def _check_secret(self, f: dict[str, str]) -> None:
        ident = f.get("id") or os.path.basename(f.get("target") or "")
        if not ident:
            raise BuildError("RUN --mount=type=secret: an id (or a target) is required")
        f["id"] = ident
        if not f.get("target") and not f.get("env"):
            f["target"] = f"/run/secrets/{ident}"
        for k in ("uid", "gid"):
            if not (f.get(k) or "0").isdigit():
                raise BuildError(f"RUN --mount=type=secret,id={ident}: {k}={f[k]} is not a number")
        try:
            mode = int(f.get("mode") or "0400", 8)
        except ValueError:
            mode = -1
        if not 0 <= mode <= 0o777:
            raise BuildError(f"RUN --mount=type=secret,id={ident}: mode={f.get('mode')} is not an octal mode")
        if _true(f.get("required")) and ident not in self.secrets:
            raise BuildError(f"RUN --mount=type=secret,id={ident}: the secret {ident} is required but was not "
                             f"given (pass --secret id={ident},src=FILE or env=VAR, or build.secrets)")

    def env(self) -> dict[str, str]:
        """The step's variables that secret mounts with env= set (only while the step runs)."""
        out = {}
        for f in self.fields:
            if f["type"] == "secret" and f.get("env") and f["id"] in self.secrets:
                out[f["env"]] = self.secrets[f["id"]].decode(errors="surrogateescape")
        return out

    def digest(self) -> str:
        """What the step's cache key needs of its mounts: their specs, and the content of bound sources
        (a changed file under a bind mount runs the step again; a cache mount's content does not, nor a
        secret's value: Docker's builder does not key on it either)."""
        h = hashlib.sha256()
        for f in self.fields:
            h.update(repr(sorted(f.items())).encode())
            if f["type"] == "bind":
                self._hash_tree(self._source(f), h)
        return h.hexdigest()

    def _hash_tree(self, path: str, h) -> None:
        host = self.context.host_path(path)
        if host is None:
            h.update(b"missing\0")
            return
        if os.path.islink(host):
            h.update(b"link\0" + os.readlink(host).encode() + b"\0")
        elif os.path.isdir(host):
            h.update(f"dir {path}\0".encode())
            for name in self.context.listdir(path):
                self._hash_tree(f"{path.rstrip('/')}/{name}", h)
        else:
            h.update(f"file {path} {os.stat(host).st_mode & 0o7777:o} {file_digest(host)}\0".encode())

    def targets(self) -> list[str]:
        return [self.target(f) for f in self.fields if f.get("target")]

    def target(self, f: dict[str, str]) -> str:
        t = f["target"]
        return t if t.startswith("/") else os.path.join(self.workdir, t)

    def prepare(self) -> list[Mount]:
        try:
            return [self._mount(f) for f in self.fields
                    if f["type"] != "secret" or (f.get("target") and f["id"] in self.secrets)]
        except BaseException:
            self.cleanup()
            raise

    def _mount(self, f: dict[str, str]) -> Mount:
        kind, target = f["type"], self.target(f)
        if kind == "tmpfs":
            size = int(f["size"]) if f.get("size", "").isdigit() else 0
            return Mount("tmpfs", target, tmpfs_size=size)
        if kind == "secret":
            return Mount("file", target, content=self.secrets[f["id"]], file_mode=int(f.get("mode") or "0400", 8),
                         uid=int(f.get("uid") or 0), gid=int(f.get("gid") or 0))
        if kind == "cache":
            key = hashlib.sha256((f.get("id") or target).encode()).hexdigest()[:32]
            path = os.path.join(cache_root(self.root), key)
            if not os.path.isdir(path):
                os.makedirs(path, exist_ok=True)
                os.chmod(path, int(f.get("mode") or "755", 8))
                os.chown(path, int(f.get("uid") or 0), int(f.get("gid") or 0))
            return Mount("bind", target, source=path)
        return self._bind(f, target)

    def _source(self, f: dict[str, str]) -> str:
        """The bind source's path in the context, with the symlinks on the way followed inside the
        context and never out of it, as BuildKit resolves it: an absolute link starts again at the
        context's root, `..` stops there (`ln -s /etc linkdir` names the context's etc, not the host's)."""
        source = f.get("source") or "."
        if source.startswith("..") or "/../" in f"/{source}/":
            raise BuildError(f"RUN --mount source {source}: outside the build context")
        try:
            return self.context.resolve("/" + source)
        except OSError as e:
            raise BuildError(f"RUN --mount source {source}: {e.strerror or e}") from None

    def _bind(self, f: dict[str, str], target: str) -> Mount:
        source = f.get("source") or "."
        path = self._source(f)
        host = self.context.host_path(path)
        if host is None:
            lexical = "/" + "/".join(parts_of(source))
            via = f" (its symlinks lead to {path}, taken inside the context)" if path != lexical else ""
            raise BuildError(f"RUN --mount source {source}: no such file or directory in the build context{via} "
                             "(or excluded by .dockerignore)")
        writable = _true(f.get("rw")) or _true(f.get("readwrite")) or f.get("readonly", "true").lower() == "false"
        root = self.context.root
        if writable or self.context.ignore.rules:
            host = self._copy(path.lstrip("/"), host)  # writes go to a copy; ignored files stay out
            root = os.path.dirname(host)
        # the runtime opens the source inside *root* again (openat2 RESOLVE_IN_ROOT) and binds that descriptor
        return Mount("bind", target, source=host, read_only=not writable, source_root=root)

    def _copy(self, rel: str, host: str) -> str:
        base = tempfile.mkdtemp(prefix="run-mount-", dir=_ensure(os.path.join(self.root, "build", "tmp")))
        self._tmp.append(base)
        dest = os.path.join(base, "src")
        if not os.path.isdir(host) or os.path.islink(host):
            shutil.copy2(host, dest, follow_symlinks=False)
            return dest
        os.mkdir(dest)
        shutil.copystat(host, dest)
        self._copy_tree("/" + rel if rel else "/", dest)
        return dest

    def _copy_tree(self, path: str, dest: str) -> None:
        for name in self.context.listdir(path):
            child = f"{path.rstrip('/')}/{name}"
            host = self.context.host_path(child)
            out = os.path.join(dest, name)
            if os.path.isdir(host) and not os.path.islink(host):
                os.mkdir(out)
                shutil.copystat(host, out)
                self._copy_tree(child, out)
            else:
                shutil.copy2(host, out, follow_symlinks=False)

    def cleanup(self) -> None:
        for path in self._tmp:
            shutil.rmtree(path, ignore_errors=True)
        self._tmp.clear()


def cache_root(engine_root: str) -> str:
    return os.path.join(engine_root, "build", "run-cache")


def prune_caches(engine_root: str) -> tuple[int, int]:
    """Remove every RUN cache mount's directory: (how many, bytes freed)."""
    base = cache_root(engine_root)
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return 0, 0
    freed = 0
    for name in names:
        path = os.path.join(base, name)
        for dirpath, _, files in os.walk(path):
            for f in files:
                try:
                    freed += os.lstat(os.path.join(dirpath, f)).st_size
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)
    return len(names), freed


def _ensure(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path
