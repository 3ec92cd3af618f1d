"""Hostile layers: whatever a layer says, nothing outside the unpack target is written, removed or changed."""
from __future__ import annotations

import io
import os

import pytest

from engine.errors import InvalidArgument
from engine.snapshots.unpack import unpack
from tests.support.archives import hostile_layers, layer


def _state(top: str, skip: str) -> dict[str, tuple]:
    """Everything under *top* except the subtree *skip*: type/mode/owner/size/xattrs/content."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath == skip or dirpath.startswith(skip + os.sep):
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if p == skip:
                continue
            st = os.lstat(p)
            content = None
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    content = f.read()
            out[p] = (st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_mtime_ns, content,
                      tuple(sorted(os.listxattr(p, follow_symlinks=False))))
    return out


@pytest.fixture
def sandbox(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep\n")
    os.chmod(outside / "secret", 0o600)
    (tmp_path / "neighbour").mkdir()
    (tmp_path / "neighbour" / "file").write_text("n\n")
    target = tmp_path / "deep" / "er" / "target"
    target.mkdir(parents=True)
    return tmp_path, outside, target


@pytest.mark.parametrize("what", sorted(hostile_layers("/x")))
def test_hostile_layer_changes_nothing_outside(sandbox, what):
    top, outside, target = sandbox
    data = hostile_layers(str(outside))[what]
    before = _state(str(top), str(target))
    try:
        unpack(io.BytesIO(data), str(target))
    except InvalidArgument:
        pass
    assert _state(str(top), str(target)) == before
    assert os.path.isdir(target)


def test_dotdot_names_are_refused(sandbox):
    _, _, target = sandbox
    for what in ("dotdot", "dotdot-deep"):
        with pytest.raises(InvalidArgument, match="outside the layer"):
            unpack(io.BytesIO(hostile_layers("/x")[what]), str(target))


def test_absolute_names_land_inside(sandbox):
    _, _, target = sandbox
    unpack(io.BytesIO(layer([("/abs/file", "file", "in\n"), ("/", "dir", None, {"mode": 0o755})])), str(target))
    assert (target / "abs" / "file").read_text() == "in\n"


def test_symlinked_parents_resolve_inside_the_layer(sandbox):
    _, outside, target = sandbox
    unpack(io.BytesIO(hostile_layers(str(outside))["symlink-parent"]), str(target))
    # `link` -> /abs/outside is followed as if the target were '/': the file lands inside it
    assert (target / str(outside).lstrip("/") / "planted").read_text() == "x"
    assert os.readlink(target / "link") == str(outside)  # the symlink itself is kept as written
    unpack(io.BytesIO(hostile_layers(str(outside))["symlink-chain"]), str(target / "2"))
    assert (target / "2" / str(outside).lstrip("/") / "planted").read_text() == "x"


def test_an_entry_replaces_a_symlink_at_its_path(sandbox):
    _, outside, target = sandbox
    unpack(io.BytesIO(hostile_layers(str(outside))["symlink-then-file"]), str(target))
    assert not os.path.islink(target / "victim") and (target / "victim").read_text() == "x"
    unpack(io.BytesIO(hostile_layers(str(outside))["symlink-then-dir"]), str(target / "2"))
    assert os.path.isdir(target / "2" / "victim") and not os.path.islink(target / "2" / "victim")


@pytest.mark.parametrize("what", ["hardlink-outside", "hardlink-dotdot", "hardlink-through-symlink"])
def test_hardlinks_to_outside_are_refused_or_contained(sandbox, what):
    _, outside, target = sandbox
    try:
        unpack(io.BytesIO(hostile_layers(str(outside))[what]), str(target))
    except InvalidArgument:
        return
    assert os.stat(outside / "secret").st_nlink == 1


def test_hardlink_to_a_symlink_keeps_its_metadata_off_the_target(sandbox):
    _, outside, target = sandbox
    unpack(io.BytesIO(hostile_layers(str(outside))["hardlink-to-symlink-chmod"]), str(target))
    assert os.path.islink(target / "h")
    st = os.stat(outside / "secret")
    assert (st.st_mode & 0o777, st.st_uid) == (0o600, 0)


@pytest.mark.parametrize("what", ["whiteout-dot", "whiteout-dotdot"])
def test_whiteouts_of_dot_names_are_refused(sandbox, what):
    _, _, target = sandbox
    (target / "keep").write_text("k")
    with pytest.raises(InvalidArgument, match="whiteout"):
        unpack(io.BytesIO(hostile_layers("/x")[what]), str(target))
    assert (target / "keep").read_text() == "k"


def test_overlay_xattrs_from_the_layer_are_dropped(sandbox):
    _, _, target = sandbox
    unpack(io.BytesIO(hostile_layers("/x")["overlay-xattr"]), str(target))
    assert "trusted.overlay.redirect" not in os.listxattr(target / "d")


def test_symlink_loops_are_refused(sandbox):
    _, _, target = sandbox
    with pytest.raises(InvalidArgument):
        unpack(io.BytesIO(layer([("a", "symlink", "b"), ("b", "symlink", "a"), ("a/x", "file", "x")])), str(target))


def test_garbage_is_not_a_layer(sandbox):
    _, _, target = sandbox
    with pytest.raises(InvalidArgument):
        unpack(io.BytesIO(b"\x1f\x8b" + b"garbage" * 100), str(target))
    with pytest.raises(InvalidArgument):
        unpack(io.BytesIO(layer([("f", "file", "x" * 5000)])[:1500]), str(target / "2"))  # truncated
