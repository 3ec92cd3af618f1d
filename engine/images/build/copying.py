"""COPY and ADD: from instruction arguments to the entries of a layer.

`plan` works out every entry (sources matched, destinations resolved inside the image, owners and
modes decided) and a digest of everything that decides the layer's content, so the cache can be
asked before anything is written; `write` then writes the entries.

Sources come from a tree (the build context, or another stage's / image's layers): `*`, `?` and
`[...]` match within one path component; a directory's contents are copied; a named symlink is
followed inside its tree, symlinks found inside directories are copied as they are. Context files
become root-owned unless --chown says otherwise; files from --from keep their owners. ADD extracts
local tar archives (plain, gzip, bzip2, xz, zstd) into the destination, and downloads an http(s)
URL source as one file (not extracted; mode 0600 unless --chmod), as Docker does.
"""
from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from dataclasses import dataclass, field

from engine.images.build import BuildError
from engine.images.build.context import glob_regex
from engine.images.build.layerfs import LayerFS, parts_of
from engine.images.build.layertar import WHITEOUT, LayerWriter

GLOB_CHARS = frozenset("*?[")


@dataclass
class Entry:
    kind: str  # "path" (a tree entry), "bytes" (heredoc), "tar" (ADD extraction), "dir" (made parent)
    dest: str  # relative to the image root
    host: str = ""
    data: bytes = b""
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    mtime: float = 0


@dataclass
class Plan:
    entries: list[Entry] = field(default_factory=list)
    digest: str = ""


def _ids(spec: str, image: LayerFS) -> tuple[int, int]:
    """uid and gid of a --chown value (names looked up in the image's /etc/passwd and /etc/group)."""
    user, _, group = spec.partition(":")

    def lookup(name: str, db: str, what: str) -> int:
        if name.isdigit():
            return int(name)
        text = (image.read(db) or b"").decode(errors="replace")
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
                return int(fields[2])
        raise BuildError(f"--chown={spec}: no {what} {name!r} in the image's {db}")

    uid = lookup(user, "/etc/passwd", "user")
    gid = lookup(group, "/etc/group", "group") if group else uid
    return uid, gid


def _is_archive(host: str) -> bool:
    from engine.snapshots.compression import DECOMPRESS_ERRORS, decompressed

    try:
        with open(host, "rb") as f, decompressed(f) as plain:
            head = plain.read(512)
    except (*DECOMPRESS_ERRORS, ValueError):
        return False
    return len(head) == 512 and head[257:262] == b"ustar"


def _matches(tree: LayerFS, pattern: str) -> list[str]:
    """Paths (absolute in the tree) matching a source pattern."""
    found = ["/"]
    for part in parts_of(pattern):
        nxt = []
        for base in found:
            if GLOB_CHARS & set(part):
                rx = glob_regex(part)
                try:
                    names = tree.listdir(tree.resolve(base))
                except OSError:
                    continue
                nxt += [os.path.join(base, n) for n in names if rx.match(n)]
            else:
                nxt.append(os.path.join(base, part))
        found = nxt
    return found


def plan(srcs: list[str], dest: str, *, tree: LayerFS, image: LayerFS, workdir: str, add: bool,
         chown: str | None, chmod: str | None, from_context: bool, heredocs: dict[str, bytes],
         what: str) -> Plan:
    if not srcs:
        raise BuildError("needs a source and a destination")
    mode = None
    if chmod:
        try:
            mode = int(chmod, 8)
        except ValueError:
            raise BuildError(f"--chmod={chmod}: give an octal mode like 755") from None
    uid, gid = _ids(chown, image) if chown else (0, 0) if from_context else (None, None)
    if not dest.startswith("/"):
        dest = os.path.join(workdir or "/", dest)
    many = len(srcs) > 1 or any(GLOB_CHARS & set(s) for s in srcs)
    dest_dir_form = dest.endswith("/") or dest.endswith("/.") or many
    resolved = image.resolve(dest)
    st = image.lstat(resolved)
    if st is not None and stat.S_ISDIR(st.st_mode):
        dest_dir_form = True
    out = Plan()
    made: set[str] = set()
    h = hashlib.sha256()

    def parents(path: str) -> None:
        out.entries.extend(_dirs(image, parts_of(path)[:-1], made, uid or 0, gid or 0))

    def add_entry(entry: Entry, digest_of: str) -> None:
        parents("/" + entry.dest)
        made.add(entry.dest)
        out.entries.append(entry)
        h.update(f"{entry.kind}\0{entry.dest}\0{entry.mode}\0{entry.uid}\0{entry.gid}\0{digest_of}\n".encode())

    def target(name: str) -> str:
        if dest_dir_form:
            return "/".join(parts_of(image.resolve(resolved) + "/" + name))
        return "/".join(parts_of(resolved))

    def add_tree(src_path: str, dest_rel: str) -> None:
        host = tree.host_path(src_path)
        st = os.lstat(host)
        if stat.S_ISDIR(st.st_mode):
            if dest_rel and dest_rel not in made:
                existing = image.host_path(dest_rel)
                add_entry(Entry("path", dest_rel, existing or host, mode=None if existing else mode,
                                uid=None if existing else uid, gid=None if existing else gid),
                          "dir" if existing else f"dir {st.st_mode:o} {st.st_uid} {st.st_gid}")
            for name in tree.listdir(src_path):
                add_tree(f"{src_path.rstrip('/')}/{name}", f"{dest_rel}/{name}" if dest_rel else name)
            return
        if stat.S_ISREG(st.st_mode):
            digest = file_digest(host)
        elif stat.S_ISLNK(st.st_mode):
            digest = "link " + os.readlink(host)
        else:
            digest = f"special {st.st_mode:o} {st.st_rdev}"
        if not from_context:
            digest += f" {st.st_uid} {st.st_gid}"
        add_entry(Entry("path", dest_rel, host, mode=None if mode is None else mode, uid=uid, gid=gid),
                  f"{digest} {st.st_mode & 0o7777:o}")

    for src in srcs:
        if src.startswith("<<"):
            name = src[2:].lstrip("-").strip("\"'")
            if name not in heredocs:
                raise BuildError(f"no heredoc named {name}")
            data = heredocs[name]
            add_entry(Entry("bytes", target(name), data=data, mode=0o644 if mode is None else mode,
                            uid=uid or 0, gid=gid or 0), hashlib.sha256(data).hexdigest())
            continue
        if src.startswith(("http://", "https://")):
            if not add:
                raise BuildError(f"{src}: COPY cannot take a URL as its source: use ADD")
            data, name = download(src)
            # as Docker: the file, not extracted, mode 0600 unless --chmod, named after the URL's path
            if dest_dir_form and not name:
                raise BuildError(f"{src}: cannot tell a file name from the URL: give a destination file path")
            add_entry(Entry("bytes", target(name), data=data, mode=0o600 if mode is None else mode,
                            uid=uid or 0, gid=gid or 0), "url " + hashlib.sha256(data).hexdigest())
            continue
        raw_parts = [p for p in src.split("/") if p not in ("", ".")]
        depth = 0
        for p in raw_parts:
            depth += -1 if p == ".." else 1
            if depth < 0:
                raise BuildError(f"{src}: forbidden path outside the build context")
        matches = _matches(tree, src) if GLOB_CHARS & set(src) else ["/" + "/".join(parts_of(src))]
        found = False
        for m in matches:
            path = tree.resolve(m)
            host = tree.host_path(path)
            if host is None:
                continue
            found = True
            st = os.lstat(host)
            if stat.S_ISDIR(st.st_mode):
                if not dest_dir_form:
                    dest_dir_form = True  # a directory's contents go into the destination
                add_tree(path, "/".join(parts_of(image.resolve(resolved))))
            elif add and _is_archive(host):
                dest_rel = "/".join(parts_of(image.resolve(resolved)))
                out.entries.extend(_dirs(image, parts_of(dest_rel), made))
                add_entry(Entry("tar", dest_rel, host), "tar " + file_digest(host))
            else:
                base = os.path.basename(m.rstrip("/")) or os.path.basename(path)
                add_tree(path, target(base))
        if not found:
            where = "the build context (or excluded by .dockerignore)" if from_context else "the source stage"
            raise BuildError(f"{src}: no such file or directory in {where}")
    out.digest = h.hexdigest()
    return out


