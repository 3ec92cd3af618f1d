"""The image store against a real engine root: load, tag/rm semantics, layer sharing, safe unpacking."""
from __future__ import annotations

import os
import stat

import pytest

from engine.errors import Conflict, InvalidArgument, NotFound
from engine.images.store import ImageStore
from engine.paths import Paths
from engine.snapshots.unpack import unpack
from tests.support.archives import docker_save, layer, oci_layout

BASE = layer([("etc", "dir", None), ("etc/os-release", "file", "base\n"), ("bin", "dir", None),
              ("bin/tool", "file", "v1\n"), ("data", "dir", None), ("data/old", "file", "old\n")])
TOP = layer([("bin/tool", "file", "v2\n"), ("etc/os-release", "whiteout", None), ("data", "opaque", None),
             ("data/new", "file", "new\n")])


@pytest.fixture
def store(tmp_path):
    return ImageStore(Paths.open(str(tmp_path / "root")))


def test_load_docker_save_archive(store, tmp_path):
    path = str(tmp_path / "img.tar")
    image_id = docker_save(path, [BASE, TOP], ["example/app:1.0", "docker.io/library/plain"], gzip_layers=True)
    lines = store.load_archive(path)
    assert lines == ["Loaded image: example/app:1.0", "Loaded image: plain:latest"]
    info = store.get("example/app:1.0")
    assert info.id == image_id
    assert info.repo_tags == ["example/app:1.0", "plain:latest"]
    assert store.get("plain").id == image_id
    assert store.get(image_id[7:19]).id == image_id
    top, bottom = store.lowerdirs(image_id)
    with open(os.path.join(bottom, "bin/tool")) as f:
        assert f.read() == "v1\n"
    with open(os.path.join(top, "bin/tool")) as f:
        assert f.read() == "v2\n"
    wh = os.lstat(os.path.join(top, "etc/os-release"))
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert os.getxattr(os.path.join(top, "data"), "trusted.overlay.opaque") == b"y"


def test_load_oci_layout_archive(store, tmp_path):
    path = str(tmp_path / "oci.tar")
    image_id = oci_layout(path, [BASE], "localhost:5000/team/app:2")
    assert store.load_archive(path) == ["Loaded image: localhost:5000/team/app:2"]
    assert store.get("localhost:5000/team/app:2").id == image_id


def test_untagged_archive_reports_id(store, tmp_path):
    path = str(tmp_path / "img.tar")
    image_id = docker_save(path, [BASE], [])
    assert store.load_archive(path) == [f"Loaded image ID: {image_id}"]


def test_bad_archives_are_refused_whole(store, tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar at all")
    with pytest.raises(InvalidArgument):
        store.load_archive(str(bad))
    # a layer that does not match the config's diff id
    path = str(tmp_path / "tampered.tar")
    docker_save(path, [BASE], ["t:1"])
    import tarfile

    with tarfile.open(path) as t:
        members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
    with tarfile.open(path, "w") as t:
        import io

        for m, data in members:
            if m.name.endswith("layer.tar"):
                data = data.replace(b"v1\n", b"v9\n")
            t.addfile(m, io.BytesIO(data) if data is not None else None)
    with pytest.raises(InvalidArgument, match="does not match"):
        store.load_archive(path)
    assert store.list() == []
    assert os.listdir(store.blobs.dir) == [] if os.path.isdir(store.blobs.dir) else True


def test_rm_semantics_and_shared_layers(store, tmp_path):
    a, b = str(tmp_path / "a.tar"), str(tmp_path / "b.tar")
    id_a = docker_save(a, [BASE], ["one:latest"])
    id_b = docker_save(b, [BASE, TOP], ["two:latest"])
    store.load_archive(a)
    store.load_archive(b)
    shared = store.lowerdirs(id_a)[0]
    assert shared == store.lowerdirs(id_b)[1]  # the base layer is stored and unpacked once
    store.tag("one", "alias:1")
    assert store.remove("alias:1") == ["Untagged: alias:1"]
    store.tag("one", "alias:1")
    with pytest.raises(Conflict):
        store.remove(id_a)
    assert store.remove("two") == ["Untagged: two:latest", f"Deleted: {id_b}"]
    assert os.path.isdir(shared)  # still used by "one"
    assert store.remove(id_a, force=True) == ["Untagged: alias:1", "Untagged: one:latest", f"Deleted: {id_a}"]
    assert not os.path.exists(shared)
    assert os.listdir(store.blobs.dir) == []
    with pytest.raises(NotFound):
        store.get("one")


@pytest.mark.parametrize("entries", [
    [("../escaped", "file", "x")],
    [("a/../../escaped", "file", "x")],
])
def test_hostile_dotdot_is_refused(tmp_path, entries):
    import io

    target = tmp_path / "snap"
    with pytest.raises(InvalidArgument):
        unpack(io.BytesIO(layer(entries)), str(target))
    assert not (tmp_path / "escaped").exists()


def test_hostile_links_stay_inside(tmp_path):
    import io

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep\n")
    target = tmp_path / "snap"
    hostile = layer([
        ("/abs", "file", "absolute paths land inside\n"),
        ("link", "symlink", str(outside)),
        ("link/planted", "file", "through a symlinked parent\n"),
        ("rel", "symlink", "../../outside"),
        ("rel/planted2", "file", "through a relative symlink\n"),
        ("file-then-link", "symlink", str(outside / "secret")),
        ("file-then-link", "file", "replaces the link, never writes through it\n"),
    ])
    unpack(io.BytesIO(hostile), str(target))
    assert (target / "abs").read_text() == "absolute paths land inside\n"
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_text() == "keep\n"
    # a symlinked parent is followed as if the layer were the root: the file lands inside it
    assert (target / str(outside).lstrip("/") / "planted").read_text() == "through a symlinked parent\n"
    assert (target / "outside" / "planted2").read_text() == "through a relative symlink\n"
    assert not (target / "file-then-link").is_symlink()
    with pytest.raises(InvalidArgument):
        unpack(io.BytesIO(layer([("h", "hardlink", str(outside / "secret"))])), str(tmp_path / "snap2"))
