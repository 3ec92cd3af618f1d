"""composer: declarative multi-container stacks on an embedded, daemonless engine."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `from composer import Stack` without making every `composer` command import the API
    if name in ("Stack", "ExecResult", "ContainerState", "Snapshot"):
        from composer import stack

        return getattr(stack, name)
    raise AttributeError(f"module 'composer' has no attribute {name!r}")
