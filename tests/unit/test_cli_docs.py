"""docs/cli.md must match what the parser generates."""

from __future__ import annotations

from pathlib import Path

from airlock.cli.main import build_parser
from airlock.cli.reference import render_markdown, walk

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_current() -> None:
    expected = render_markdown(build_parser())
    current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    assert current == expected, (
        "docs/cli.md is out of date with the CLI parser; "
        "run '.venv/bin/python scripts/gen_cli_docs.py' and commit the result"
    )


def test_reference_documents_every_command_and_option() -> None:
    text = render_markdown(build_parser())
    for path, parser in walk(build_parser()):
        assert f"`{' '.join(path)}`" in text
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}`" in text, f"{flag} of {' '.join(path)} is not documented"


def test_reference_shows_defaults() -> None:
    assert "| `--port` `PORT` | The port of the REST API. | `5080` |" in render_markdown(
        build_parser()
    )
