"""``airlock acr import``: copy an image into a registry (``az acr import``).

The server runs the import as a job; this command starts it and polls it, drawing a
progress bar on stderr when stderr is a terminal. On success it prints nothing, as az does,
unless an output format or query is given (``-o json``: the finished job). ``--no-wait``
prints the job as started and returns.
"""

from __future__ import annotations

import argparse
import time
from typing import IO, Any

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments, add_registry_argument

# A local import finishes in milliseconds and a remote one can take minutes: poll soon, then
# back off to a steady pace.
FIRST_POLL_SECONDS = 0.005
POLL_SECONDS = 0.25
MIB = 1024 * 1024
BAR_WIDTH = 30


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "import",
        help="Import an image to a container registry from another registry.",
        description="Import an image into a container registry: from Docker Hub, GHCR, Quay, "
        "MCR or another allowed registry, or from a registry of this server (no bytes are "
        "copied). Sources are registry/repo:tag or repo@digest; Docker Hub names are "
        "normalised (node:20 is docker.io/library/node:20). External sources must be allowed "
        "by the server's $AIRLOCK_IMPORT_ALLOWED_REGISTRIES (see docs/import.md).",
    )
    add_registry_argument(parser)
    parser.add_argument(
        "--source",
        required=True,
        help="The source image: registry/repo:tag, repo@digest, or repo:tag with --registry.",
    )
    parser.add_argument(
        "--image",
        "-t",
        action="append",
        default=[],
        metavar="REPO:TAG",
        help="Target repository and tag; may be repeated (default: the source's repository "
        "and tag).",
    )
    parser.add_argument(
        "--repository",
        action="append",
        default=[],
        metavar="REPO",
        help="Target repository for a manifest-only (untagged) copy; may be repeated.",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="Overwrite existing target tags (locked tags stay refused).",
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="Do not wait for the import to finish."
    )
    parser.add_argument(
        "--registry",
        "-r",
        dest="source_registry",
        metavar="SOURCE_REGISTRY",
        help="The source registry: a registry of this server by name, or an external "
        "registry host; --source is then repo:tag inside it.",
    )
    parser.add_argument(
        "--username", "-u", help="Username for the source registry (with --password)."
    )
    parser.add_argument("--password", "-p", help="Password or token for the source registry.")
    add_global_arguments(parser)
    parser.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace, ctx: Context) -> Any:
    if (args.username is None) != (args.password is None):
        raise CLIError("give both --username and --password, or neither")
    body: dict[str, Any] = {
        "source": args.source,
        "images": args.image,
        "repositories": args.repository,
        "force": args.force,
    }
    optional = {
        "registry": args.source_registry,
        "username": args.username,
        "password": args.password,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    job = ctx.client.post(f"/api/registries/{segment(args.registry)}/imports", body)
    if args.no_wait:
        return job
    job = wait_for(job, ctx, ProgressBar(ctx.stderr))
    error = job.get("error") or {}
    if job.get("status") != "Succeeded":
        raise CLIError(str(error.get("message") or f"import {job.get('id')} failed"))
    # az prints nothing for a finished import; an explicit format or query asks for the job.
    return job if args.output is not None or args.query is not None else None


def wait_for(job: dict[str, Any], ctx: Context, bar: ProgressBar) -> dict[str, Any]:
    path = f"/api/imports/{segment(str(job['id']))}"
    pause = FIRST_POLL_SECONDS
    try:
        while job.get("status") == "Running":
            bar.draw(job.get("progress") or {})
            time.sleep(pause)
            pause = min(pause * 2, POLL_SECONDS)
            job = ctx.client.get(path)
        bar.draw(job.get("progress") or {})
    finally:
        bar.close()
    return job


class ProgressBar:
    """``[#####.....]  42%  12.3/29.0 MiB  3/7 blobs`` on one line of a terminal; silent when
    the stream is not a terminal (logs and pipes get no carriage returns)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.drawn = False

    def draw(self, progress: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.stream.write("\r" + render_progress(progress))
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def render_progress(progress: dict[str, Any]) -> str:
    done, total = int(progress.get("bytesDone", 0)), int(progress.get("bytesTotal", 0))
    fraction = min(done / total, 1.0) if total else 1.0
    filled = int(fraction * BAR_WIDTH)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    blobs = f"{progress.get('blobsDone', 0)}/{progress.get('blobsTotal', 0)} blobs"
    return f"[{bar}] {fraction:4.0%}  {done / MIB:.1f}/{total / MIB:.1f} MiB  {blobs}"
