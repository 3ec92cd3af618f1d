"""Hostile or malformed stack files: each gives one clear error line naming file:line and the path,
never an unexpected exception (duplicate keys, bad published ports, deep interpolation, huge durations)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from composer.errors import StackFileError
from composer.load.loader import LoadOptions, load

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_text(tmp_path, text: str, override: str | None = None, environ: dict | None = None):
    (tmp_path / "compose.yaml").write_text(text)
    if override is not None:
        (tmp_path / "compose.override.yaml").write_text(override)
    return load(LoadOptions(project_name="inputs", environ=environ or {}), cwd=str(tmp_path))


def error_of(tmp_path, text: str, **kw) -> str:
    with pytest.raises(StackFileError) as e:
        load_text(tmp_path, text, **kw)
    message = str(e.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("text, line, first", [
    ("services:\n  web:\n    image: a\n  web:\n    image: b\n", 4, 2),
    ("services:\n  web:\n    image: a\n    image: b\n", 4, 3),
    ("services:\n  web:\n    image: a\n    environment:\n      A: 1\n      B: 2\n      A: 3\n", 7, 5),
    ("services:\n  web: {image: a, image: b}\n", 2, 2),
    ("services:\n  web:\n    image: a\n    labels:\n      1: x\n      '1': y\n", 6, 5),
    ("services:\n  web:\n    image: a\nnetworks:\n  n: {}\nnetworks:\n  m: {}\n", 6, 4),
    ("services:\n  web:\n    image: a\n    environment: !override\n      A: 1\n      A: 2\n", 6, 5),
    ("x-a: &a {image: a}\nx-b: &b {restart: always}\nservices:\n  web:\n    <<: *a\n    <<: *b\n", 6, 5),
])
def test_duplicate_keys_are_refused_with_both_lines(tmp_path, text, line, first):
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path}/compose.yaml:{line}: "), message
    assert f"already defined at line {first}" in message and "mapping key" in message


def test_duplicate_key_in_an_override_file_names_that_file(tmp_path):
    message = error_of(tmp_path, "services:\n  web:\n    image: a\n",
                       override="services:\n  web:\n    ports: ['80']\n    ports: ['81']\n")
    assert message.startswith(f"{tmp_path}/compose.override.yaml:4: ")
    assert 'mapping key "ports" already defined at line 3' in message


def test_merge_keys_may_be_overridden(tmp_path):
    project = load_text(tmp_path, "x-base: &base\n  image: a\n  restart: always\n  environment: {A: '1'}\n"
                                  "services:\n  web:\n    <<: *base\n    image: b\n"
                                  "  db:\n    <<: [*base, {command: x}]\n    restart: 'no'\n")
    web, db = project.services["web"], project.services["db"]
    assert (web.image, web.restart.policy, web.environment) == ("b", "always", {"A": "1"})
    assert (db.image, db.restart.policy, db.raw["command"]) == ("a", "no", ["x"])


@pytest.mark.parametrize("published", ["../../..", "abc", "80-", "-80", "8080-80", "99999", "1.5"])
def test_bad_published_port_in_long_syntax(tmp_path, published):
    message = error_of(tmp_path, f"services:\n  web:\n    image: a\n    ports:\n"
                                 f"      - target: 80\n        published: '{published}'\n")
    assert message.startswith(f"{tmp_path}/compose.yaml:5: services.web.ports[0]: published: "), message


def test_good_published_ports_in_long_syntax(tmp_path):
    project = load_text(tmp_path, "services:\n  web:\n    image: a\n    ports:\n      - {target: 80, published: 8080}\n"
                                  "      - {target: 81, published: '9000-9001'}\n      - {target: 82, published: ' 83 '}\n")
    assert [(p.target, p.published) for p in project.services["web"].ports] == [(80, 8080), (81, 9000), (82, 83)]


@pytest.mark.parametrize("depth", [60, 2000, 20000])
def test_deeply_nested_interpolation_is_refused(tmp_path, depth):
    value = "${A:-" * depth + "x" + "}" * depth
    message = error_of(tmp_path, f"services:\n  web:\n    image: \"{value}\"\n")
    assert message == f"{tmp_path}/compose.yaml:3: services.web.image: variables are nested more than 50 levels deep"


def test_nested_interpolation_within_the_limit_works(tmp_path):
    value = "${A:-" * 40 + "x" + "}" * 40
    assert load_text(tmp_path, f"services:\n  web:\n    image: \"{value}\"\n").services["web"].image == "x"
    assert load_text(tmp_path, f"services:\n  web:\n    image: \"{'${A:-' * 3000}x{'}' * 3000}\"\n",
                     environ={"A": "set"}).services["web"].image == "set"  # the default is never evaluated


@pytest.mark.parametrize("value", ["1e308", ".inf", ".nan", "99999999999999999999h", "300000000h"])
def test_durations_beyond_gos_range_are_refused(tmp_path, value):
    message = error_of(tmp_path, f"services:\n  web:\n    image: a\n    stop_grace_period: {value}\n")
    assert message.startswith(f"{tmp_path}/compose.yaml:4: services.web.stop_grace_period: invalid duration ")
    assert "out of range" in message


@pytest.mark.parametrize("text", [
    "services:\n  web:\n    image: a\n    image: b\n",
    "services:\n  web:\n    image: a\n    ports:\n      - target: 80\n        published: '../../..'\n",
    "services:\n  web:\n    image: \"" + "${A:-" * 2000 + "x" + "}" * 2000 + "\"\n",
    "services:\n  web:\n    image: a\n    stop_grace_period: 1e308\n",
])
def test_composer_config_prints_one_line_and_exits_1(tmp_path, text):
    (tmp_path / "compose.yaml").write_text(text)
    res = subprocess.run([sys.executable, "-m", "composer", "--root", str(tmp_path / "root"), "config"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": REPO})
    assert res.returncode == 1, res
    assert res.stdout == "" and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(f"error: {tmp_path}/compose.yaml:") and "unexpected" not in res.stderr


@pytest.mark.parametrize("text, error", [
    ("services: [a]\n", "compose.yaml:1: services: must be of type object, not array"),
    ("services:\n  a: null\n", "compose.yaml:2: services.a: must be of type object, not null"),
    ("services:\n  a:\n    image: x\n    image: y\n", 'compose.yaml:4: invalid YAML: mapping key "image" already defined'),
    ("services:\n  a:\n    image: x\n    restart: ${R}\n    ports: ['${P}:80']\n    cpus: ${C}\n", None),
])
def test_config_no_interpolate_still_checks_the_shape(tmp_path, capsys, monkeypatch, text, error):
    from composer.cli.main import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(text)
    code = main(["--root", str(tmp_path / "root"), "-p", "raw", "config", "--no-interpolate"])
    err = capsys.readouterr().err
    if error is None:
        assert code == 0 and err == ""
    else:
        assert code == 1 and err.count("\n") == 1 and error in err, err


def test_endless_files_are_refused_not_read_forever(tmp_path):
    message = error_of(tmp_path, "services:\n  a:\n    image: x\n    env_file: /dev/zero\n")
    assert message == "/dev/zero: env file is larger than 64 MiB; refusing to read it"
    with pytest.raises(StackFileError, match="^/dev/zero: larger than 64 MiB"):
        load(LoadOptions(project_name="inputs", environ={}, files=["/dev/zero"]), cwd=str(tmp_path))
