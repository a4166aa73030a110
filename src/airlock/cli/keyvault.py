"""``airlock keyvault``: vaults, their access policies and secrets (``az keyvault`` shapes)."""

from __future__ import annotations

import argparse
import base64
import re
from pathlib import Path
from typing import Any

from airlock.cli.api import segment
from airlock.cli.errors import EXIT_NOT_FOUND, EXIT_USAGE, CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments

# Text encodings decode the file; binary ones turn its bytes into text (as az does).
ENCODINGS = ("utf-8", "ascii", "base64", "hex", "utf-16be", "utf-16le")
SECRET_PERMISSIONS = (
    "all",
    "backup",
    "delete",
    "get",
    "list",
    "purge",
    "recover",
    "restore",
    "set",
)
# A secret identifier in Airlock's or Azure's form (the server checks the names themselves).
_SECRET_ID = re.compile(
    r"^https://([^./]+)\.vault\.(?:airlock\.internal|azure\.net)(?::443)?"
    r"/secrets/([^/]+)(?:/([^/]+))?/?$",
    re.IGNORECASE,
)


def register(subparsers: Subparsers) -> None:
    _vault_command(subparsers, "create", "Create a key vault.", create, location=True)
    _vault_command(subparsers, "show", "Show the details of a key vault.", show)
    _add_list(subparsers)
    _vault_command(
        subparsers,
        "delete",
        "Delete a key vault with its secrets and policies (there is no soft delete).",
        delete,
    )
    _add_set_policy(subparsers)
    _add_delete_policy(subparsers)
    secret_parser = subparsers.add_parser(
        "secret",
        help="Manage secrets of a key vault.",
        description="Manage secrets: values are encrypted at rest and masked in Airlock's logs.",
    )
    secret_parser.set_defaults(handler=None, group=secret_parser)
    _register_secret(secret_parser.add_subparsers(title="commands", metavar="COMMAND"))


def _vault_command(
    subparsers: Subparsers, name: str, text: str, handler: Any, location: bool = False
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=text, description=text)
    _add_vault_name(parser)
    _add_resource_group(parser)
    if location:
        parser.add_argument(
            "--location", "-l", help="Location, recorded for az compatibility (default: local)."
        )
    add_global_arguments(parser)
    parser.set_defaults(handler=handler)
    return parser


def _add_list(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "list", help="List key vaults.", description="List key vaults, optionally of one group."
    )
    _add_resource_group(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=list_vaults)


def _add_set_policy(subparsers: Subparsers) -> None:
    text = (
        "Grant an identity permissions on the secrets of a key vault, replacing the secret "
        "permissions it had there. The object id is the principalId of an identity or of a "
        "task's identity (airlock acr task show --query identity.principalId -o tsv)."
    )
    parser = subparsers.add_parser(
        "set-policy", help="Update the access policy of a key vault.", description=text
    )
    _add_vault_name(parser)
    _add_resource_group(parser)
    _add_object_id(parser)
    parser.add_argument(
        "--secret-permissions",
        nargs="+",
        required=True,
        type=str.lower,
        choices=SECRET_PERMISSIONS,
        metavar="PERMISSION",
        help=f"Space-separated secret permissions: {', '.join(SECRET_PERMISSIONS)}.",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=set_policy)


def _add_delete_policy(subparsers: Subparsers) -> None:
    text = "Remove an identity's access policy from a key vault."
    parser = subparsers.add_parser("delete-policy", help=text, description=text)
    _add_vault_name(parser)
    _add_resource_group(parser)
    _add_object_id(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=delete_policy)


def _register_secret(subparsers: Subparsers) -> None:
    _add_secret_set(subparsers)
    _add_secret_show(subparsers)
    parser = subparsers.add_parser(
        "list",
        help="List the secrets of a key vault (without values).",
        description="List the current version of every secret of a key vault, without values.",
    )
    _add_vault_ref(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=list_secrets)
    for name, text, handler in (
        ("list-versions", "List the versions of a secret (without values).", list_versions),
        ("delete", "Delete a secret with all its versions.", delete_secret),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        _add_vault_ref(parser)
        _add_secret_name(parser)
        add_global_arguments(parser)
        parser.set_defaults(handler=handler)


def _add_secret_set(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "set",
        help="Create a secret, or a new version of it.",
        description="Create a secret, or a new version of an existing one. The value is "
        "encrypted at rest; it is returned in the output, as az does.",
    )
    _add_vault_ref(parser)
    _add_secret_name(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--value", help="The value of the secret.")
    source.add_argument("--file", "-f", type=Path, help="Read the value from this file.")
    parser.add_argument(
        "--encoding",
        "-e",
        choices=ENCODINGS,
        default="utf-8",
        help="How to read --file: a text encoding, or base64/hex of the file's bytes.",
    )
    parser.add_argument("--content-type", help="Description of the secret contents.")
    add_global_arguments(parser)
    parser.set_defaults(handler=set_secret)


def _add_secret_show(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "show",
        help="Get a secret and its value.",
        description="Get a secret's latest (or given) version with its value. Name it by "
        "--vault-name and --name, or by --id with its identifier (Airlock's "
        "https://<vault>.vault.airlock.internal/secrets/<name>[/<version>] or Azure's "
        "https://<vault>.vault.azure.net/secrets/<name>[/<version>], read as Airlock's vault).",
    )
    parser.add_argument("--vault-name", metavar="VAULT", help="Name of the key vault.")
    parser.add_argument("--name", "-n", help="Name of the secret.")
    parser.add_argument("--version", "-v", help="The secret version (default: the latest).")
    parser.add_argument("--id", dest="secret_id", metavar="URI", help="The secret identifier.")
    add_global_arguments(parser)
    parser.set_defaults(handler=show_secret)


def _add_vault_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name", "-n", dest="vault", required=True, metavar="VAULT", help="Name of the key vault."
    )


def _add_vault_ref(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vault-name", dest="vault", required=True, metavar="VAULT", help="Name of the key vault."
    )


def _add_secret_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", "-n", required=True, help="Name of the secret.")


def _add_object_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--object-id", required=True, metavar="ID", help="The principalId of the identity."
    )


