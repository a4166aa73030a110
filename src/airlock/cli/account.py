"""``airlock login``, ``airlock logout`` and ``airlock account show`` (``az login`` shapes).

``login`` exchanges a user's name and password (or a service principal's appId and secret)
for a session and stores it per server address, mode 0600 (airlock.cli.signin). The owner of
the server needs none of this: the server signs the Unix user who runs it in through a file
in its state folder.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from typing import Any

from airlock.cli.errors import CLIError
from airlock.cli.options import Context, Subparsers, add_global_arguments
from airlock.cli.signin import forget_session, store_session

# Set by the task runner in an `az`/`acr` step, whose session is the task identity's.
TASK_IDENTITY_ENV = "AIRLOCK_TASK_IDENTITY"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "login",
        help="Sign in to the Airlock server.",
        description="Sign in to the Airlock server at $AIRLOCK_URL with a user's name and "
        "password, or a service principal's appId and secret (--service-principal). The "
        "session is stored in $AIRLOCK_CONFIG_DIR (default ~/.config/airlock), mode 0600. "
        "The Unix user who runs the server is signed in already.",
    )
    parser.add_argument("--username", "-u", help="User name, or the appId of a service principal.")
    parser.add_argument(
        "--password", "-p", help="Password or client secret; asked for when omitted on a terminal."
    )
    parser.add_argument(
        "--service-principal",
        action="store_true",
        help="Sign in as a service principal: --username is its appId, --password a secret.",
    )
    parser.add_argument(
        "--identity",
        action="store_true",
        help="Sign in with the managed identity of the task step running this command.",
    )
    parser.add_argument("--tenant", "-t", help="Accepted for az compatibility; Airlock has one.")
    add_global_arguments(parser)
    parser.set_defaults(handler=login)

    parser = subparsers.add_parser(
        "logout",
        help="Sign out: revoke the stored session.",
        description="Revoke the session stored for $AIRLOCK_URL and forget it.",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=logout)


def register_account(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "show",
        help="Show who you are signed in as.",
        description="Show the signed-in principal and its role assignments.",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=show)

    parser = subparsers.add_parser(
        "get-access-token",
        help="Show the session token the CLI presents to the server.",
        description="Show the session token the CLI presents to $AIRLOCK_URL (az's shape: "
        "accessToken, expiresOn, tokenType), e.g. for 'airlock worker --token'. Sign in "
        "first with 'airlock login' (a service principal: --service-principal); the "
        "server's owner gets its local session, which does not expire.",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=get_access_token)


def login(args: argparse.Namespace, ctx: Context) -> Any:
    if args.identity:
        return _identity_login(ctx)
    if not args.username:
        raise CLIError(
            "give --username (a user name, or an appId with --service-principal) and --password"
        )
    password = args.password
    if password is None:
        if not ctx.stdin.isatty():
            raise CLIError("give --password; there is no terminal to ask for it on")
        password = getpass.getpass("Password: ")
    body = (
        {"appId": args.username, "secret": password}
        if args.service_principal
        else {"username": args.username, "password": password}
    )
    # Signing in must not present an older session.
    ctx.client.token = None
    answer = ctx.client.post("/api/login", body)
    store_session(
        ctx.client.base_url,
        {
            "accessToken": answer["accessToken"],
            "expiresOn": answer.get("expiresOn"),
            "user": answer.get("user"),
        },
    )
    return [
        {
            "cloudName": "Airlock",
            "id": "local",
            "isDefault": True,
            "name": "Airlock",
            "server": ctx.client.base_url,
            "state": "Enabled",
            "tenantId": "local",
            "user": answer.get("user"),
        }
    ]


def _identity_login(ctx: Context) -> Any:
    """``az login --identity`` in a task step: the runner has signed the step in as the
    task's identity already (a session of the run's own, in the step's configuration
    folder); this checks that it works and shows it, as az does."""
    if os.environ.get(TASK_IDENTITY_ENV) != "1":
        raise CLIError(
            "--identity signs in with the managed identity of the task step running this "
            "command, and this is not a task step; use --username and --password, or "
            "--service-principal"
        )
    account = ctx.client.get("/api/account")
    return [
        {
            "environmentName": "Airlock",
            "id": "local",
            "isDefault": True,
            "name": "Airlock",
            "state": "Enabled",
            "tenantId": "local",
            "user": {
                "assignedIdentityInfo": "MSI",
                "name": "systemAssignedIdentity",
                "type": "servicePrincipal",
                "principalId": (account.get("user") or {}).get("id"),
            },
        }
    ]


def logout(args: argparse.Namespace, ctx: Context) -> Any:
    from airlock.cli.signin import stored_token

    token = stored_token(ctx.client.base_url)
    if token is None:
        raise CLIError(
            f"no 'airlock login' is stored for {ctx.client.base_url}; the server's owner "
            "is signed in through its state folder and has nothing to sign out"
        )
    ctx.client.token = token
    try:
        ctx.client.post("/api/logout", {})
    finally:
        forget_session(ctx.client.base_url)
    return None


def show(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.client.get("/api/account")


def get_access_token(args: argparse.Namespace, ctx: Context) -> Any:
    """The token read locally, as ``az account get-access-token`` does: no request."""
    from airlock.cli.signin import session_token, stored_token

    url = ctx.client.base_url
    token = session_token(url)
    if token is None:
        raise CLIError(
            f"no session for {url}: sign in with 'airlock login' (a service principal: "
            "'airlock login --service-principal -u APPID -p SECRET')"
        )
    # An 'airlock login' session says when it expires; the owner's local one never does.
    expires = _stored_expiry(url) if token == stored_token(url) else None
    return {"accessToken": token, "expiresOn": expires, "tokenType": "Bearer"}


def _stored_expiry(url: str) -> str | None:
    from airlock.cli.signin import normalise, sessions_path

    try:
        document = json.loads(sessions_path().read_text(encoding="utf-8"))
        expires = document[normalise(url)]["expiresOn"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return expires if isinstance(expires, str) else None
