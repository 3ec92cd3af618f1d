"""Media types, manifest parsing and platform selection."""
from __future__ import annotations

import json

from engine.errors import InvalidArgument, RegistryError
from engine.store.blobs import check_digest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")

INDEXES = (DOCKER_LIST, OCI_INDEX)
MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
ACCEPT = ", ".join((*INDEXES, *MANIFESTS))


def parse(data: bytes, header_type: str | None, what: str) -> tuple[str, dict]:
    """(media type, document) of a manifest or index; the document's own mediaType wins."""
    try:
        doc = json.loads(data)
    except ValueError:
        raise RegistryError(f"{what}: the manifest is not valid JSON") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{what}: the manifest is not a JSON object")
    media = doc.get("mediaType") or (header_type or "").split(";")[0].strip()
    if not media:  # an OCI document without mediaType: tell by its shape
        media = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if media in SCHEMA1 or doc.get("schemaVersion") == 1:
        raise RegistryError(f"{what}: Docker schema 1 manifests are not supported (deprecated since 2017): "
                            "push the image again with a current tool")
    if media not in (*INDEXES, *MANIFESTS):
        raise RegistryError(f"{what}: unsupported manifest media type {media!r}")
    return media, doc


def select_platform(index: dict, os_name: str, arch: str, variant: str | None, what: str) -> dict:
    """The index entry for os/arch[/variant]; attestation manifests (platform unknown/unknown) never match."""
    candidates = []
    for desc in index.get("manifests") or []:
        p = desc.get("platform") or {}
        if p.get("os") == os_name and p.get("architecture") == arch:
            candidates.append(desc)
    if variant:
        exact = [d for d in candidates if (d.get("platform") or {}).get("variant") == variant]
        candidates = exact or candidates
    if not candidates:
        have = sorted({f"{(d.get('platform') or {}).get('os')}/{(d.get('platform') or {}).get('architecture')}"
                       for d in index.get("manifests") or [] if d.get("platform")} - {"unknown/unknown"})
        raise RegistryError(f"{what}: no image for {os_name}/{arch} (the registry has: {', '.join(have) or 'none'})")
    desc = candidates[0]
    try:
        check_digest(desc.get("digest"))  # type: ignore[arg-type]
    except InvalidArgument:
        raise RegistryError(f"{what}: the index entry for {os_name}/{arch} has an invalid digest") from None
    return desc


def host_variant(arch: str) -> str | None:
    import platform

    machine = platform.machine()
    if arch == "arm64":
        return "v8"
    if arch == "arm":
        return "v6" if machine.startswith("armv6") else "v7"
    return None
