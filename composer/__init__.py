"""composer: declarative multi-container stacks on an embedded, daemonless engine."""

__version__ = "0.1.0"
