"""Global options, argument types and the context handed to every command."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeAlias

from airlock.cli.api import Client, server_url
from airlock.cli.errors import CLIError
from airlock.cli.output import DEFAULT_FORMAT, FORMATS

# ACR's rule; checked here so a typo fails before any request, with the rule in the message.
_REGISTRY_NAME = re.compile(r"[a-zA-Z0-9]{5,50}")
SKUS = ("Basic", "Standard", "Premium")


class Context:
    """What a command needs besides its arguments; tests pass their own streams."""

    def __init__(
        self,
        debug: bool = False,
        only_show_errors: bool = False,
        stdin: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> None:
        self.debug = debug
        self.only_show_errors = only_show_errors
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stderr = stderr if stderr is not None else sys.stderr
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            from airlock.cli.signin import session_token

            url = server_url()
            self._client = Client(url, debug=self.debug, log=self.stderr, token=session_token(url))
        return self._client

    def warn(self, message: str) -> None:
        if not self.only_show_errors:
            print(f"WARNING: {message}", file=self.stderr)

    def confirm(self, question: str, yes: bool) -> None:
        """Ask before a destructive action unless ``--yes``; never wait on a pipe."""
        if yes:
            return
        if not self.stdin.isatty():
            raise CLIError("unable to prompt for confirmation as no tty is available; use --yes")
        print(f"{question} (y/n): ", end="", file=self.stderr, flush=True)
        answer = self.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise CLIError("operation cancelled")


if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction

Handler = Callable[[argparse.Namespace, Context], Any]


def add_global_arguments(parser: argparse.ArgumentParser) -> None:
    """az's global arguments, added last to every client command so that they come after the
    command name (``airlock acr list -o table``) and after its own options in help."""
    group = parser.add_argument_group("global arguments")
    group.add_argument(
        "--output",
        "-o",
        choices=FORMATS,
        type=str.lower,
        metavar="{" + ",".join(FORMATS) + "}",
        help=f"Output format (default: {DEFAULT_FORMAT}, or $AIRLOCK_OUTPUT when set).",
    )
    group.add_argument(
        "--query",
        type=query_type,
        metavar="JMESPATH",
        help="JMESPath query string, applied before the output format. "
        "See http://jmespath.org/ for more information and examples.",
    )
    group.add_argument(
        "--only-show-errors",
        action="store_true",
        help="Only show errors, suppressing warnings.",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        help="Print the HTTP requests sent to the Airlock server on stderr.",
    )


def output_format(requested: str | None, ctx: Context) -> str:
    if requested is not None:
        return requested
    configured = os.environ.get("AIRLOCK_OUTPUT", "").strip().lower()
    if not configured:
        return DEFAULT_FORMAT
    if configured not in FORMATS:
        ctx.warn(f"ignoring AIRLOCK_OUTPUT={configured!r}; expected one of {', '.join(FORMATS)}")
        return DEFAULT_FORMAT
    return configured


def query_type(value: str) -> str:
    from airlock.cli.output import check_query

    try:
        return check_query(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid JMESPath query {value!r}: {exc}") from None


def registry_name(value: str) -> str:
    if not _REGISTRY_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"invalid registry name {value!r}: a registry name has 5 to 50 characters, "
            "letters and digits only"
        )
    return value


def positive_int(value: str) -> int:
    number = _int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value!r}")
    return number


def port_number(value: str) -> int:
    number = _int(value)
    if not 1024 <= number <= 65535:
        raise argparse.ArgumentTypeError(
            f"a login server needs an unprivileged port, 1024 to 65535, not {value!r}"
        )
    return number


def sku_name(value: str) -> str:
    for sku in SKUS:
        if sku.lower() == value.lower():
            return sku
    raise argparse.ArgumentTypeError(f"invalid SKU {value!r}: choose from {', '.join(SKUS)}")


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None


def add_show_and_delete(
    subparsers: Subparsers,
    commands: tuple[tuple[str, str, Callable[..., Any]], ...],
    add_common: Callable[[argparse.ArgumentParser], None],
    table: Callable[..., Any],
) -> None:
    """``show`` and ``delete`` subcommands that take the same identifying options; ``delete``
    also takes ``--yes``."""
    for name, text, handler in commands:
        parser = subparsers.add_parser(name, help=text, description=text)
        add_common(parser)
        if name == "delete":
            parser.add_argument(
                "--yes", "-y", action="store_true", help="Do not prompt for confirmation."
            )
        add_global_arguments(parser)
        parser.set_defaults(handler=handler, table=table)


def add_registry_argument(
    parser: argparse.ArgumentParser, flags: tuple[str, ...] = ("--name", "-n")
) -> None:
    """az names the registry ``--name/-n`` on ``acr`` and ``acr repository`` commands and
    ``--registry/-r`` on ``acr task`` and ``acr manifest``; callers pass the flags az uses."""
    parser.add_argument(
        *flags,
        dest="registry",
        required=True,
        type=registry_name,
        metavar="NAME",
        help="The name of the container registry (5-50 alphanumeric characters).",
    )
