"""``airlock acr repository list|show|show-tags|show-manifests|update|delete``
(``az acr repository``)."""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import (
    Context,
    Subparsers,
    add_global_arguments,
    add_registry_argument,
    positive_int,
)
from airlock.cli.tables import Row

ORDERS = ("time_asc", "time_desc", "name_asc", "name_desc")


def register(subparsers: Subparsers) -> None:
    _add_list(subparsers)
    _add_show(subparsers)
    _add_show_tags(subparsers)
    _add_show_manifests(subparsers)
    _add_update(subparsers)
    _add_delete(subparsers)


def _add_list(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "list",
        help="List repositories in a container registry.",
        description="List the repositories of a container registry, sorted by name.",
    )
    add_registry_argument(parser)
    _add_top(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=list_repositories)


def _add_show(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "show",
        help="Get the attributes of a repository or image in a container registry.",
        description="Show a repository (counts, times) or an image by tag or digest, with its "
        "changeable attributes (the locks: deleteEnabled, writeEnabled, readEnabled, "
        "listEnabled).",
    )
    _add_target(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=show)


def _add_update(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "update",
        help="Update the attributes (locks) of a repository or image in a container registry.",
        description="Lock or unlock a repository, a tag ('name:tag') or a manifest "
        "('name@digest'). Only the attributes given change. Locks apply to every request, "
        "the admin's too: --write-enabled false refuses pushes that would change it, "
        "--delete-enabled false refuses deletes, --read-enabled false refuses pulls of the "
        "manifest, --list-enabled false hides it from tag lists and the catalog.",
    )
    _add_target(parser)
    for flag, what in (
        ("--delete-enabled", "deleted"),
        ("--list-enabled", "listed"),
        ("--read-enabled", "read (pulled)"),
        ("--write-enabled", "written (pushed over, moved)"),
    ):
        parser.add_argument(
            flag,
            type=az_bool,
            metavar="{false,true}",
            help=f"Whether the target can be {what}.",
        )
    add_global_arguments(parser)
    parser.set_defaults(handler=update)


def _add_target(parser: argparse.ArgumentParser) -> None:
    add_registry_argument(parser)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--image",
        "-t",
        help="The name of the image. May include a tag in the format 'name:tag' or digest "
        "in the format 'name@digest' (the tag 'latest' when neither is given).",
    )
    target.add_argument("--repository", help="The name of the repository.")


def az_bool(value: str) -> bool:
    """az's three-state booleans, as given on the command line: true or false, any case."""
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")
    return lowered == "true"


def _add_show_tags(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "show-tags",
        help="Show tags for a repository in a container registry.",
        description="Show the tags of a repository; with --detail, each tag's digest and times.",
    )
    _add_listing_options(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=show_tags, table=tags_table)


def _add_show_manifests(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "show-manifests",
        help="Show manifests of a repository in a container registry.",
        description="Show the manifests of a repository with their digests, tags and "
        "timestamps; with --detail, also media type, size and times.",
    )
    _add_listing_options(parser)
    add_global_arguments(parser)
    parser.set_defaults(handler=show_manifests)


def _add_delete(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "delete",
        help="Delete a repository or image in a container registry.",
        description="Delete a whole repository, or an image by tag or digest. Deleting by tag "
        "deletes the manifest the tag points at and every tag on it, as az does. Asks for "
        "confirmation unless --yes is given.",
    )
    add_registry_argument(parser)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--image",
        "-t",
        help="The name of the image. May include a tag in the format 'name:tag' or digest "
        "in the format 'name@digest' (the tag 'latest' when neither is given).",
    )
    target.add_argument("--repository", help="The name of the repository to delete entirely.")
    parser.add_argument("--yes", "-y", action="store_true", help="Do not prompt for confirmation.")
    add_global_arguments(parser)
    parser.set_defaults(handler=delete)


