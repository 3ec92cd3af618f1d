"""Building image archives and layers in tests, without Docker."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile


def layer(entries: list[tuple]) -> bytes:
    """A layer tar from (name, kind, payload) tuples: kind is file|dir|symlink|hardlink|whiteout|opaque|fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1_700_000_000
            if kind == "file":
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                ti.size, ti.mode = len(data), 0o644
                tar.addfile(ti, io.BytesIO(data))
                continue
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, payload
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, payload
            elif kind == "fifo":
                ti.type, ti.mode = tarfile.FIFOTYPE, 0o600
            elif kind == "whiteout":
                head, _, base = name.rpartition("/")
                ti.name = (head + "/" if head else "") + ".wh." + base
            elif kind == "opaque":
                ti.name = name.rstrip("/") + "/.wh..wh..opq"
            tar.addfile(ti)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(diff_ids: list[str], cmd: list[str] | None = None, env: list[str] | None = None) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                       "config": {"Cmd": cmd or ["sh"], "Env": env or ["PATH=/bin"]},
                       "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()


def docker_save(path: str, layers: list[bytes], tags: list[str], gzip_layers: bool = False, **cfg) -> str:
    """Write a `docker save` archive; returns the image id."""
    diff_ids = [_sha(lay) for lay in layers]
    config = image_config(diff_ids, **cfg)
    with tarfile.open(path, "w") as tar:
        def add(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))

        names = []
        for i, lay in enumerate(layers):
            name = f"layer{i}/layer.tar"
            add(name, gzip.compress(lay) if gzip_layers else lay)
            names.append(name)
        cfg_name = hashlib.sha256(config).hexdigest() + ".json"
        add(cfg_name, config)
        add("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": tags, "Layers": names}]).encode())
    return _sha(config)


def oci_layout(path: str, layers: list[bytes], name: str | None) -> str:
    """Write an OCI image-layout archive with gzip layers; returns the image id."""
    diff_ids = [_sha(lay) for lay in layers]
    config = image_config(diff_ids)
    blobs: dict[str, bytes] = {}
    layer_descs = []
    for lay in layers:
        gz = gzip.compress(lay)
        blobs[_sha(gz)] = gz
        layer_descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _sha(gz),
                            "size": len(gz)})
    blobs[_sha(config)] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": _sha(config), "size": len(config)},
                           "layers": layer_descs}).encode()
    blobs[_sha(manifest)] = manifest
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(manifest), "size": len(manifest)}
    if name:
        desc["annotations"] = {"io.containerd.image.name": name}
    index = json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()
    with tarfile.open(path, "w") as tar:
        def add(n: str, data: bytes) -> None:
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))

        add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add("index.json", index)
        for digest, data in blobs.items():
            add("blobs/sha256/" + digest[7:], data)
    return _sha(config)
