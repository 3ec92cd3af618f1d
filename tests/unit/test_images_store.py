"""The image store on a real engine root: import, load, lookup, tag/rm, sharing, collection, concurrency."""
from __future__ import annotations

import gzip
import io
import json
import multiprocessing
import os
import stat
import subprocess
import sys
import tarfile

import pytest

from engine.errors import Conflict, InvalidArgument, NotFound
from engine.images.config import host_architecture
from engine.images.store import ImageStore
from engine.paths import Paths
from engine.snapshots.store import chain_ids
from tests.support.archives import docker_save, docker_save_images, layer, oci_layout

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = layer([("etc", "dir", None), ("etc/os-release", "file", "base\n"), ("bin", "dir", None),
              ("bin/tool", "file", "v1\n"), ("data", "dir", None), ("data/old", "file", "old\n")])
TOP = layer([("bin/tool", "file", "v2\n"), ("etc/os-release", "whiteout", None), ("data", "opaque", None),
             ("data/new", "file", "new\n")])
OTHER = layer([("other", "file", "o\n")])


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "root")


@pytest.fixture
def store(root):
    return ImageStore(Paths.open(root))


def _read(path) -> str:
    with open(path) as f:
        return f.read()


def _everything(store: ImageStore) -> tuple[list, list, list]:
    def ls(d):
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    return ls(store.blobs.dir), ls(store.snapshots.dir), [n for n in ls(store.dir) if n != "tags.json"]


# -- import ----------------------------------------------------------------------------------

def test_import_with_changes(store, tmp_path):
    src = tmp_path / "rootfs.tar.gz"
    src.write_bytes(gzip.compress(BASE))
    info = store.import_tarball(str(src), "example/app:1", ["ENV A=1", "ENV B two", "CMD [\"sh\", \"-c\", \"x\"]",
                                                           "ENTRYPOINT [\"/init\"]", "WORKDIR /w", "USER 1000",
                                                           "LABEL k=v", "EXPOSE 8080"])
    assert info.repo_tags == ["example/app:1"]
    assert info.layers == ["sha256:" + __import__("hashlib").sha256(BASE).hexdigest()]  # diff id: uncompressed
    assert info.config == {"Env": ["A=1", "B=two"], "Cmd": ["sh", "-c", "x"], "Entrypoint": ["/init"],
                           "WorkingDir": "/w", "User": "1000", "Labels": {"k": "v"}, "ExposedPorts": {"8080/tcp": {}}}
    raw = store.blobs.read(info.id)
    assert info.id == "sha256:" + __import__("hashlib").sha256(raw).hexdigest()
    doc = json.loads(raw)
    assert doc["architecture"] == host_architecture() and doc["os"] == "linux"
    assert doc["rootfs"] == {"type": "layers", "diff_ids": info.layers}
    assert info.size == len(BASE) and info.created == doc["created"]
    (lower,) = store.lowerdirs(info.id)
    assert _read(os.path.join(lower, "bin/tool")) == "v1\n"
    assert store.get("example/app:1") == store.get(info.id) == store.get(info.id[7:11])


def test_import_without_changes_sets_no_config(store, tmp_path):
    src = tmp_path / "rootfs.tar"
    src.write_bytes(BASE)
    info = store.import_tarball(str(src), None)
    assert info.config == {} and info.repo_tags == []


def test_import_from_stdin(store, tmp_path, monkeypatch):
    class Stdin:
        buffer = io.BytesIO(gzip.compress(BASE))

    monkeypatch.setattr(sys, "stdin", Stdin)
    info = store.import_tarball("-", "fromstdin")
    assert info.repo_tags == ["fromstdin:latest"]


def test_import_refuses_bad_input_and_keeps_nothing(store, tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"this is no tarball" * 100)
    with pytest.raises(InvalidArgument, match="not a tar"):
        store.import_tarball(str(junk), "x")
    with pytest.raises(InvalidArgument):
        store.import_tarball(str(tmp_path / "missing.tar"), "x")
    good = tmp_path / "ok.tar"
    good.write_bytes(BASE)
    with pytest.raises(InvalidArgument):
        store.import_tarball(str(good), "Bad:Ref")
    with pytest.raises(InvalidArgument):
        store.import_tarball(str(good), "x", ["RUN rm -rf /"])
    assert _everything(store) == ([], [], [])


