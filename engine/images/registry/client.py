"""One session with one repository of a registry: manifests, blobs and uploads, authorized as needed.

Every blob and manifest that is read is checked against its digest before it is used. A blob
download that breaks off is resumed with a Range request where the registry allows it (206),
and started over where it does not.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import urljoin

from engine.errors import NotFound, RegistryError, Unauthorized
from engine.images.registry import media
from engine.images.registry.auth import Authorizer
from engine.images.registry.credentials import Credentials, lookup
from engine.images.registry.hosts import api_host, scheme
from engine.images.registry.transport import Response, Transport

MAX_MANIFEST = 4 << 20
MAX_CONFIG = 16 << 20
CHUNK = 1 << 20
DOWNLOAD_ATTEMPTS = 4
_STREAM_ERRORS = (http.client.HTTPException, OSError, RegistryError)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Session:
    def __init__(self, registry: str, repository: str, push: bool = False, creds: Credentials | None = None,
                 transport: Transport | None = None):
        self.registry = registry
        self.repository = repository
        self.base = f"{scheme(registry)}://{api_host(registry)}"
        self.transport = transport or Transport()
        self.auth = Authorizer(registry, creds if creds is not None else lookup(registry), self.transport)
        self.scopes = (f"repository:{repository}:{'pull,push' if push else 'pull'}",)

    def close(self) -> None:
        self.transport.close()

    # -- requests ----------------------------------------------------------------------------
    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | BinaryIO | None = None, scopes: tuple[str, ...] | None = None) -> Response:
        scopes = scopes or self.scopes
        url = path if path.startswith(("http://", "https://")) else self.base + path
        start = body.tell() if body is not None and not isinstance(body, bytes) else None
        for attempt in (0, 1):
            h = dict(headers or {})
            value = self.auth.header(scopes)
            if value:
                h["Authorization"] = value
            if start is not None:
                body.seek(start)  # type: ignore[union-attr]
            resp = self.transport.request(method, url, h, body)
            if resp.status == 401 and attempt == 0 and self.auth.challenged(resp.headers_all("WWW-Authenticate"),
                                                                            scopes):
                resp.read()
                resp.close()
                continue
            return resp
        return resp

    def ping(self) -> None:
        """GET /v2/ with credentials: raises Unauthorized if they are refused (what `login` checks)."""
        with self.request("GET", "/v2/", scopes=()) as resp:
            resp.read()
            if resp.status == 401 or resp.status == 403:
                raise Unauthorized(f"{self.registry}: login refused (unauthorized: incorrect username or password)")
            if resp.status != 200:
                raise self.error(resp, f"{self.registry}: /v2/", b"")

    def error(self, resp: Response, what: str, body: bytes | None = None) -> Exception:
        if body is None:
            try:
                body = resp.read(1 << 16)
            except _STREAM_ERRORS:
                body = b""
        detail = ""
        try:
            errors = json.loads(body).get("errors") or []
            detail = "; ".join(f"{e.get('code', '').lower()}: {e.get('message', '')}" for e in errors)
        except (ValueError, AttributeError, TypeError):
            pass
        detail = detail or f"HTTP {resp.status}"
        if resp.status in (401, 403):
            return Unauthorized(f"{what}: {detail} (run `composer login {self.registry}` if it needs credentials)")
        if resp.status == 404:
            return NotFound(f"{what}: not found ({detail})")
        return RegistryError(f"{what}: {detail}")

    # -- manifests ---------------------------------------------------------------------------
    def get_manifest(self, ref: str) -> tuple[bytes, str, dict, str]:
        """(bytes, media type, document, digest) of the manifest or index named by tag or digest."""
        what = f"{self.registry}/{self.repository}:{ref}" if not ref.startswith("sha256:") else \
            f"{self.registry}/{self.repository}@{ref}"
        with self.request("GET", f"/v2/{self.repository}/manifests/{ref}", {"Accept": media.ACCEPT}) as resp:
            if resp.status != 200:
                if resp.status == 404:
                    raise NotFound(f"manifest for {what} not found: manifest unknown")
                raise self.error(resp, f"manifest for {what}")
            data = resp.read(MAX_MANIFEST + 1)
            header_type = resp.header("Content-Type")
            header_digest = resp.header("Docker-Content-Digest")
        if len(data) > MAX_MANIFEST:
            raise RegistryError(f"manifest for {what} is larger than {MAX_MANIFEST} bytes: refused")
        digest = _sha256(data)
        expect = ref if ref.startswith("sha256:") else header_digest
        if expect and expect.startswith("sha256:") and expect != digest:
            raise RegistryError(f"manifest for {what} does not match its digest (expected {expect}, got {digest}): "
                                "refused")
        kind, doc = media.parse(data, header_type, f"manifest for {what}")
        return data, kind, doc, digest

    def put_manifest(self, ref: str, data: bytes, media_type: str) -> str:
        with self.request("PUT", f"/v2/{self.repository}/manifests/{ref}",
                          {"Content-Type": media_type, "Content-Length": str(len(data))}, data) as resp:
            if resp.status not in (200, 201):
                raise self.error(resp, f"push of manifest {self.registry}/{self.repository}:{ref}")
            resp.read()
            digest = resp.header("Docker-Content-Digest")
        mine = _sha256(data)
        if digest and digest != mine:
            raise RegistryError(f"{self.registry} stored the manifest under {digest}, not its digest {mine}")
        return mine

    # -- blobs -------------------------------------------------------------------------------
    def get_blob_bytes(self, digest: str, limit: int = MAX_CONFIG) -> bytes:
        with self.request("GET", f"/v2/{self.repository}/blobs/{digest}") as resp:
            if resp.status != 200:
                raise self.error(resp, f"blob {digest}")
            data = resp.read(limit + 1)
        if len(data) > limit:
            raise RegistryError(f"blob {digest} is larger than {limit} bytes: refused")
        if _sha256(data) != digest:
            raise RegistryError(f"blob {digest} from {self.registry} does not match its digest: refused")
        return data

    def download_blob(self, digest: str, dest: str, tick: Callable[[int], None] | None = None) -> int:
        """Write the blob to *dest*, verified; returns its size. Resumes a broken download with Range."""
        h = hashlib.sha256()
        have = 0
        with open(dest, "wb") as out:
            for attempt in range(DOWNLOAD_ATTEMPTS):
                headers = {"Range": f"bytes={have}-"} if have else {}
                try:
                    resp = self.request("GET", f"/v2/{self.repository}/blobs/{digest}", headers)
                except RegistryError:
                    if attempt == DOWNLOAD_ATTEMPTS - 1:
                        raise
                    continue
                with resp:
                    if resp.status == 200 and have:  # the registry ignored the range: start over
                        out.seek(0)
                        out.truncate()
                        h, have = hashlib.sha256(), 0
                    elif resp.status not in (200, 206):
                        raise self.error(resp, f"blob {digest}")
                    try:
                        while True:
                            chunk = resp.read(CHUNK)
                            if not chunk:
                                break
                            out.write(chunk)
                            h.update(chunk)
                            have += len(chunk)
                            if tick:
                                tick(have)
                    except _STREAM_ERRORS:
                        if attempt == DOWNLOAD_ATTEMPTS - 1:
                            raise RegistryError(f"download of blob {digest} broke off {DOWNLOAD_ATTEMPTS} times") \
                                from None
                        continue
                    length = resp.header("Content-Length")
                    if resp.status == 206 or length is None or have >= int(length):
                        break
            out.flush()
            os.fsync(out.fileno())
        got = "sha256:" + h.hexdigest()
        if got != digest:
            raise RegistryError(f"blob {digest} from {self.registry} does not match its digest (got {got}): refused")
        return have

    def blob_size(self, digest: str) -> int | None:
        """The size of the blob if the repository has it, else None."""
        with self.request("HEAD", f"/v2/{self.repository}/blobs/{digest}") as resp:
            if resp.status == 200:
                return int(resp.header("Content-Length") or 0)
            if resp.status == 404:
                return None
            raise self.error(resp, f"blob {digest}", b"")

    def mount_blob(self, digest: str, source_repo: str) -> bool:
        """Ask the registry to link a blob of another of its repositories into this one (no upload)."""
        scopes = (*self.scopes, f"repository:{source_repo}:pull")
        with self.request("POST", f"/v2/{self.repository}/blobs/uploads/?mount={digest}&from={source_repo}",
                          {"Content-Length": "0"}, b"", scopes=scopes) as resp:
            resp.read()
            location = resp.header("Location")
            if resp.status == 201:
                return True
        if resp.status == 202 and location:  # mount refused, an upload was opened instead: cancel it
            self.request("DELETE", urljoin(self.base + "/", location)).close()
        return False

    def upload_blob(self, path: str, digest: str, size: int, chunk_size: int,
                    tick: Callable[[int], None] | None = None) -> None:
        """Upload the file at *path*: one PUT if it fits in *chunk_size*, else PATCH chunks then PUT."""
        what = f"upload of blob {digest} to {self.registry}/{self.repository}"
        with self.request("POST", f"/v2/{self.repository}/blobs/uploads/", {"Content-Length": "0"}, b"") as resp:
            resp.read()
            if resp.status != 202:
                raise self.error(resp, what, b"")
            location = self._location(resp, what)
        with open(path, "rb") as f:
            if size <= chunk_size:
                headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
                with self.request("PUT", _with_digest(location, digest), headers, f) as resp:
                    if resp.status != 201:
                        raise self.error(resp, what)
                    resp.read()
                if tick:
                    tick(size)
                return
            sent = 0
            while sent < size:
                chunk = f.read(chunk_size)
                headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(chunk)),
                           "Content-Range": f"{sent}-{sent + len(chunk) - 1}"}
                with self.request("PATCH", location, headers, chunk) as resp:
                    if resp.status != 202:
                        raise self.error(resp, what)
                    resp.read()
                    location = self._location(resp, what)
                sent += len(chunk)
                if tick:
                    tick(sent)
        with self.request("PUT", _with_digest(location, digest), {"Content-Length": "0"}, b"") as resp:
            if resp.status != 201:
                raise self.error(resp, what)
            resp.read()

    def _location(self, resp: Response, what: str) -> str:
        location = resp.header("Location")
        if not location:
            raise RegistryError(f"{what}: the registry sent no upload location")
        return urljoin(self.base + "/", location)


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + "digest=" + digest
