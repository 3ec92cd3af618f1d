"""Supervision settings read from a service (restart, deploy.restart_policy, healthcheck, logging),
the image HEALTHCHECK merge, `logs --since/--until` times, and cp's placement rules."""
from __future__ import annotations

import os
import time

import pytest

from composer.cli.commands.cp import split_ref
from composer.cli.timearg import parse_log_time
from composer.errors import ComposerError, StackFileError
from composer.converge import containerspec
from composer.load import typed
from engine.runtime.copy import CopyError, _placement
from engine.runtime.health import check_args, effective_healthcheck


# the parse at load (composer/load/typed.py), then the mapping to the engine's fields
def restart_settings(name, raw):
    return typed.restart_policy(raw, typed.plain_at(name))


def healthcheck(name, raw):
    return containerspec.healthcheck(typed.healthcheck(raw.get("healthcheck"), typed.plain_at(name)))


def log_rotation(name, raw):
    r = typed.log_rotation(raw.get("logging"), typed.plain_at(name))
    return r.max_size, r.max_file


@pytest.mark.parametrize("value, policy", [("no", "no"), (False, "no"), (None, "no"), ("always", "always"),
                                           ("on-failure", "on-failure"), ("on-failure:3", "on-failure:3"),
                                           ("unless-stopped", "unless-stopped")])
def test_restart_values(value, policy):
    assert restart_settings("s", {"restart": value}).policy == policy


@pytest.mark.parametrize("value", ["sometimes", "always:3", "on-failure:x", "on-failure:"])
def test_bad_restart_values(value):
    with pytest.raises(StackFileError, match="services.s.restart"):
        restart_settings("s", {"restart": value})


def test_deploy_restart_policy_wins_and_maps_conditions():
    r = restart_settings("s", {"restart": "always", "deploy": {"restart_policy": {
        "condition": "on-failure", "max_attempts": 4, "delay": "1500ms"}}})
    assert (r.policy, r.max_attempts, r.delay) == ("on-failure", 4, 1.5)
    assert restart_settings("s", {"deploy": {"restart_policy": {"condition": "none"}}}).policy == "no"
    assert restart_settings("s", {"deploy": {"restart_policy": {}}}).policy == "always"  # condition any
    with pytest.raises(StackFileError, match="condition"):
        restart_settings("s", {"deploy": {"restart_policy": {"condition": "sometimes"}}})


def test_healthcheck_forms():
    assert healthcheck("s", {}) is None
    assert healthcheck("s", {"healthcheck": {"disable": True, "test": "true"}}) == {"test": ["NONE"]}
    hc = healthcheck("s", {"healthcheck": {"test": "curl -f x", "interval": "1m30s", "timeout": "2s",
                                           "retries": 5, "start_period": "10s", "start_interval": "500ms"}})
    assert hc == {"test": ["CMD-SHELL", "curl -f x"], "interval": 90.0, "timeout": 2.0, "retries": 5,
                  "start_period": 10.0, "start_interval": 0.5}
    with pytest.raises(StackFileError, match="NONE, CMD or CMD-SHELL"):
        healthcheck("s", {"healthcheck": {"test": ["curl"]}})


def test_check_args():
    assert check_args(["CMD", "a", "b"]) == ["a", "b"]
    assert check_args(["CMD-SHELL", "a && b"]) == ["/bin/sh", "-c", "a && b"]
    assert check_args(["NONE"]) is None and check_args([]) is None


def test_service_fields_override_the_image_healthcheck():
    image = {"Test": ["CMD-SHELL", "img"], "Interval": 5_000_000_000, "Retries": 7}
    assert effective_healthcheck(None, image) == {"test": ["CMD-SHELL", "img"], "interval": 5.0, "retries": 7}
    merged = effective_healthcheck({"interval": 1.0}, image)
    assert merged["test"] == ["CMD-SHELL", "img"] and merged["interval"] == 1.0 and merged["retries"] == 7
    assert effective_healthcheck({"test": ["NONE"]}, image) is None


def test_log_rotation_options():
    assert log_rotation("s", {}) == (0, 1)
    assert log_rotation("s", {"logging": {"options": {"max-size": "10m", "max-file": "3"}}}) == (10_000_000, 3)
    assert log_rotation("s", {"logging": {"options": {"max-size": "1k"}}}) == (1000, 1)
    with pytest.raises(StackFileError, match="max-size"):
        log_rotation("s", {"logging": {"options": {"max-size": "lots"}}})
    with pytest.raises(StackFileError, match="needs max-size"):
        log_rotation("s", {"logging": {"options": {"max-file": "3"}}})


def test_log_times():
    now = 1_700_000_000.0
    assert parse_log_time("10m", now=now) == now - 600
    assert parse_log_time("1h30m", now=now) == now - 5400
    assert parse_log_time("1700000000.5") == 1_700_000_000.5
    assert parse_log_time("2023-11-14T22:13:20Z") == 1_700_000_000
    assert parse_log_time("2023-11-14T22:13:20.123456789Z") == pytest.approx(1_700_000_000.123456)
    assert parse_log_time("2023-11-14T23:13:20+01:00") == 1_700_000_000
    assert abs(parse_log_time("0s") - time.time()) < 5
    for bad in ("yesterday", "10 parsecs", "2023-13-45T00:00:00Z"):
        with pytest.raises(ComposerError):
            parse_log_time(bad, "--since")


def test_cp_arguments():
    assert split_ref("web:/etc/hosts") == ("web", "/etc/hosts")
    assert split_ref("./a:b") == (None, "./a:b")
    assert split_ref("/abs/path") == (None, "/abs/path")
    assert split_ref("plain") == (None, "plain")


def test_cp_placement(tmp_path):
    d = tmp_path / "dir"
    d.mkdir()
    f = tmp_path / "file"
    f.write_text("x")
    assert _placement("file", "a", str(d)) == (str(d), None)  # into a directory
    assert _placement("dir", "a", str(d)) == (str(d), None)
    assert _placement("file", "a", str(f)) == (str(tmp_path), "file")  # over a file
    assert _placement("dir", "a", str(tmp_path / "new")) == (str(tmp_path), "new")  # becomes the new path
    assert _placement("contents", ".", str(tmp_path / "made")) == (str(tmp_path / "made"), None)
    assert os.path.isdir(tmp_path / "made")
    with pytest.raises(CopyError, match="is a file"):
        _placement("dir", "a", str(f))
    with pytest.raises(CopyError, match="no such directory"):
        _placement("file", "a", str(tmp_path / "missing" / "x"))
    with pytest.raises(CopyError, match="no such directory"):
        _placement("file", "a", str(tmp_path / "nodir") + "/")