def test_busybox_rootfs_image_is_usable(store, tmp_path):
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    try:
        import busybox_rootfs
    finally:
        sys.path.pop(0)
    out = str(tmp_path / "bb.tar")
    busybox_rootfs.build(out, {"srv/www/index.html": "hi\n"})
    info = store.import_tarball(out, "composer/busybox")
    (lower,) = store.lowerdirs(info.id)
    st = os.stat(os.path.join(lower, "bin/busybox"))
    assert stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == 0
    assert os.readlink(os.path.join(lower, "bin/sh")) == "/bin/busybox"
    assert stat.S_IMODE(os.stat(os.path.join(lower, "tmp")).st_mode) == 0o1777
    assert "nobody:x:65534:65534" in _read(os.path.join(lower, "etc/passwd"))
    assert _read(os.path.join(lower, "srv/www/index.html")) == "hi\n"
    for d in ("proc", "sys", "dev", "root", "var"):
        assert os.path.isdir(os.path.join(lower, d))
    # it runs: chroot into the snapshot and ask busybox's sh for something
    out = subprocess.run(["chroot", lower, "/bin/sh", "-c", "echo $((6*7))"], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "42"
    # reproducible: building again gives the same layer, so the same snapshot
    busybox_rootfs.build(str(tmp_path / "bb2.tar"), {"srv/www/index.html": "hi\n"})
    assert store.import_tarball(str(tmp_path / "bb2.tar"), "again").layers == info.layers


# -- load --------------------------------------------------------------------------------------

def test_load_docker_save(store, tmp_path):
    path = str(tmp_path / "img.tar")
    image_id = docker_save(path, [BASE, TOP], ["example/app:1.0", "docker.io/library/plain"], gzip_layers=True)
    assert store.load_archive(path) == ["Loaded image: example/app:1.0", "Loaded image: plain:latest"]
    info = store.get("plain")
    assert info.id == image_id and info.repo_tags == ["example/app:1.0", "plain:latest"]
    assert info.size == len(BASE) + len(TOP)
    top, bottom = store.lowerdirs(image_id)
    assert _read(os.path.join(bottom, "bin/tool")) == "v1\n"
    assert _read(os.path.join(top, "bin/tool")) == "v2\n"
    assert top == store.snapshots.fs(chain_ids(info.layers)[1])
    # loading again is a no-op
    assert store.load_archive(path) == ["Loaded image: example/app:1.0", "Loaded image: plain:latest"]
    assert len(store.list()) == 1


def test_load_several_images_sharing_a_linked_layer(store, tmp_path):
    path = str(tmp_path / "multi.tar")
    id1, id2 = docker_save_images(path, [([BASE], ["one:1"]), ([BASE, TOP], [])])
    assert store.load_archive(path) == ["Loaded image: one:1", f"Loaded image ID: {id2}"]
    assert store.lowerdirs(id1)[0] == store.lowerdirs(id2)[1]
    assert len(os.listdir(store.snapshots.dir)) == 2


def test_load_oci_layout(store, tmp_path):
    path = str(tmp_path / "oci.tar")
    image_id = oci_layout(path, [BASE, TOP], "localhost:5000/team/app:2")
    assert store.load_archive(path) == ["Loaded image: localhost:5000/team/app:2"]
    assert store.get("localhost:5000/team/app:2").id == image_id


def test_load_oci_ref_name_annotation(store, tmp_path):
    full, bare = str(tmp_path / "full.tar"), str(tmp_path / "bare.tar")
    oci_layout(full, [BASE], "docker.io/library/busybox:1.36", annotation="org.opencontainers.image.ref.name")
    assert store.load_archive(full) == ["Loaded image: busybox:1.36"]
    image_id = oci_layout(bare, [OTHER], "latest", annotation="org.opencontainers.image.ref.name")
    assert store.load_archive(bare) == [f"Loaded image ID: {image_id}"]


def test_load_oci_multi_platform_picks_the_host(store, tmp_path):
    path = str(tmp_path / "multi.tar")
    archs = ["s390x", host_architecture(), "riscv64"] if host_architecture() not in ("s390x", "riscv64") else \
        ["ppc64le", host_architecture()]
    image_id = oci_layout(path, [BASE], "multi:1", platforms=archs)
    assert store.load_archive(path) == ["Loaded image: multi:1"]
    assert store.get("multi:1").id == image_id
    assert len(store.list()) == 1


def _rewrite(path: str, edit) -> None:
    with tarfile.open(path) as t:
        members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
    with tarfile.open(path, "w") as t:
        for m, data in members:
            data = edit(m.name, data)
            if data is None and m.isfile():
                continue
            if data is not None:
                m.size = len(data)
            t.addfile(m, io.BytesIO(data) if data is not None else None)


@pytest.mark.parametrize("damage", ["tampered-second-layer", "missing-layer", "bad-manifest", "bad-config",
                                    "bad-tag", "not-a-tar", "oci-tampered-config"])
def test_bad_archives_store_nothing(store, tmp_path, damage):
    path = str(tmp_path / "img.tar")
    if damage == "oci-tampered-config":
        oci_layout(path, [BASE, TOP], "x:1")
        _rewrite(path, lambda n, d: d.replace(b'"Cmd"', b'"Cmx"') if d and b'"rootfs"' in d else d)
    elif damage == "not-a-tar":
        with open(path, "wb") as f:
            f.write(b"\x1f\x8b" + os.urandom(200))
    else:
        docker_save_images(path, [([OTHER], ["good:1"]), ([BASE, TOP], ["x:1"])])
        top = __import__("hashlib").sha256(TOP).hexdigest()
        if damage == "tampered-second-layer":
            _rewrite(path, lambda n, d: d.replace(b"v2\n", b"v9\n") if n.startswith(top) else d)
        elif damage == "missing-layer":
            _rewrite(path, lambda n, d: None if n.startswith(top) else d)
        elif damage == "bad-manifest":
            _rewrite(path, lambda n, d: b"[{\"Config\": 7}]" if n == "manifest.json" else d)
        elif damage == "bad-config":
            _rewrite(path, lambda n, d: b"{\"rootfs\": 1}" if n.endswith(".json") and n != "manifest.json" else d)
        elif damage == "bad-tag":
            _rewrite(path, lambda n, d: d.replace(b"x:1", b"X:1") if n == "manifest.json" else d)
    with pytest.raises(InvalidArgument):
        store.load_archive(path)
    assert store.list() == []
    assert _everything(store) == ([], [], [])


# -- lookup, tag, rm ---------------------------------------------------------------------------

def _load(store, tmp_path, layers, tags, name="a.tar") -> str:
    path = str(tmp_path / name)
    image_id = docker_save(path, layers, tags)
    store.load_archive(path)
    return image_id


def test_lookup_by_name_id_and_prefix(store, tmp_path):
    image_id = _load(store, tmp_path, [BASE], ["busybox:latest"])
    for ref in ("busybox", "busybox:latest", "docker.io/library/busybox:latest", image_id, image_id[7:],
                image_id[7:11], "sha256:" + image_id[7:19]):
        assert store.get(ref).id == image_id, ref
    for ref in ("busybox:other", image_id[7:10], "nothere", "sha256:" + "f" * 64, "UPPER"):
        with pytest.raises(NotFound, match="no such image"):
            store.get(ref)


def test_a_name_wins_over_an_id_prefix(store, tmp_path):
    id_a = _load(store, tmp_path, [BASE], ["a:1"], "a.tar")
    id_b = _load(store, tmp_path, [OTHER], [], "b.tar")
    prefix = id_b[7:13]
    store.tag(id_a, prefix)  # a repository named like b's id prefix
    assert store.get(prefix).id == id_a
    assert store.get(prefix + ":latest").id == id_a
    assert store.get("sha256:" + prefix).id == id_b


def test_ambiguous_prefix(store, tmp_path):
    ids = [_load(store, tmp_path, [layer([("f", "file", str(i))])], [], f"{i}.tar") for i in range(40)]
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if a[7:11] == b[7:11]:
                with pytest.raises(Conflict):
                    store.get(a[7:11])
                return
    # no clash among 40 ids at 4 digits is likely: then the prefix of 4 is unique
    assert store.get(ids[0][7:11]).id == ids[0]


def test_tag_and_rm_semantics(store, tmp_path):
    id_a = _load(store, tmp_path, [BASE], ["one:latest"], "a.tar")
    id_b = _load(store, tmp_path, [BASE, TOP], ["two:latest"], "b.tar")
    shared = store.lowerdirs(id_a)[0]
    assert shared == store.lowerdirs(id_b)[1]
    store.tag("one", "alias:1")
    store.tag("one", "localhost:5000/one")
    assert store.get(id_a).repo_tags == ["alias:1", "localhost:5000/one:latest", "one:latest"]
    assert store.remove("alias:1") == ["Untagged: alias:1"]
    with pytest.raises(Conflict, match="must be forced"):
        store.remove(id_a[7:19])
    assert store.remove("two") == ["Untagged: two:latest", f"Deleted: {id_b}"]
    assert os.path.isdir(shared)  # still used by "one"
    assert len(os.listdir(store.snapshots.dir)) == 1
    assert store.remove(id_a[7:19], force=True) == ["Untagged: localhost:5000/one:latest", "Untagged: one:latest",
                                                    f"Deleted: {id_a}"]
    assert _everything(store) == ([], [], [])
    with pytest.raises(NotFound):
        store.remove("one")


def test_rm_last_tag_deletes_and_retag_moves(store, tmp_path):
    id_a = _load(store, tmp_path, [BASE], ["app:1"], "a.tar")
    id_b = _load(store, tmp_path, [OTHER], ["app:2"], "b.tar")
    store.tag("app:2", "app:1")  # the tag moves; the old image stays, untagged
    assert store.get("app:1").id == id_b and store.get(id_a).repo_tags == []
    assert store.remove(id_a) == [f"Deleted: {id_a}"]
    assert store.remove("app:1") == ["Untagged: app:1"]
    assert store.remove("app:2") == ["Untagged: app:2", f"Deleted: {id_b}"]
    assert store.list() == []


def test_list_newest_first(store, tmp_path):
    old = docker_save(str(tmp_path / "o.tar"), [BASE], ["old:1"], created="2020-01-01T00:00:00Z")
    new = docker_save(str(tmp_path / "n.tar"), [OTHER], ["new:1"], created="2024-06-01T00:00:00Z")
    store.load_archive(str(tmp_path / "o.tar"))
    store.load_archive(str(tmp_path / "n.tar"))
    assert [i.id for i in store.list()] == [new, old]


# -- crashes and concurrency ------------------------------------------------------------------

def test_gc_removes_crash_leftovers_and_lowerdirs_heals(store, tmp_path):
    image_id = _load(store, tmp_path, [BASE, TOP], ["x:1"])
    os.makedirs(os.path.join(store.snapshots.dir, "abc.tmp-1-2/fs"))
    with open(os.path.join(store.blobs.dir, ".tmp-1-2"), "wb"):
        pass
    orphan = store.blobs.put_bytes(b"orphan")
    assert store.gc()
    blobs, snaps, _ = _everything(store)
    assert orphan[7:] not in blobs and not any(".tmp-" in n for n in blobs + snaps) and len(snaps) == 2
    # a snapshot lost behind our back is unpacked again from its blob
    top = store.lowerdirs(image_id)[0]
    import shutil

    shutil.rmtree(os.path.dirname(top))
    assert store.lowerdirs(image_id)[0] == top and os.path.isfile(os.path.join(top, "bin/tool"))


def _import_many(root: str, src: str, n: int, tag: str) -> None:
    """Imports n images, each with a layer of its own (so only the GC lock protects it while it is added)."""
    store = ImageStore(Paths.open(root))
    for i in range(n):
        own = f"{src}.{tag}{i}"
        with open(own, "wb") as f:
            f.write(layer([("big", "file", os.urandom(1 << 20)), ("id", "file", f"{tag}{i}")]))
        store.import_tarball(own, f"{tag}:{i}", [f"ENV I={i}"])


def _remove_many(root: str, n: int, tag: str) -> None:
    import time

    store = ImageStore(Paths.open(root))
    deadline = time.monotonic() + 30
    for i in range(n):
        while True:
            try:
                store.remove(f"{tag}:{i}")
                break
            except NotFound:
                if time.monotonic() > deadline:
                    raise


def test_concurrent_imports_and_removals(store, root, tmp_path):
    src = str(tmp_path / "base.tar")
    with open(src, "wb") as f:
        f.write(BASE)
    keep = store.import_tarball(src, "keep")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_import_many, args=(root, src, 8, "a")),
             ctx.Process(target=_import_many, args=(root, src, 8, "b")),
             ctx.Process(target=_remove_many, args=(root, 8, "a"))]
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0, 0, 0]
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    tags = sorted(t for i in store.list() for t in i.repo_tags)
    assert tags == sorted(["keep:latest"] + [f"b:{i}" for i in range(8)])
    (lower,) = store.lowerdirs(keep.id)
    assert _read(os.path.join(lower, "bin/tool")) == "v1\n"  # the shared snapshot survived
    for info in store.list():
        assert store.blobs.has(info.id) and all(store.blobs.has(d) for d in info.layers)
        if info.repo_tags[0].startswith("b:"):
            assert _read(os.path.join(store.lowerdirs(info.id)[0], "id")) == info.repo_tags[0].replace(":", "")
    assert len(os.listdir(store.snapshots.dir)) == 1 + 8