def _add_resource_group(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resource-group",
        "-g",
        metavar="GROUP",
        help="Name of resource group (a label Airlock records; checked when given).",
    )


def _vault_path(vault: str) -> str:
    return f"/api/vaults/{segment(vault)}"


def create(args: argparse.Namespace, ctx: Context) -> Any:
    body = {"name": args.vault, "resourceGroup": args.resource_group, "location": args.location}
    return ctx.client.post("/api/vaults", {k: v for k, v in body.items() if v is not None})


def show(args: argparse.Namespace, ctx: Context) -> Any:
    vault = ctx.client.get(_vault_path(args.vault))
    if args.resource_group and str(vault.get("resourceGroup", "")).lower() != (
        args.resource_group.lower()
    ):
        raise CLIError(
            f"vault '{args.vault}' not found in resource group '{args.resource_group}'",
            EXIT_NOT_FOUND,
        )
    return vault


def _check_group(args: argparse.Namespace, ctx: Context) -> None:
    if args.resource_group:
        show(args, ctx)


def list_vaults(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get("/api/vaults", {"resourceGroup": args.resource_group})


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    _check_group(args, ctx)
    return ctx.client.delete(_vault_path(args.vault))


def set_policy(args: argparse.Namespace, ctx: Context) -> Any:
    _check_group(args, ctx)
    path = f"{_vault_path(args.vault)}/policies/{segment(args.object_id)}"
    return ctx.client.request("PUT", path, body={"secretPermissions": args.secret_permissions})


def delete_policy(args: argparse.Namespace, ctx: Context) -> Any:
    _check_group(args, ctx)
    return ctx.client.delete(f"{_vault_path(args.vault)}/policies/{segment(args.object_id)}")


def _secret_path(vault: str, name: str) -> str:
    return f"{_vault_path(vault)}/secrets/{segment(name)}"


def set_secret(args: argparse.Namespace, ctx: Context) -> Any:
    value = args.value if args.file is None else read_value(args.file, args.encoding)
    body = {"value": value, "contentType": args.content_type}
    return ctx.client.request(
        "PUT",
        _secret_path(args.vault, args.name),
        body={k: v for k, v in body.items() if v is not None},
    )


def read_value(path: Path, encoding: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
    if encoding == "base64":
        return base64.b64encode(data).decode("ascii")
    if encoding == "hex":
        return data.hex()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        # Never quote the bytes: they are the secret.
        raise CLIError(
            f"{path} is not valid {encoding}; pass --encoding base64 or hex for binary files"
        ) from None


def show_secret(args: argparse.Namespace, ctx: Context) -> Any:
    vault, name, version = args.vault_name, args.name, args.version
    if args.secret_id is not None:
        if vault or name:
            raise CLIError("give either --id or --vault-name and --name, not both", EXIT_USAGE)
        vault, name, version = parse_secret_id(args.secret_id, version)
    elif not (vault and name):
        raise CLIError("give --vault-name and --name, or --id", EXIT_USAGE)
    path = _secret_path(vault, name)
    if version:
        path += f"/versions/{segment(version)}"
    return ctx.client.get(path)


def parse_secret_id(uri: str, version: str | None) -> tuple[str, str, str | None]:
    match = _SECRET_ID.match(uri.strip())
    if match is None:
        raise CLIError(
            f"invalid secret identifier {uri!r}: use "
            "https://<vault>.vault.airlock.internal/secrets/<name>[/<version>] or "
            "https://<vault>.vault.azure.net/secrets/<name>[/<version>]",
            EXIT_USAGE,
        )
    return match[1], match[2], version or match[3]


def list_secrets(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(f"{_vault_path(args.vault)}/secrets")


def list_versions(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(f"{_secret_path(args.vault, args.name)}/versions")


def delete_secret(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.delete(_secret_path(args.vault, args.name))
