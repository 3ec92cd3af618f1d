"""`composer completion bash|zsh`: a shell completion script, made from the commands' own parsers."""
from __future__ import annotations

HELP = "print a shell completion script (bash or zsh)"

# commands whose positional arguments are service names
SERVICE_ARGS = {"up", "down", "ps", "logs", "exec", "stop", "start", "restart", "create", "rm", "kill", "pause",
                "unpause", "top", "port", "run", "pull", "push", "build", "images", "wait", "attach", "stats",
                "watch", "events", "cp"}


def configure(p) -> None:
    p.add_argument("shell", choices=["bash", "zsh"])


def tree() -> dict[str, list[str]]:
    """Each command (and `group action`) with its options; groups map to their actions."""
    import argparse

    from composer.cli.main import COMMANDS_PACKAGE, _find, _listing

    out: dict[str, list[str]] = {}
    for name, _ in _listing(COMMANDS_PACKAGE):
        module = _find(COMMANDS_PACKAGE, name)
        if hasattr(module, "__path__"):
            actions = [a for a, _ in _listing(module.__name__)]
            out[name] = actions
            for action in actions:
                out[f"{name} {action}"] = _options(_find(module.__name__, action), argparse)
        else:
            out[name] = _options(module, argparse)
    return out


def _options(module, argparse) -> list[str]:
    p = argparse.ArgumentParser()
    module.configure(p)
    return sorted(opt for a in p._actions for opt in a.option_strings if opt.startswith("--") or len(opt) == 2)


def run(args) -> int:
    from composer.cli.main import global_parser

    commands = tree()
    top_opts = sorted(o for a in global_parser()._actions for o in a.option_strings)
    if args.shell == "bash":
        print(_bash(commands, top_opts))
    else:
        print(_zsh(commands, top_opts))
    return 0


def _bash(commands: dict[str, list[str]], top_opts: list[str]) -> str:
    cases = "\n".join(f'        "{key}") words_="{" ".join(words)}" ;;' for key, words in sorted(commands.items()))
    top = " ".join(k for k in commands if " " not in k)
    services = "|".join(sorted(SERVICE_ARGS))
    groups = "|".join(sorted({k.split()[0] for k in commands if " " in k}))
    return f'''# bash completion for composer: eval "$(composer completion bash)"
_composer() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" cmd="" i words_=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            -f|--file|-p|--project-name|--project-directory|--env-file|--root|--profile|--ansi|--progress) ((i++)) ;;
            -*) ;;
            *) if [ -z "$cmd" ]; then cmd="${{COMP_WORDS[i]}}"
               else case "$cmd" in {groups}) cmd="$cmd ${{COMP_WORDS[i]}}" ;; esac; fi ;;
        esac
    done
    if [ -z "$cmd" ]; then
        COMPREPLY=($(compgen -W "{top} {" ".join(top_opts)}" -- "$cur")); return
    fi
    case "$cmd" in
{cases}
    esac
    case "$cmd" in
        {services})
            [[ "$cur" != -* ]] && words_="$words_ $(composer config --services 2>/dev/null)" ;;
    esac
    COMPREPLY=($(compgen -W "$words_" -- "$cur"))
}}
complete -F _composer composer'''


def _zsh(commands: dict[str, list[str]], top_opts: list[str]) -> str:
    return "# zsh completion for composer: eval \"$(composer completion zsh)\"\n" \
           "autoload -U +X bashcompinit && bashcompinit\n" + _bash(commands, top_opts)
