"""Registry client logic that needs no registry: challenges, hosts, credentials, manifests, policies."""
from __future__ import annotations

import base64
import hashlib
import io
import json

import pytest

from composer.errors import ComposerError
from engine.errors import InvalidArgument, RegistryError
from engine.images.registry import credentials, hosts, media
from engine.images.registry.auth import parse_challenge


def test_parse_challenge():
    scheme, params = parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                     'scope="repository:library/busybox:pull,push"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:library/busybox:pull,push"}
    assert parse_challenge('Basic realm="x y"') == ("basic", {"realm": "x y"})
    assert parse_challenge("Bearer realm=http://h/t,service=s")[1] == {"realm": "http://h/t", "service": "s"}


def test_scheme_by_host(monkeypatch):
    monkeypatch.setattr(hosts, "DAEMON_JSON", "/nonexistent")
    monkeypatch.delenv("COMPOSER_INSECURE_REGISTRIES", raising=False)
    assert hosts.scheme("localhost:5000") == "http"
    assert hosts.scheme("127.0.0.2:5000") == "http"
    assert hosts.scheme("[::1]:5000") == "http"
    assert hosts.scheme("registry.example.com") == "https"
    assert hosts.scheme("docker.io") == "https" and hosts.api_host("docker.io") == "registry-1.docker.io"
    monkeypatch.setenv("COMPOSER_INSECURE_REGISTRIES", "registry.example.com, 10.0.0.0/8")
    assert hosts.scheme("registry.example.com:443") == "http"
    assert hosts.scheme("10.1.2.3:5000") == "http"
    assert hosts.scheme("11.1.2.3:5000") == "https"


def test_insecure_from_daemon_json(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPOSER_INSECURE_REGISTRIES", raising=False)
    daemon = tmp_path / "daemon.json"
    daemon.write_text(json.dumps({"insecure-registries": ["myreg:5000"]}))
    monkeypatch.setattr(hosts, "DAEMON_JSON", str(daemon))
    assert hosts.scheme("myreg:5000") == "http" and hosts.scheme("other:5000") == "https"


def test_credentials_lookup_store_erase(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert credentials.lookup("r.example") is None
    (tmp_path / "config.json").write_text(json.dumps({
        "auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw:with:colons").decode()},
                  "https://old.example/v1/": {"auth": base64.b64encode(b"o:p").decode()},
                  "plain.example": {"username": "u", "password": "p"}},
        "psFormat": "keep me"}))
    assert credentials.lookup("docker.io") == credentials.Credentials("hub", "pw:with:colons")
    assert credentials.lookup("old.example") == credentials.Credentials("o", "p")
    assert credentials.lookup("plain.example") == credentials.Credentials("u", "p")
    credentials.store("new.example:5000", credentials.Credentials("me", "secret"))
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["psFormat"] == "keep me"
    assert base64.b64decode(data["auths"]["new.example:5000"]["auth"]) == b"me:secret"
    assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o600
    assert credentials.erase("new.example:5000") is True
    assert credentials.erase("new.example:5000") is False
    assert credentials.lookup("new.example:5000") is None


def test_credential_helper_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "nosuchhelper"}))
    assert credentials.lookup("r.example") is None  # no helper entry: anonymous
    with pytest.raises(InvalidArgument, match="docker-credential-nosuchhelper"):
        credentials.store("r.example", credentials.Credentials("a", "b"))


def test_manifest_parsing():
    kind, doc = media.parse(json.dumps({"schemaVersion": 2, "manifests": []}).encode(), None, "x")
    assert kind == media.OCI_INDEX
    kind, _ = media.parse(b'{"schemaVersion":2,"config":{},"layers":[]}', media.DOCKER_MANIFEST + "; charset=utf-8", "x")
    assert kind == media.DOCKER_MANIFEST
    with pytest.raises(RegistryError, match="schema 1"):
        media.parse(b'{"schemaVersion":1,"fsLayers":[]}', None, "x")
    with pytest.raises(RegistryError, match="not valid JSON"):
        media.parse(b"<html>", None, "x")
    with pytest.raises(RegistryError, match="unsupported manifest media type"):
        media.parse(b'{"mediaType":"text/plain"}', None, "x")


def test_platform_selection():
    def entry(os_, arch, variant=None):
        p = {"os": os_, "architecture": arch}
        if variant:
            p["variant"] = variant
        return {"digest": digest(f"{os_}-{arch}-{variant}"), "platform": p}

    def digest(label: str) -> str:
        return "sha256:" + hashlib.sha256(label.encode()).hexdigest()

    index = {"manifests": [entry("unknown", "unknown"), entry("linux", "arm", "v6"), entry("linux", "arm", "v7"),
                           entry("linux", "amd64"), entry("windows", "amd64")]}
    assert media.select_platform(index, "linux", "amd64", None, "x")["digest"] == digest("linux-amd64-None")
    assert media.select_platform(index, "linux", "arm", "v7", "x")["digest"] == digest("linux-arm-v7")
    with pytest.raises(RegistryError, match=r"no image for linux/s390x \(the registry has: linux/amd64, linux/arm, "
                                            r"windows/amd64\)"):
        media.select_platform(index, "linux", "s390x", None, "x")
    with pytest.raises(RegistryError, match="invalid digest"):
        media.select_platform({"manifests": [{"digest": "../x", "platform": {"os": "linux", "architecture": "amd64"}}]},
                              "linux", "amd64", None, "x")


def test_filters_parse():
    from engine.images.filters import parse

    assert parse(["dangling=true", "reference=a*", "reference=b"]) == {"dangling": ["true"],
                                                                      "reference": ["a*", "b"]}
    for bad in ("dangling", "color=red", "dangling=maybe"):
        with pytest.raises(InvalidArgument, match="invalid filter"):
            parse([bad])


def test_pull_policies():
    from composer.converge.pull import check_policy, refresh_interval

    assert check_policy("if_not_present", "w") == "missing"
    assert check_policy("Always", "w") == "always"
    assert refresh_interval("daily", "w") == 86400 and refresh_interval("weekly", "w") == 7 * 86400
    assert refresh_interval("every_12h", "w") == 12 * 3600 and refresh_interval("every_1h30m", "w") == 5400
    assert refresh_interval("every_2d", "w") == 2 * 86400
    assert refresh_interval("missing", "w") is None
    for bad in ("sometimes", "every_", "every_soon"):
        with pytest.raises(ComposerError, match="w: invalid"):
            check_policy(bad, "w")


def test_plain_progress_prints_status_changes_only():
    from composer.cli.transfer_progress import Bars, Plain
    from engine.images.progress import ProgressEvent

    out = io.StringIO()
    show = Plain(out)
    for n in (10, 20, 30):
        show(ProgressEvent("Downloading", "abc", n, 30))
    show(ProgressEvent("Pull complete", "abc"))
    show(ProgressEvent("Digest: sha256:x"))
    assert out.getvalue().splitlines() == ["abc: Downloading", "abc: Pull complete", "Digest: sha256:x"]
    out = io.StringIO()
    bars = Bars(out)
    bars(ProgressEvent("Pulling fs layer", "a"))
    bars(ProgressEvent("Pulling fs layer", "b"))
    bars(ProgressEvent("Downloading", "a", 5, 10))
    text = out.getvalue()
    assert "\x1b[2A" in text and "a: Downloading [" in text and "5B/10B" in text
