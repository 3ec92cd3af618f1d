"""Dockerfile text -> instructions.

Handles parser directives (`# escape=`, `# syntax=` at the top), comments, line continuations with
the escape character (also across comment and blank lines), and heredocs (`RUN <<EOF`, `COPY <<EOF
/dest`, several per line, `<<-` strips leading tabs, a quoted word turns expansion off).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from engine.images.build import BuildError

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


class Instr(StrEnum):
    """The instructions of a Dockerfile, as written (upper case)."""

    FROM = "FROM"
    ARG = "ARG"
    ENV = "ENV"
    LABEL = "LABEL"
    MAINTAINER = "MAINTAINER"
    USER = "USER"
    STOPSIGNAL = "STOPSIGNAL"
    WORKDIR = "WORKDIR"
    CMD = "CMD"
    ENTRYPOINT = "ENTRYPOINT"
    SHELL = "SHELL"
    EXPOSE = "EXPOSE"
    VOLUME = "VOLUME"
    HEALTHCHECK = "HEALTHCHECK"
    ONBUILD = "ONBUILD"
    RUN = "RUN"
    COPY = "COPY"
    ADD = "ADD"

    @classmethod
    def of(cls, word: str) -> Instr | None:
        """The instruction *word* names (any case), or None for an unknown one."""
        return cls.__members__.get(word.upper())


HEREDOC_INSTRUCTIONS = (Instr.RUN, Instr.COPY, Instr.ADD)


@dataclass
class Heredoc:
    name: str
    content: str
    expand: bool = True  # the word was not quoted: $VAR is substituted (by the shell for RUN)


@dataclass
class Instruction:
    cmd: str  # upper case: RUN, COPY... (an Instr's value when known; checked when the step runs)
    rest: str  # the arguments as written (continuations joined)
    line: int  # where it starts (1-based)
    heredocs: list[Heredoc] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.cmd} {self.rest}".strip()


@dataclass
class Dockerfile:
    instructions: list[Instruction]
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)
    name: str = "Dockerfile"


def parse(text: str, name: str = "Dockerfile") -> Dockerfile:
    lines = text.splitlines()
    directives: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i].strip())
        if not m or m.group(1).lower() in directives:
            break
        directives[m.group(1).lower()] = m.group(2)
        i += 1
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise BuildError(f"{name}:{i}: invalid escape character {escape!r}: use \\ or `")
    cont = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[Instruction] = []
    while i < len(lines):
        raw = lines[i]
        start = i + 1
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = []
        line = raw.lstrip()
        while True:
            m = cont.search(line)
            if not m:
                parts.append(line)
                break
            parts.append(line[:m.start()])
            # the next line that is not a comment or blank goes on
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1
            if i >= len(lines):
                break
            line = lines[i]
            i += 1
        logical = "".join(parts).strip()
        word, _, rest = logical.partition(" ")
        if not re.fullmatch(r"[A-Za-z]+", word.split("\t")[0]):
            raise BuildError(f"{name}:{start}: cannot parse {logical[:40]!r}: an instruction starts with a "
                             "keyword (FROM, RUN, COPY...)")
        if "\t" in word:
            word, _, more = word.partition("\t")
            rest = more + " " + rest
        inst = Instruction(word.upper(), rest.strip(), start)
        if inst.cmd in HEREDOC_INSTRUCTIONS:
            for m in _HEREDOC.finditer(inst.rest):
                strip_tabs, quoted, word_end = m.group(1) == "-", bool(m.group(2)), m.group(3)
                body = []
                while True:
                    if i >= len(lines):
                        raise BuildError(f"{name}:{start}: heredoc <<{word_end} is not terminated "
                                         f"(no line {word_end!r} follows)")
                    text_line = lines[i]
                    i += 1
                    if strip_tabs:
                        text_line = text_line.lstrip("\t")
                    if text_line == word_end:
                        break
                    body.append(text_line)
                content = "\n".join(body) + ("\n" if body else "")
                inst.heredocs.append(Heredoc(word_end, content, not quoted))
        out.append(inst)
    return Dockerfile(out, escape, directives, name)
