"""The typed model (composer/load/typed.py): bad values fail at load, in `config` too, with file:line and
the attribute's path; `run -p` reads ports as `ports:` does."""
from __future__ import annotations

import argparse

import pytest

from composer.cli.commands import run as run_command
from composer.cli.main import main
from composer.converge import containerspec
from composer.load.loader import LoadOptions, load


def config(tmp_path, capsys, monkeypatch, text: str):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(text)
    code = main(["-p", "typed", "config"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("service, path, line, message", [
    ("    healthcheck:\n      test: [\"WHAT\"]\n", "services.web.healthcheck.test", 5, "NONE, CMD or CMD-SHELL"),
    ("    logging:\n      options:\n        max-size: 10q\n", "services.web.logging.options.max-size", 6,
     "invalid size '10q'"),
    ("    tmpfs: [\"/t:size=lots\"]\n", "services.web.tmpfs[0]", 4, "lots"),
])
def test_bad_values_fail_config_with_file_line_and_path(tmp_path, capsys, monkeypatch, service, path, line, message):
    code, out, err = config(tmp_path, capsys, monkeypatch, "services:\n  web:\n    image: x\n" + service)
    assert code == 1 and out == ""
    assert err.count("\n") == 1, err
    assert f"compose.yaml:{line}: {path}: " in err and message in err, err


def test_a_good_healthcheck_and_log_rotation_are_typed(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: x\n    healthcheck: {test: [CMD, 'true'], interval: 1m30s, retries: 2}\n"
        "    logging: {options: {max-size: 10m, max-file: '3'}}\n")
    svc = load(LoadOptions(project_name="t", environ={}), cwd=str(tmp_path)).services["web"]
    assert (svc.healthcheck.test, svc.healthcheck.interval, svc.healthcheck.retries) == (["CMD", "true"], 90.0, 2)
    assert (svc.logging.max_size, svc.logging.max_file) == (10_000_000, 3)


def _run_args(*argv):
    p = argparse.ArgumentParser()
    run_command.configure(p)
    return p.parse_args(list(argv))


def test_run_publishes_a_host_port_range_as_up_does(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: x\n    ports: ['127.0.0.1:8000-8010:80/udp']\n")
    project = load(LoadOptions(project_name="t", environ={}), cwd=str(tmp_path))
    svc = project.services["web"]
    up = containerspec.container_spec(project, svc).ports
    (binding,) = run_command.one_off_spec(project, svc, _run_args("-p", "127.0.0.1:8000-8010:80/udp", "web")).ports
    assert (binding.host_port, binding.host_port_end, binding.container_port, binding.host_ip, binding.protocol) \
        == (8000, 8010, 80, "127.0.0.1", "udp")
    assert [binding] == up
    (random,) = run_command.one_off_spec(project, svc, _run_args("-p", "80", "web")).ports
    assert (random.host_port, random.host_port_end, random.container_port) == (0, 0, 80)
