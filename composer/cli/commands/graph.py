"""`composer graph`: the services' dependency graph, as text, DOT or Mermaid."""
from __future__ import annotations

HELP = "show the service dependency graph (text, dot or mermaid)"


def configure(p) -> None:
    p.add_argument("--format", default="text", choices=["text", "dot", "mermaid"],
                   help="text (start order with dependencies), dot (Graphviz) or mermaid")


def run(args) -> int:
    import sys

    from composer import graph
    from composer.cli.project import load_project

    g = graph.Graph(load_project(args))
    render = {"text": graph.render_text, "dot": graph.render_dot, "mermaid": graph.render_mermaid}[args.format]
    sys.stdout.write(render(g))
    return 0
