"""Interoperability with another implementation of the image formats and the registry protocol:
skopeo (containers/image, what Podman and CRI-O use). Skipped where skopeo is not installed."""
from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

from engine.api import Engine
from tests.support.registry import registry  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")


def skopeo(*args: str) -> str:
    res = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"skopeo {' '.join(args)}: {res.stderr}"
    return res.stdout


def test_archives_both_ways(cli, base_image, engine_root, tmp_path):
    eng = Engine(engine_root)
    eng.tag_image(base_image, "interop/app:1")
    image_id = eng.inspect_image("interop/app:1").id
    ours = str(tmp_path / "ours.tar")
    cli("image", "save", "-o", ours, "interop/app:1")
    # skopeo reads our archive both as `docker save` output and as an OCI layout, and agrees on the config
    config = json.loads(skopeo("inspect", "--config", "--raw", f"docker-archive:{ours}"))
    assert config["rootfs"]["diff_ids"] == eng.inspect_image("interop/app:1").layers
    skopeo("copy", f"docker-archive:{ours}", f"oci-archive:{tmp_path / 'oci.tar'}:interop/app:2")
    skopeo("copy", f"docker-archive:{ours}", f"docker-archive:{tmp_path / 'theirs.tar'}:interop/app:3")
    eng.remove_image(image_id, force=True)
    assert cli("image", "load", "-i", str(tmp_path / "theirs.tar")).stdout.strip() == "Loaded image: interop/app:3"
    assert eng.inspect_image("interop/app:3").id == image_id
    cli("image", "load", "-i", str(tmp_path / "oci.tar"))
    assert eng.inspect_image(image_id[7:19]).id == image_id
    assert cli("container", "run", "--rm", "interop/app:3", "echo", "ok").stdout.strip() == "ok"


def test_registry_both_ways(cli, base_image, engine_root, registry, tmp_path):  # noqa: F811
    eng = Engine(engine_root)
    name = f"{registry.host}/interop/{uuid.uuid4().hex[:8]}"
    eng.tag_image(base_image, name + ":ours")
    image_id = eng.inspect_image(name + ":ours").id
    layers = eng.inspect_image(name + ":ours").layers
    pushed = eng.push_image(name + ":ours")
    # skopeo reads what we pushed, byte for byte the manifest we reported
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{name}:ours")
    import hashlib

    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == pushed.digest
    skopeo("copy", "--src-tls-verify=false", f"docker://{name}:ours", f"docker-archive:{tmp_path / 'p.tar'}:x/y:1")
    # what skopeo pushes (an OCI manifest with its own compression) we pull and run
    skopeo("copy", "--dest-tls-verify=false", "--format", "oci", f"docker-archive:{tmp_path / 'p.tar'}",
           f"docker://{name}:theirs")
    eng.remove_image(image_id, force=True)
    cli("image", "pull", name + ":theirs")
    theirs = eng.inspect_image(name + ":theirs")  # converting to OCI rewrote the config, not the layers
    assert theirs.layers == layers and theirs.repo_digests[0].startswith(name + "@sha256:")
    assert cli("container", "run", "--rm", name + ":theirs", "echo", "ok").stdout.strip() == "ok"
