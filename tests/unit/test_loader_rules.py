"""Loader rules that the corpus does not show: discovery, names, environment, warnings, YAML keys."""
from __future__ import annotations

import os

import pytest

from composer.errors import StackFileError
from composer.load.loader import LoadOptions, load
from composer.load.parsers import format_duration, parse_bytes, parse_duration


def write(tmp_path, name, text):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return str(p)


def load_dir(tmp_path, **kw):
    kw.setdefault("environ", {})
    return load(LoadOptions(**kw), cwd=str(tmp_path))


@pytest.mark.parametrize("name", ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"])
def test_each_default_name_and_its_override(tmp_path, name):
    write(tmp_path, name, "services:\n  a:\n    image: base\n")
    stem, ext = os.path.splitext(name)
    write(tmp_path, f"{stem}.override{ext}", "services:\n  a:\n    image: over\n")
    assert load_dir(tmp_path).services["a"].image == "over"


def test_compose_yaml_wins_over_docker_compose_yml(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: new\n")
    write(tmp_path, "docker-compose.yml", "services:\n  a:\n    image: old\n")
    assert load_dir(tmp_path).services["a"].image == "new"


def test_compose_file_variable_with_separator(tmp_path):
    write(tmp_path, "one.yaml", "services:\n  a:\n    image: one\n")
    write(tmp_path, "two.yaml", "services:\n  a:\n    environment: [X=2]\n")
    p = load_dir(tmp_path, environ={"COMPOSE_FILE": f"one.yaml{os.pathsep}two.yaml"})
    assert (p.services["a"].image, p.services["a"].environment) == ("one", {"X": "2"})
    p = load_dir(tmp_path, environ={"COMPOSE_FILE": "one.yaml,two.yaml", "COMPOSE_PATH_SEPARATOR": ","})
    assert p.services["a"].environment == {"X": "2"}


def test_compose_file_and_project_name_from_dotenv(tmp_path):
    write(tmp_path, "stack.yaml", "services:\n  a:\n    image: one\n")
    write(tmp_path, ".env", "COMPOSE_FILE=stack.yaml\nCOMPOSE_PROJECT_NAME=fromdotenv\n")
    p = load_dir(tmp_path)
    assert p.name == "fromdotenv" and p.files == [str(tmp_path / "stack.yaml")]


def test_several_files_merge_in_order_and_project_dir_is_the_first_files(tmp_path):
    write(tmp_path, "base/compose.yaml", "services:\n  a:\n    image: one\n    volumes: [./data:/data]\n")
    write(tmp_path, "other/more.yaml", "services:\n  a:\n    image: two\n")
    p = load_dir(tmp_path, files=["base/compose.yaml", "other/more.yaml"])
    assert p.services["a"].image == "two"
    assert p.working_dir == str(tmp_path / "base")
    assert p.services["a"].volumes[0].source == str(tmp_path / "base" / "data")


def test_project_directory_option(tmp_path):
    write(tmp_path, "proj/compose.yaml", "services:\n  a:\n    image: x\n    volumes: [./d:/d]\n")
    write(tmp_path, "proj/.env", "T=fromproj\n")
    write(tmp_path, "proj/compose.yaml", "services:\n  a:\n    image: x:${T}\n    volumes: [./d:/d]\n")
    p = load_dir(tmp_path, project_dir="proj")
    assert p.name == "proj" and p.services["a"].image == "x:fromproj"
    assert p.services["a"].volumes[0].source == str(tmp_path / "proj" / "d")


def test_project_name_rules(tmp_path):
    d = tmp_path / "My.Project_Dir"
    write(d, "compose.yaml", "services:\n  a:\n    image: x\n")
    assert load_dir(d).name == "myproject_dir"
    for bad in ("Upper", "-lead", "has space", "dot.ted"):
        with pytest.raises(StackFileError, match="invalid project name"):
            load_dir(d, project_name=bad)
    with pytest.raises(StackFileError, match="from COMPOSE_PROJECT_NAME"):
        load_dir(d, environ={"COMPOSE_PROJECT_NAME": "Bad!"})


def test_env_file_option_replaces_dotenv(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x:${T}\n")
    write(tmp_path, ".env", "T=dotenv\n")
    write(tmp_path, "custom.env", "T=custom\n")
    assert load_dir(tmp_path).services["a"].image == "x:dotenv"
    assert load_dir(tmp_path, env_files=["custom.env"]).services["a"].image == "x:custom"
    assert load_dir(tmp_path, env_files=["custom.env"], environ={"T": "process"}).services["a"].image == "x:process"


def test_unset_variable_warns_once(tmp_path, capsys):
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x${NOPE}\n    command: echo $NOPE ${ALSO}\n")
    p = load_dir(tmp_path)
    assert p.services["a"].image == "x"
    err = capsys.readouterr().err
    assert err.count('The "NOPE" variable is not set. Defaulting to a blank string.') == 1
    assert '"ALSO" variable is not set' in err


def test_no_interpolate_keeps_references(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x:${TAG:?required}\n")
    assert load_dir(tmp_path, interpolate=False).services["a"].image == "x:${TAG:?required}"


def test_keys_read_as_numbers_or_booleans_become_strings(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n    labels:\n      1: one\n      true: yes\n"
                                    "    environment:\n      0.5: half\n")
    svc = load_dir(tmp_path).services["a"]
    assert svc.labels == {"1": "one", "true": "yes"}
    assert svc.environment == {"0.5": "half"}


def test_extension_fields_are_kept_at_top_level_and_dropped_in_services(tmp_path):
    write(tmp_path, "compose.yaml", "x-top: {a: 1}\nservices:\n  a:\n    image: x\n    x-mine: 2\n")
    raw = load_dir(tmp_path).raw
    assert raw["x-top"] == {"a": 1} and "x-mine" not in raw["services"]["a"]


def test_home_in_bind_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n    volumes: ['~/cfg:/cfg']\n")
    assert load_dir(tmp_path).services["a"].volumes[0].source == str(tmp_path / "home" / "cfg")


def test_reset_and_override_in_an_override_file(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n    ports: ['80:80']\n    environment: {A: '1', B: '2'}\n"
                                    "    command: [a]\n")
    write(tmp_path, "compose.override.yaml", "services:\n  a:\n    ports: !reset []\n    environment:\n      A: !reset\n"
                                             "    command: !reset null\n")
    svc = load_dir(tmp_path).services["a"]
    assert svc.ports == [] and svc.environment == {"B": "2"} and svc.command is None


def test_profiles_pull_in_dependencies(tmp_path):
    write(tmp_path, "compose.yaml", """
services:
  web: {image: x, depends_on: [db]}
  db: {image: x, profiles: [data]}
  tool: {image: x, profiles: [tools]}
""")
    assert set(load_dir(tmp_path).services) == {"web", "db"}
    assert set(load_dir(tmp_path, profiles=["tools"]).services) == {"web", "db", "tool"}
    assert set(load_dir(tmp_path, environ={"COMPOSE_PROFILES": "tools,data"}).services) == {"web", "db", "tool"}


def test_raw_value_helpers():
    assert parse_duration("1m30s") == 90 and parse_duration("500ms") == 0.5 and parse_duration(3) == 3
    assert parse_duration("1h2m3.5s") == 3723.5
    assert format_duration(90) == "1m30s" and format_duration(3600) == "1h0m0s" and format_duration(0.5) == "500ms"
    assert format_duration(1.5) == "1.5s" and format_duration(0) == "0s"
    assert parse_bytes("512m") == 512 * 2**20 and parse_bytes("1g") == 2**30 and parse_bytes("1.5GiB") == 3 * 2**29
    assert parse_bytes("100kb") == 102400 and parse_bytes(42) == 42 and parse_bytes("-1") == -1
    with pytest.raises(StackFileError):
        parse_duration("10 seconds")
    with pytest.raises(StackFileError):
        parse_bytes("lots")


def test_stdin_file(tmp_path, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("services:\n  a:\n    image: from-stdin\n"))
    p = load_dir(tmp_path, files=["-"])
    assert p.services["a"].image == "from-stdin"


def test_empty_file_is_an_error_as_in_docker_compose(tmp_path):
    write(tmp_path, "compose.yaml", "# only a comment\n")
    with pytest.raises(StackFileError, match="compose.yaml: empty compose file"):
        load_dir(tmp_path)
    write(tmp_path, "compose.yaml", "services: {}\n")
    assert load_dir(tmp_path).services == {}


@pytest.mark.parametrize("command", ["echo a)b", "echo (a b)", "echo $$(echo $$(x) y)", "echo $$((1 + 2))",
                                     "echo 'open", 'echo "open', "echo `open", "echo $$(open"])
def test_command_strings_docker_compose_refuses(tmp_path, command):
    # docker compose 2.40.3 answers each with "invalid command line string"
    write(tmp_path, "compose.yaml", f"services:\n  a:\n    image: x\n    command: {command}\n")
    with pytest.raises(StackFileError, match="invalid command line string"):
        load_dir(tmp_path)


def test_only_an_empty_merged_result_is_an_error(tmp_path):
    # as Docker Compose: a file of comments among others (or included) adds nothing; all empty is an error
    a = write(tmp_path, "a.yaml", "# a\n")
    b = write(tmp_path, "b.yaml", "# b\n")
    with pytest.raises(StackFileError, match="a.yaml, .*b.yaml: empty compose file"):
        load_dir(tmp_path, files=[a, b])
    write(tmp_path, "compose.yaml", "include:\n  - a.yaml\nservices:\n  web:\n    image: x\n")
    assert list(load_dir(tmp_path).services) == ["web"]


def test_a_config_with_no_body_and_no_base_definition_is_an_error(tmp_path):
    # an override may name a secret/config with no body (the base's definition stays); alone it is an error
    write(tmp_path, "compose.yaml", "services:\n  web:\n    image: x\nconfigs:\n  cfg:\n")
    with pytest.raises(StackFileError, match=r"compose.yaml:5: configs.cfg: must be of type object, not null"):
        load_dir(tmp_path)
