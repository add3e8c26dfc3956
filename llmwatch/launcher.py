"""The `llmwatch` command's entry point. The producer install (`pip install llmwatch`) leaves
the CLI's libraries out (typer, rich: the app never runs the CLI); there the command says
what to install instead of a traceback, and `--version` still answers."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        import rich  # noqa: F401
        import typer  # noqa: F401
    except ImportError:
        from llmwatch import __version__

        if sys.argv[1:] == ["--version"]:
            print(f"llmwatch {__version__}")
            return
        sys.stderr.write(
            "error: the llmwatch command is not in this install (the producer side: the SDK "
            "and the event contract). For the service and its CLI: pip install "
            "'llmwatch[server]'; for the CLI alone: pip install 'llmwatch[cli]'\n")
        sys.exit(2)
    from llmwatch.cli import main as cli

    cli()
