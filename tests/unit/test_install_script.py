"""scripts/install.sh leaves another program at its command path alone (PHP's Composer lives at
/usr/local/bin/composer on many hosts) and says what to do instead."""
from __future__ import annotations

import os
import subprocess

from tests.conftest import REPO

SCRIPT = os.path.join(REPO, "scripts", "install.sh")
PHP_COMPOSER = "#!/usr/bin/env php\n<?php\n// Composer, the PHP dependency manager\n"


def test_another_program_at_the_path_is_refused_and_kept(tmp_path):
    other = tmp_path / "composer"
    other.write_text(PHP_COMPOSER)
    res = subprocess.run(["bash", SCRIPT, "--bin", str(other)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    [line] = res.stderr.strip().splitlines()
    assert str(other) in line and "--force" in line and "--bin" in line
    assert other.read_text() == PHP_COMPOSER


def test_a_link_to_another_program_is_refused_too(tmp_path):
    target = tmp_path / "composer.phar"
    target.write_text(PHP_COMPOSER)
    link = tmp_path / "bin" / "composer"
    link.parent.mkdir()
    link.symlink_to(target)
    res = subprocess.run(["bash", SCRIPT, f"--bin={link}"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "another program" in res.stderr
    assert os.readlink(link) == str(target)


def test_unknown_arguments_are_one_line_errors():
    res = subprocess.run(["bash", SCRIPT, "--nope"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1


def test_a_link_that_leads_nowhere_or_to_our_own_command_is_replaceable(tmp_path):
    """A removed checkout leaves its link dangling, and an earlier install left our own entry point:
    neither is another program to protect."""
    link = tmp_path / "composer"
    link.symlink_to(tmp_path / "gone" / ".venv" / "bin" / "composer")
    res = subprocess.run(["bash", SCRIPT, "--bin", str(link), "--check"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stderr == ""
    ours = tmp_path / "ours"
    ours.write_text("#!/some/venv/bin/python3\nimport sys\nfrom composer.cli.main import run_cli\n")
    res = subprocess.run(["bash", SCRIPT, "--bin", str(ours), "--check"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stderr == ""
    other = tmp_path / "other"
    other.write_text(PHP_COMPOSER)
    res = subprocess.run(["bash", SCRIPT, "--bin", str(other), "--check"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "another program" in res.stderr
