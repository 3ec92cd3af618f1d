"""The Dockerfile builder.

    dockerfile.py   text -> instructions (directives, line continuations, comments, heredocs)
    shellwords.py   Docker's word splitting and $VAR / ${VAR:-x} substitution
    options.py      an instruction's --flags and JSON (exec) form
    context.py      the build context and .dockerignore; COPY sources and their content hash
    layerfs.py      a read-only view of a stack of layer snapshots (overlayfs rules, no mount)
    layertar.py     writing layer tars: from a container's upper dir, and from files to copy
    copying.py      COPY / ADD planning (globs, --chown, --chmod, --from, tar auto-extraction)
    runstep.py      RUN in a container of the engine; its upper dir becomes the layer
    cache.py        step results keyed on parent state, instruction, args and content
    executor.py     stages and steps: the build itself
"""
from engine.errors import EngineError


class BuildError(EngineError):
    """A build failed; the message says where (Dockerfile:line) and why."""
