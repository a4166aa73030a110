"""``airlock acr repository list|show-tags|show-manifests|delete`` (``az acr repository``)."""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.api import segment
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
    _add_show_tags(subparsers)
    _add_show_manifests(subparsers)
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