URL_TIMEOUT = 60.0
MAX_DOWNLOAD = 1 << 30


def download(url: str) -> tuple[bytes, str]:
    """The content behind *url* and the last part of its path (the file name ADD gives it)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rstrip("/").rpartition("/")[2])
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "composer"}),
                                    timeout=URL_TIMEOUT) as r:
            chunks, size = [], 0
            while size <= MAX_DOWNLOAD and (chunk := r.read(1 << 20)):
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
    except urllib.error.HTTPError as e:
        raise BuildError(f"{url}: the server answered {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise BuildError(f"{url}: cannot download it: {reason}") from None
    if len(data) > MAX_DOWNLOAD:
        raise BuildError(f"{url}: larger than {MAX_DOWNLOAD >> 20} MiB: download it into the build context")
    return data, name


def _dirs(image: LayerFS, parts: list[str], made: set[str], uid: int = 0, gid: int = 0) -> list[Entry]:
    """Entries for the directories *parts* leads through (not yet in *made*), keeping what the image
    has there: a layer must not hide a directory's owner and mode with a default."""
    out = []
    for k in range(1, len(parts) + 1):
        p = "/".join(parts[:k])
        if p in made:
            continue
        made.add(p)
        host = image.host_path(p)
        if host is not None and os.path.isdir(host) and not os.path.islink(host):
            out.append(Entry("path", p, host))
        else:
            out.append(Entry("dir", p, mode=0o755, uid=uid, gid=gid))
    return out


def mkdir_plan(path: str, image: LayerFS) -> Plan:
    """The layer that makes directory *path* (WORKDIR of a missing directory)."""
    return Plan(_dirs(image, parts_of(image.resolve(path)), set()))


def file_digest(host: str) -> str:
    h = hashlib.sha256()
    with open(host, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write(p: Plan, w: LayerWriter) -> None:
    for e in p.entries:
        if e.kind == "dir":
            w.add_dir(e.dest, e.mode or 0o755, e.uid or 0, e.gid or 0)
        elif e.kind == "path":
            if e.dest not in w.names:
                w.add_path(e.dest, e.host, e.uid, e.gid, e.mode)
        elif e.kind == "bytes":
            w.add_bytes(e.dest, e.data, e.mode or 0o644, e.uid or 0, e.gid or 0)
        elif e.kind == "tar":
            _extract(e.host, e.dest, w)


def _extract(host: str, dest: str, w: LayerWriter) -> None:
    from engine.snapshots.compression import decompressed
    from engine.snapshots.unpack import clean_name

    prefix = dest + "/" if dest else ""
    try:
        with open(host, "rb") as f, decompressed(f) as plain, tarfile.open(fileobj=plain, mode="r|") as tar:
            for m in tar:
                name = clean_name(m.name)
                if not name or os.path.basename(name).startswith(WHITEOUT):
                    continue
                m.name = prefix + name
                if m.islnk():
                    m.linkname = prefix + clean_name(m.linkname)
                w.add_member(m, tar.extractfile(m) if m.isreg() else None)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise BuildError(f"{os.path.basename(host)}: cannot extract the archive: {e}") from None