def _add_listing_options(parser: argparse.ArgumentParser) -> None:
    add_registry_argument(parser)
    parser.add_argument("--repository", required=True, help="The name of the repository.")
    parser.add_argument("--detail", action="store_true", help="Show detailed information.")
    parser.add_argument(
        "--orderby",
        choices=ORDERS,
        help="Order the items in the results (default: the server's order, by name).",
    )
    _add_top(parser)


def _add_top(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--top", type=positive_int, metavar="K", help="Limit the number of items in the results."
    )


def list_repositories(args: argparse.Namespace, ctx: Context) -> Any:
    return _top(ctx.client.get(f"{_base(args)}/repositories"), args.top)


def show_tags(args: argparse.Namespace, ctx: Context) -> Any:
    return _top(ctx.client.get(f"{_base(args)}/tags", _listing_query(args)), args.top)


def show_manifests(args: argparse.Namespace, ctx: Context) -> Any:
    return _top(ctx.client.get(f"{_base(args)}/manifests", _listing_query(args)), args.top)


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get(f"{_base(args)}/repository", _target_query(args))


_ATTRIBUTES = {
    "delete_enabled": "deleteEnabled",
    "write_enabled": "writeEnabled",
    "read_enabled": "readEnabled",
    "list_enabled": "listEnabled",
}


def update(args: argparse.Namespace, ctx: Context) -> Any:
    changes = {
        name: getattr(args, option)
        for option, name in _ATTRIBUTES.items()
        if getattr(args, option) is not None
    }
    if not changes:
        raise CLIError(
            "nothing to update: give at least one of --delete-enabled, --list-enabled, "
            "--read-enabled, --write-enabled"
        )
    return ctx.client.request(
        "PATCH", f"{_base(args)}/attributes", query=_target_query(args), body=changes
    )


def _target_query(args: argparse.Namespace) -> dict[str, str | bool | None]:
    if args.repository is not None:
        return {"repository": args.repository}
    repository, reference = parse_image(args.image)
    return {"repository": repository, "reference": reference}


def delete(args: argparse.Namespace, ctx: Context) -> Any:
    if args.repository is not None:
        ctx.confirm(
            f"This operation will delete the repository '{args.repository}' and all the "
            "images under it. Are you sure you want to continue?",
            args.yes,
        )
        return ctx.client.delete(f"{_base(args)}/repositories", {"repository": args.repository})
    repository, reference = parse_image(args.image)
    separator = "@" if reference.startswith("sha256:") else ":"
    ctx.confirm(
        f"This operation will delete the image '{repository}{separator}{reference}', its "
        "manifest and every tag on it. Are you sure you want to continue?",
        args.yes,
    )
    query = {"repository": repository, "reference": reference}
    return ctx.client.delete(f"{_base(args)}/images", query)


def parse_image(image: str) -> tuple[str, str]:
    """``repo:tag`` or ``repo@digest`` to (repository, reference); a bare name means
    ``latest``, as in az and docker."""
    if "@" in image:
        repository, _, digest = image.partition("@")
        return repository, digest
    name, _, tag = image.rpartition(":")
    # A colon before the last slash belongs to a host:port, not to a tag.
    if not name or "/" in tag:
        return image, "latest"
    return name, tag


def _base(args: argparse.Namespace) -> str:
    return f"/api/registries/{segment(args.registry)}"


def _listing_query(args: argparse.Namespace) -> dict[str, str | bool | None]:
    return {"repository": args.repository, "detail": args.detail, "orderby": args.orderby}


def _top(items: Any, top: int | None) -> Any:
    # The REST API has no paging parameter for these lists; --top trims on the client.
    if top is None or not isinstance(items, list):
        return items
    return items[:top]


def tags_table(result: Any) -> list[Row]:
    """Name, digest and times for ``--detail``; a plain tag list keeps az's Result column."""
    items = result if isinstance(result, list) else [result]
    return [
        {
            "Name": item.get("name"),
            "Digest": item.get("digest"),
            "CreatedTime": item.get("createdTime"),
            "LastUpdateTime": item.get("lastUpdateTime"),
        }
        if isinstance(item, dict)
        else {"Result": item}
        for item in items
    ]
