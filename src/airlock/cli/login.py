"""``airlock acr login``: log podman, buildah and skopeo in to a registry.

Without ``--username``, as ``az acr login`` does, the signed-in principal's session is
exchanged for a registry refresh token that carries the principal's own rights (its roles on
the registry: AcrPull, AcrPush, Owner ...), stored under the username
``00000000-0000-0000-0000-000000000000``. With ``--username`` and ``--password`` (a token, or
the admin user: the registry's name) those are stored instead. Either is checked against the
registry's token endpoint, then written to the containers auth file
(``$REGISTRY_AUTH_FILE``, else ``$XDG_RUNTIME_DIR/containers/auth.json``, else
``/run/containers/<uid>/auth.json``, as podman looks them up), merged with what is there,
mode 0600. ``--expose-token`` prints a refresh token instead, for
``podman login -u 00000000-0000-0000-0000-000000000000 -p <token>``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from airlock.cli.api import segment
from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments, add_registry_argument
from airlock.common.files import write_private

REFRESH_USERNAME = "00000000-0000-0000-0000-000000000000"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "login",
        help="Log in to a container registry.",
        description="Log podman, buildah and skopeo in to a registry: store credentials in "
        "the containers auth file ($REGISTRY_AUTH_FILE, else "
        "$XDG_RUNTIME_DIR/containers/auth.json). Uses your signed-in identity and its roles "
        "on the registry unless --username and --password name a token or the admin user.",
    )
    add_registry_argument(parser)
    parser.add_argument(
        "--username",
        "-u",
        help="A token name, or the registry's name for its admin user; your signed-in "
        "identity when omitted.",
    )
    parser.add_argument("--password", "-p", help="The password of --username.")
    parser.add_argument(
        "--expose-token",
        "-t",
        action="store_true",
        help="Print an access token instead of storing credentials; log in with it as the "
        f"password of user {REFRESH_USERNAME}.",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=login)


def login(args: argparse.Namespace, ctx: Context) -> Any:
    if (args.username is None) != (args.password is None):
        raise CLIError("give both --username and --password, or neither to use your identity")
    base = f"/api/registries/{segment(args.registry)}"
    if args.expose_token:
        body = (
            {} if args.username is None else {"username": args.username, "password": args.password}
        )
        answer = ctx.client.post(f"{base}/login-token", body)
        ctx.warn(
            "You can perform manual login using the provided access token, for example: "
            f"'podman login --tls-verify=false -u {REFRESH_USERNAME} -p <accessToken> "
            f"{answer.get('loginServer')}'"
        )
        return {"accessToken": answer.get("accessToken"), "loginServer": answer.get("loginServer")}
    username, password = args.username, args.password
    if username is None:
        answer = ctx.client.post(f"{base}/login-token", {})
        login_server = str(answer["loginServer"])
        username, password = REFRESH_USERNAME, str(answer["accessToken"])
    else:
        login_server = str(ctx.client.get(base)["loginServer"])
    check_credentials(login_server, username, password)
    path = auth_file()
    store(path, login_server, username, password)
    print("Login Succeeded")
    return None


def check_credentials(login_server: str, username: str, password: str) -> None:
    """Ask the registry's token endpoint, so that bad credentials fail here, not at push."""
    import http.client

    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    host, _, port = login_server.partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=30)
    try:
        conn.request(
            "GET",
            "/oauth2/token?" + urlencode({"service": login_server}),
            headers={"Authorization": f"Basic {basic}"},
        )
        response = conn.getresponse()
        payload = response.read()
    except OSError as exc:
        raise CLIError(f"cannot reach the registry at {login_server}: {exc}") from None
    finally:
        conn.close()
    if response.status != 200:
        raise CLIError(f"login to {login_server} failed: {_message(payload, response.status)}")


def _message(payload: bytes, status: int) -> str:
    try:
        return str(json.loads(payload)["errors"][0]["message"])
    except (ValueError, KeyError, IndexError, TypeError):
        return f"the registry answered {status}"


def auth_file() -> Path:
    configured = os.environ.get("REGISTRY_AUTH_FILE")
    if configured:
        return Path(configured)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "containers" / "auth.json"
    return Path(f"/run/containers/{os.getuid()}/auth.json")


def store(path: Path, login_server: str, username: str, password: str) -> None:
    """Merge one login into the auth file, replacing it atomically with mode 0600."""
    try:
        document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read the auth file {path}: {exc}") from None
    if not isinstance(document, dict):
        raise CLIError(f"the auth file {path} is not a JSON object")
    auths = document.setdefault("auths", {})
    auths[login_server] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    write_private(path, (json.dumps(document, indent=1) + "\n").encode())
