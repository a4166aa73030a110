"""``airlock acr task hook install``: a ``post-receive`` hook in a local bare repository that
calls the task's commit webhook for every pushed ref.

The hook sends a GitLab-style push payload (``ref``, ``before``, ``after``, the head commit's
message and author) with ``X-Gitlab-Token`` by ``curl``, quietly, giving up after a few seconds
so that a push is never held up by a server that does not answer. The server's answer decides
whether anything runs (the task's branch, the trigger on, the commit not fired yet).

The hook file holds the task's webhook secret: it is written with mode 0700 (its owner only),
and the secret reaches curl on its standard input, never on its command line.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments, add_registry_argument
from airlock.common.files import write_private

HOOK_NAME = "post-receive"
CURL_MAX_SECONDS = 5
_SAFE_SECRET = re.compile(r"^[A-Za-z0-9_.~-]{16,256}$")
_SAFE_URL = re.compile(r"^https?://[A-Za-z0-9.:\[\]_-]+/api/webhooks/tasks/[A-Za-z0-9-]+$")

HOOK_TEMPLATE = """\
#!/bin/sh
# Installed by 'airlock acr task hook install' for task {task} of registry {registry}:
# calls the task's commit webhook for every pushed ref. It holds the webhook secret: keep it
# readable by its owner only (mode 0700). Reinstall with --force to change it.
url='{url}'
secret='{secret}'
zero=0000000000000000000000000000000000000000
json_text() {{
  # The first line, at most 500 characters, as the inside of a JSON string.
  head -n 1 | cut -c 1-500 | tr -d '\\000-\\037' | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g'
}}
while read -r old new ref; do
  message=''
  author=''
  if [ "$new" != "$zero" ]; then
    message=$(git log -1 --format=%s "$new" 2>/dev/null | json_text)
    author=$(git log -1 --format=%an "$new" 2>/dev/null | json_text)
  fi
  payload=$(printf '{{"object_kind":"push","ref":"%s","before":"%s","after":"%s",' \\
    "$ref" "$old" "$new")
  payload="$payload$(printf '"checkout_sha":"%s","commits":[{{"id":"%s","message":"%s",' \\
    "$new" "$new" "$message")"
  payload="$payload$(printf '"author":{{"name":"%s"}}}}]}}' "$author")"
  # The token goes to curl on stdin (-K -): never on a command line others can read.
  if ! printf 'header = "X-Gitlab-Token: %s"\\n' "$secret" | curl -K - --silent --show-error \\
      --output /dev/null --fail --max-time {max_seconds} --connect-timeout 2 \\
      --header 'Content-Type: application/json' --header 'X-Gitlab-Event: Push Hook' \\
      --data-binary "$payload" "$url" 2>/dev/null; then
    echo "airlock: the webhook of task {task} did not take the push of $ref" >&2
  fi
done
exit 0
"""


def register(subparsers: Subparsers) -> None:
    text = "Manage the git hooks that call a task's commit webhook."
    parser = subparsers.add_parser("hook", help=text, description=text)
    parser.set_defaults(handler=None, group=parser)
    hook = parser.add_subparsers(title="commands", metavar="COMMAND")
    text = (
        "Install a post-receive hook in a local bare git repository that calls the task's "
        "commit webhook for every push. The hook file holds the task's webhook secret and is "
        "written readable and runnable by its owner only (mode 0700)."
    )
    install_parser = hook.add_parser("install", help=text, description=text)
    install_parser.add_argument("--name", "-n", required=True, help="The task's name.")
    add_registry_argument(install_parser, ("--registry", "-r"))
    install_parser.add_argument(
        "--repository",
        required=True,
        help="The path of the local bare git repository (the folder holding HEAD, objects "
        "and hooks).",
    )
    install_parser.add_argument(
        "--force",
        action="store_true",
        help="Replace an existing post-receive hook.",
    )
    add_global_arguments(install_parser)
    install_parser.set_defaults(handler=install)


def hook_script(task: str, registry: str, url: str, secret: str) -> str:
    """The hook's text; refuses a URL or secret that could break out of its quoting."""
    if not _SAFE_URL.match(url):
        raise CLIError(f"the server gave an unexpected webhook URL {url[:100]!r}")
    if not _SAFE_SECRET.match(secret):
        raise CLIError("the server gave a webhook secret of unexpected characters")
    return HOOK_TEMPLATE.format(
        task=task, registry=registry, url=url, secret=secret, max_seconds=CURL_MAX_SECONDS
    )


def bare_repository(path: str) -> Path:
    repository = Path(path).expanduser().resolve()
    if (repository / ".git").exists():
        raise CLIError(
            f"{repository} is a working copy; give the bare repository that is pushed to "
            "(created with 'git init --bare')"
        )
    if not (repository / "HEAD").is_file() or not (repository / "objects").is_dir():
        raise CLIError(f"{repository} is not a bare git repository (no HEAD and objects)")
    return repository


def write_hook(repository: Path, script: str, force: bool) -> Path:
    hooks = repository / "hooks"
    hooks.mkdir(mode=0o755, exist_ok=True)
    target = hooks / HOOK_NAME
    if (target.exists() or target.is_symlink()) and not force:
        raise CLIError(f"{target} exists already; give --force to replace it")
    # Owner-only (it holds the webhook secret), runnable by git; replaced atomically.
    write_private(target, script.encode(), mode=0o700)
    return target


def install(args: argparse.Namespace, ctx: Context) -> Any:
    repository = bare_repository(args.repository)
    path = f"/api/registries/{segment(args.registry)}/tasks/{segment(args.name)}/webhook"
    webhook = ctx.client.get(path)
    script = hook_script(args.name, args.registry, str(webhook["url"]), str(webhook["secret"]))
    target = write_hook(repository, script, args.force)
    return {"hook": str(target), "url": webhook["url"], "task": args.name}
