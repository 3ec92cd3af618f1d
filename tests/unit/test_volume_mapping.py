"""Stack-file mounts as engine Mounts (composer/converge/mounts.py) and the engine's checks of a new
container's mounts (engine/volumes/resolve.py), without containers."""
from __future__ import annotations

import pytest

from composer.errors import ComposerError
from composer.load.loader import LoadOptions, load
from composer.converge.mounts import option_mount, service_mounts, services_mounted_from, volumes_from
from engine.errors import InvalidArgument, NotFound
from engine.paths import Paths
from engine.types import ContainerSpec, Mount
from engine.volumes.local import Volumes
from engine.volumes.resolve import resolve_mounts


def project(tmp_path, text):
    (tmp_path / "compose.yaml").write_text(text)
    return load(LoadOptions(environ={}, project_name="p"), cwd=str(tmp_path))


def test_every_mount_form_maps_to_an_engine_mount(tmp_path):
    p = project(tmp_path, """
services:
  app:
    image: x
    tmpfs: ["/run/a:size=2m,mode=0750,ro"]
    volumes:
      - data:/data:ro,nocopy
      - /anon
      - ./src:/src:rslave
      - type: volume
        source: data
        target: /sub
        volume: {subpath: a/b}
      - type: bind
        source: /nowhere
        target: /b
      - type: tmpfs
        target: /t
        tmpfs: {size: 1m, mode: 0700}
volumes:
  data: {}
""")
    m = service_mounts(p, p.services["app"])
    assert m[0] == Mount("volume", "/data", "p_data", True, nocopy=True)
    assert m[1] == Mount("volume", "/anon", "", volume_labels={"com.docker.compose.project": "p"})
    assert m[2] == Mount("bind", "/src", str(tmp_path / "src"), propagation="rslave", create_host_path=True)
    assert m[3] == Mount("volume", "/sub", "p_data", subpath="a/b")
    assert m[4] == Mount("bind", "/b", "/nowhere")  # long syntax: no create_host_path unless asked
    assert m[5] == Mount("tmpfs", "/t", tmpfs_size=1 << 20, tmpfs_mode=0o700)
    assert m[6] == Mount("tmpfs", "/run/a", read_only=True, tmpfs_size=2 << 20, tmpfs_mode=0o750)


def test_volumes_from_forms(tmp_path):
    p = project(tmp_path, """
services:
  a: {image: x}
  b:
    image: x
    volumes_from: ["a", "service:a:ro", "container:other:rw"]
""")
    b = p.services["b"]
    assert volumes_from(p, b) == ["p-a-1", "p-a-1:ro", "other:rw"]
    assert services_mounted_from(b) == ["a", "a"]
    assert "a" in b.depends_on


def test_option_mount_is_docker_run_v(tmp_path):
    assert option_mount("/data", "/w") == Mount("volume", "/data")
    assert option_mount("name:/d:ro", "/w") == Mount("volume", "/d", "name", True)
    assert option_mount("./x:/d", "/w") == Mount("bind", "/d", "/w/x", create_host_path=True)
    with pytest.raises(ComposerError):
        option_mount("a:b:c:d", "/w")


@pytest.fixture
def vols(tmp_path):
    return Volumes(Paths.open(str(tmp_path / "root")))


class NoRecords:
    def find(self, ref):
        raise NotFound(f"no such container: {ref}")


@pytest.mark.parametrize("mount, message", [
    (Mount("volume", "/d", "v", subpath="../x"), "relative path inside the volume"),
    (Mount("volume", "/d", "v", subpath="/abs"), "relative path inside the volume"),
    (Mount("volume", "relative", "v"), "must be absolute"),
    (Mount("bind", "/d", "/definitely/not/here"), "does not exist"),
    (Mount("bind", "/d", "/tmp", propagation="sideways"), "unknown propagation"),
    (Mount("volume", "/d", "v", propagation="shared"), "bind mounts only"),
    (Mount("tmpfs", "/d", subpath="x"), "volume mounts only"),
    (Mount("tmpfs", "/d", tmpfs_mode=0o17777), "invalid tmpfs mode"),
    (Mount("npipe", "/d"), "unknown mount type"),
])
def test_bad_mounts_are_refused(vols, mount, message):
    vols.create("v")
    with pytest.raises(InvalidArgument, match=message):
        resolve_mounts(ContainerSpec("c", "img", mounts=[mount]), vols, NoRecords())


def test_missing_volume_and_duplicate_targets(vols):
    with pytest.raises(NotFound, match="no such volume"):
        resolve_mounts(ContainerSpec("c", "img", mounts=[Mount("volume", "/d", "nope")]), vols, NoRecords())
    with pytest.raises(InvalidArgument, match="duplicate mount point"):
        resolve_mounts(ContainerSpec("c", "img", mounts=[Mount("tmpfs", "/d"), Mount("tmpfs", "/d/")]), vols,
                       NoRecords())
    with pytest.raises(NotFound, match="volumes_from other: no such container"):
        resolve_mounts(ContainerSpec("c", "img", volumes_from=["other"]), vols, NoRecords())


def test_anonymous_volumes_are_labelled_64_hex(vols):
    v = vols.create_anonymous({"k": "v"})
    assert len(v.name) == 64 and int(v.name, 16) >= 0
    assert v.anonymous and v.labels["k"] == "v"
    assert not vols.create("named").anonymous
