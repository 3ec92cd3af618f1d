"""The Debian application image's builder (tests/support/debian.py): where its mirror comes from,
what its cache key depends on, and a cached tarball being reused without debootstrap."""
from __future__ import annotations

import os

import pytest

from tests.support import debian

DEB822 = """Types: deb
# a comment: URIs: http://not-this.example/debian
URIs: http://mirror.test/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.test/debian-security
Suites: bookworm-security
Components: main
"""


def _sources(tmp_path, deb822: str | None = None, legacy: str | None = None) -> str:
    os.makedirs(tmp_path / "sources.list.d")
    if deb822 is not None:
        (tmp_path / "sources.list.d" / "debian.sources").write_text(deb822)
    if legacy is not None:
        (tmp_path / "sources.list").write_text(legacy)
    return str(tmp_path)


def test_mirror_from_deb822_sources_skips_comments_and_the_security_archive(tmp_path):
    security_first = DEB822.split("\n\n")[1] + "\n" + DEB822.split("\n\n")[0]
    assert debian.mirror(_sources(tmp_path, deb822=security_first)) == "http://mirror.test/debian"


def test_mirror_from_a_one_line_sources_list(tmp_path):
    legacy = ("deb http://mirror.test/debian-security bookworm-security main\n"
              "deb [arch=amd64] http://mirror.test/debian bookworm main\n")
    assert debian.mirror(_sources(tmp_path, legacy=legacy)) == "http://mirror.test/debian"


def test_no_mirror_is_one_clear_error(tmp_path):
    with pytest.raises(debian.BuildError, match="no Debian bookworm archive"):
        debian.mirror(_sources(tmp_path, deb822="Types: deb\nURIs: http://x/ubuntu\nSuites: jammy\n"))


def test_the_key_names_the_package_list_not_its_order():
    assert debian.key(("redis-server", "nginx-light")) == debian.key(("nginx-light", "redis-server"))
    assert debian.key(("redis-server",)) != debian.key(("redis-server", "nginx-light"))
    assert debian.image_ref() == f"composer/debian-apps:{debian.key()}"


def test_a_cached_tarball_is_reused_without_debootstrap(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_TEST_CACHE", str(tmp_path))
    cached = tmp_path / f"debian-apps-{debian.key(('x',))}.tar"
    cached.write_bytes(b"")
    monkeypatch.setattr(debian, "_build", lambda *a: pytest.fail("built again"))
    assert debian.rootfs(("x",)) == str(cached)
