"""Building image archives and layers in tests, without Docker."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile


def layer(entries: list[tuple]) -> bytes:
    """A layer tar from (name, kind, payload[, attrs]) tuples.

    kind: file | dir | symlink | hardlink | whiteout | opaque | fifo | chr | blk. payload is the
    content (file), the link target (symlink, hardlink) or (major, minor) (chr, blk). attrs may set
    mode, uid, gid, mtime and xattrs ({"user.k": "v"}). Names are written exactly as given, so
    hostile names (`../x`, `/abs`) can be made."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            name, kind, payload = entry[:3]
            attrs = entry[3] if len(entry) > 3 else {}
            ti = tarfile.TarInfo(name)
            ti.mtime = attrs.get("mtime", 1_700_000_000)
            ti.uid, ti.gid = attrs.get("uid", 0), attrs.get("gid", 0)
            if attrs.get("xattrs"):
                ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in attrs["xattrs"].items()}
            data = None
            if kind == "file":
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                ti.size, ti.mode = len(data), 0o644
            elif kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, payload, 0o777
            elif kind == "hardlink":
                ti.type, ti.linkname, ti.mode = tarfile.LNKTYPE, payload, 0o644
            elif kind == "fifo":
                ti.type, ti.mode = tarfile.FIFOTYPE, 0o600
            elif kind in ("chr", "blk"):
                ti.type = tarfile.CHRTYPE if kind == "chr" else tarfile.BLKTYPE
                ti.devmajor, ti.devminor = payload
                ti.mode = 0o666
            elif kind == "whiteout":
                head, _, base = name.rpartition("/")
                ti.name = (head + "/" if head else "") + ".wh." + base
            elif kind == "opaque":
                ti.name = name.rstrip("/") + "/.wh..wh..opq"
            else:
                raise ValueError(f"unknown entry kind {kind}")
            if "mode" in attrs:
                ti.mode = attrs["mode"]
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def hostile_layers(outside: str) -> dict[str, bytes]:
    """Layers that try to write, link or change something in the directory *outside* (an absolute
    path next to the unpack target), keyed by what they try. Each must be refused or contained."""
    return {
        "dotdot": layer([("../escaped", "file", "x")]),
        "dotdot-deep": layer([("a/b/../../../escaped", "file", "x")]),
        "dotdot-dir": layer([("..", "dir", None)]),
        "symlink-parent": layer([("link", "symlink", outside), ("link/planted", "file", "x")]),
        "symlink-parent-relative": layer([("rel", "symlink", "../../../../../../.." + outside),
                                          ("rel/planted", "file", "x")]),
        "symlink-chain": layer([("a", "symlink", "b"), ("b", "symlink", outside), ("a/planted", "file", "x")]),
        "symlink-then-file": layer([("victim", "symlink", outside + "/secret"), ("victim", "file", "x")]),
        "symlink-then-dir": layer([("victim", "symlink", outside), ("victim", "dir", None, {"mode": 0o777})]),
        "hardlink-outside": layer([("h", "hardlink", outside + "/secret")]),
        "hardlink-dotdot": layer([("h", "hardlink", "../outside/secret")]),
        "hardlink-through-symlink": layer([("l", "symlink", outside), ("h", "hardlink", "l/secret")]),
        "hardlink-to-symlink-chmod": layer([("l", "symlink", outside + "/secret"),
                                            ("h", "hardlink", "l", {"mode": 0o777, "uid": 4242})]),
        "whiteout-dot": layer([("sub", "dir", None), ("sub/.wh..", "file", "")]),
        "whiteout-dotdot": layer([(".wh...", "file", "")]),
        "whiteout-through-symlink": layer([("l", "symlink", outside), ("l/.wh.secret", "file", "")]),
        "opaque-through-symlink": layer([("l", "symlink", outside), ("l/.wh..wh..opq", "file", "")]),
        "device-through-symlink": layer([("l", "symlink", outside), ("l/null", "chr", (1, 3))]),
        "overlay-xattr": layer([("d", "dir", None, {"xattrs": {"trusted.overlay.redirect": "/etc"}})]),
    }


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(diff_ids: list[str], cmd: list[str] | None = None, env: list[str] | None = None,
                 arch: str = "amd64", created: str = "2024-01-01T00:00:00Z") -> bytes:
    return json.dumps({"architecture": arch, "os": "linux", "created": created,
                       "config": {"Cmd": cmd or ["sh"], "Env": env or ["PATH=/bin"]},
                       "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()


def _write_tar(path: str, files: list[tuple[str, bytes | str]]) -> None:
    """A tar of (name, bytes) files; a str instead of bytes makes a symlink to that member."""
    with tarfile.open(path, "w") as tar:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            if isinstance(data, str):
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                tar.addfile(ti)
            else:
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data))


