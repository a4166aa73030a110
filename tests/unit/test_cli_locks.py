"""``acr repository update|show``: flag parsing and the requests they send."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from airlock.cli.errors import CLIError
from airlock.cli.main import build_parser
from airlock.cli.options import Context
from airlock.cli.repository import az_bool


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, Any]] = []

    def request(self, method: str, path: str, query: Any = None, body: Any = None) -> Any:
        self.calls.append((method, path, query, body))
        return {}

    def get(self, path: str, query: Any = None) -> Any:
        return self.request("GET", path, query)


def invoke(*argv: str) -> list[tuple[str, str, Any, Any]]:
    args = build_parser().parse_args(list(argv))
    ctx = Context()
    client = RecordingClient()
    ctx._client = client  # type: ignore[assignment]
    args.handler(args, ctx)
    return client.calls


@pytest.mark.parametrize(("text", "value"), [("true", True), ("FALSE", False), ("True", True)])
def test_az_booleans(text: str, value: bool) -> None:
    assert az_bool(text) is value


@pytest.mark.parametrize("text", ["yes", "1", "", "flase"])
def test_other_words_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected true or false"):
        az_bool(text)


def test_update_sends_only_the_given_attributes() -> None:
    calls = invoke(
        "acr", "repository", "update", "-n", "myregistry", "--image", "hello:v1",
        "--write-enabled", "false", "--list-enabled", "TRUE",
    )  # fmt: skip
    assert calls == [
        (
            "PATCH",
            "/api/registries/myregistry/attributes",
            {"repository": "hello", "reference": "v1"},
            {"writeEnabled": False, "listEnabled": True},
        )
    ]


def test_update_of_a_repository_and_show_by_digest() -> None:
    calls = invoke(
        "acr", "repository", "update", "-n", "myregistry", "--repository", "team/app",
        "--delete-enabled", "false",
    )  # fmt: skip
    assert calls[0][2] == {"repository": "team/app"}
    assert calls[0][3] == {"deleteEnabled": False}
    digest = "sha256:" + "a" * 64
    calls = invoke("acr", "repository", "show", "-n", "myregistry", "-t", f"team/app@{digest}")
    assert calls == [
        (
            "GET",
            "/api/registries/myregistry/repository",
            {"repository": "team/app", "reference": digest},
            None,
        )
    ]


def test_update_without_attributes_sends_nothing() -> None:
    with pytest.raises(CLIError, match="nothing to update"):
        invoke("acr", "repository", "update", "-n", "myregistry", "--repository", "app")
