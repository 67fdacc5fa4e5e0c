"""MkDocs hook: the CLI reference is generated from the argparse parser the CLI itself uses, so it
never drifts from `mnistlab --help`. A page holding the marker below gets one section per command."""

from __future__ import annotations

import argparse
import os

MARKER = "<!-- cli-reference -->"


def _commands(parser: argparse.ArgumentParser, prefix: str = "mnistlab"):
    """(full command, its parser) for every command and sub-command, in the order of `--help`."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{prefix} {name}")


def reference() -> str:
    os.environ["COLUMNS"] = "100"  # the same wrapping on every machine
    from mnistlab.cli import build_parser

    parts = []
    for command, parser in _commands(build_parser()):
        parts.append(f"## `{command}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, reference())
    return markdown