def docker_save_images(path: str, images: list[tuple[list[bytes], list[str]]], gzip_layers: bool = False,
                       **cfg) -> list[str]:
    """Write a `docker save` archive of several images ((layers, tags) each); returns their ids.

    A layer already written for an earlier image is linked (a symlink), as older Dockers do."""
    files: list[tuple[str, bytes | str]] = []
    seen: dict[str, str] = {}
    manifest, ids = [], []
    for n, (layers, tags) in enumerate(images):
        diff_ids = [_sha(lay) for lay in layers]
        config = image_config(diff_ids, **cfg)
        names = []
        for lay in layers:
            d = _sha(lay)[7:]
            name = f"{d}/layer.tar"
            if d not in seen:
                files.append((name, gzip.compress(lay) if gzip_layers else lay))
                seen[d] = name
            names.append(name)
        cfg_name = hashlib.sha256(config).hexdigest() + ".json"
        files.append((cfg_name, config))
        manifest.append({"Config": cfg_name, "RepoTags": tags, "Layers": names})
        ids.append(_sha(config))
    files.append(("manifest.json", json.dumps(manifest).encode()))
    _write_tar(path, files)
    return ids


def docker_save(path: str, layers: list[bytes], tags: list[str], gzip_layers: bool = False, **cfg) -> str:
    """Write a `docker save` archive of one image; returns the image id."""
    return docker_save_images(path, [(layers, tags)], gzip_layers, **cfg)[0]


def oci_layout(path: str, layers: list[bytes], name: str | None, annotation: str = "io.containerd.image.name",
               platforms: list[str] | None = None) -> str:
    """Write an OCI image-layout archive with gzip layers; returns the image id (of the host's platform
    when *platforms*, e.g. ["arm64", "amd64"], asks for a multi-platform index)."""
    blobs: dict[str, bytes] = {}
    layer_descs = []
    for lay in layers:
        gz = gzip.compress(lay)
        blobs[_sha(gz)] = gz
        layer_descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _sha(gz),
                            "size": len(gz)})

    def manifest_for(arch: str) -> tuple[dict, str]:
        config = image_config([_sha(lay) for lay in layers], arch=arch)
        blobs[_sha(config)] = config
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": _sha(config), "size": len(config)},
                               "layers": layer_descs}).encode()
        blobs[_sha(manifest)] = manifest
        return ({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(manifest),
                 "size": len(manifest)}, _sha(config))

    from engine.images.config import host_architecture

    if platforms:
        descs, image_id = [], ""
        for arch in platforms:
            desc, cid = manifest_for(arch)
            descs.append({**desc, "platform": {"os": "linux", "architecture": arch}})
            if arch == host_architecture():
                image_id = cid
        inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": descs}).encode()
        blobs[_sha(inner)] = inner
        top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": _sha(inner), "size": len(inner)}
    else:
        top, image_id = manifest_for("amd64")
    if name:
        top["annotations"] = {annotation: name}
    index = json.dumps({"schemaVersion": 2, "manifests": [top]}).encode()
    files: list[tuple[str, bytes | str]] = [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'), ("index.json", index)]
    files += [("blobs/sha256/" + digest[7:], data) for digest, data in blobs.items()]
    _write_tar(path, files)
    return image_id
