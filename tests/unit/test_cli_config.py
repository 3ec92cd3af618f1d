"""`composer config` and CLI error handling, run in-process (no root needed)."""
import json

from composer.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_config_json_shape(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    ports: ['127.0.0.1:8080:80']\n    volumes: [data:/d]\nvolumes:\n  data:\n")
    code, out, err = run(capsys, "-p", "demo", "config", "--format", "json")
    assert code == 0, err
    cfg = json.loads(out)
    assert cfg["name"] == "demo"
    assert cfg["services"]["web"]["ports"] == [
        {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080", "protocol": "tcp"}]
    assert cfg["services"]["web"]["networks"] == {"default": None}
    assert cfg["networks"] == {"default": {"name": "demo_default", "ipam": {}}}
    assert cfg["volumes"] == {"data": {"name": "demo_data"}}


def test_config_lists(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text("services:\n  b: {image: y}\n  a: {image: x}\n")
    assert run(capsys, "config", "--services")[1].split() == ["b", "a"]
    assert run(capsys, "config", "--images")[1].split() == ["y", "x"]
    assert run(capsys, "config", "-q") == (0, "", "")


def test_errors_are_one_line_without_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "config")
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("error: no configuration file provided")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n    command: [unclosed\n")
    code, out, err = run(capsys, "config")
    assert code != 0 and err.count("\n") == 1
    assert f"{tmp_path}/compose.yaml:" in err and "Traceback" not in err


def test_interpolation_error_names_variable_and_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    (tmp_path / "compose.yaml").write_text("services:\n  db:\n    image: x\n    environment:\n      P: ${DB_PASSWORD:?set it}\n")
    code, out, err = run(capsys, "config")
    assert code != 0
    assert "DB_PASSWORD" in err and f"{tmp_path}/compose.yaml:5" in err and "set it" in err