def test_lowerdirs_mount_as_overlayfs_with_whiteouts(store, tmp_path):
    image_id = _load(store, tmp_path, [BASE, TOP], ["x:1"])
    lowers = store.lowerdirs(image_id)
    assert all(os.path.isabs(d) for d in lowers)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + ":".join(lowers), str(mnt)], check=True)
    try:
        assert _read(mnt / "bin/tool") == "v2\n"  # the top layer wins
        assert not os.path.lexists(mnt / "etc/os-release")  # whited out
        assert sorted(os.listdir(mnt / "data")) == ["new"]  # opaque: the lower data/old is hidden
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_load_from_stdin(store, tmp_path, monkeypatch):
    path = str(tmp_path / "img.tar")
    image_id = docker_save(path, [BASE], [])

    class Stdin:
        buffer = open(path, "rb")  # noqa: SIM115 - closed below

    monkeypatch.setattr(sys, "stdin", Stdin)
    try:
        assert store.load_archive("-") == [f"Loaded image ID: {image_id}"]
    finally:
        Stdin.buffer.close()
    assert not [n for n in os.listdir(store.blobs.dir) if n.startswith(".")]  # the spooled copy is gone


def test_import_of_a_damaged_gzip_stores_nothing(store, tmp_path):
    data = gzip.compress(layer([("f", "file", os.urandom(1 << 16))]))
    src = tmp_path / "bad.tar.gz"
    src.write_bytes(data[:40] + bytes(b ^ 0x55 for b in data[40:200]) + data[200:])
    with pytest.raises(InvalidArgument):
        store.import_tarball(str(src), "x")
    assert _everything(store) == ([], [], [])


def test_load_of_a_damaged_compressed_archive_stores_nothing(store, tmp_path):
    path = tmp_path / "img.tar"
    docker_save(str(path), [layer([("f", "file", os.urandom(1 << 16))])], ["x:1"])
    data = gzip.compress(path.read_bytes())
    path.write_bytes(data[:40] + bytes(b ^ 0x55 for b in data[40:400]) + data[400:])
    with pytest.raises(InvalidArgument):
        store.load_archive(str(path))
    assert _everything(store) == ([], [], [])
