"""What the progress display and `ps` write: no escape codes off a terminal, rows that never wrap,
commands quoted on one line as Docker prints them."""
from __future__ import annotations

import io

from composer.cli.commands.ps import command_line, go_quote
from composer.progress import DONE, Progress


class FakeTerminal(io.StringIO):
    def __init__(self, columns: int, lines: int):
        super().__init__()
        self.size = (columns, lines)

    def isatty(self) -> bool:
        return True


def test_plain_output_has_no_escape_codes_even_for_warnings():
    out = io.StringIO()
    p = Progress("auto", stream=out)
    p.update("Container", "a-1", "Started", DONE)
    p.warn("Found orphan containers")
    p.close()
    assert "\x1b" not in out.getvalue()
    assert out.getvalue() == " Container a-1  Started\nWARN Found orphan containers\n"


def test_terminal_rows_fit_the_width_and_the_block_fits_the_screen(monkeypatch):
    out = FakeTerminal(40, 6)
    p = Progress("tty", stream=out)
    monkeypatch.setattr(p, "_size", lambda: out.size)
    for i in range(10):
        p.update("Container", f"project-with-a-long-name-service-{i}-1", "Started", DONE)
    p.close()
    last = out.getvalue().rsplit("\x1b[", 1)[0].rsplit("A\r", 1)[-1]  # the final redraw
    import re

    rows = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", r) for r in last.split("\n") if r]
    assert rows[0].startswith("[+] Running 10/10")
    assert len(rows) <= 5 and all(len(r) <= 39 for r in rows), rows


def test_commands_are_quoted_on_one_line_as_docker_does():
    assert command_line(["sh", "-c", "echo a; echo b"]) == "sh -c 'echo a; echo b'"
    assert go_quote('say "hi"\n\tdone\x01') == '"say \\"hi\\"\\n\\tdone\\x01"'
