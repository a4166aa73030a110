"""Argument parsing: az-shaped options, client-side validation, usage errors with exit 2."""

from __future__ import annotations

import pytest

from airlock import __version__
from airlock.cli.main import build_parser, main
from airlock.cli.repository import parse_image


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: airlock")
    return err


def test_seed_create_command_parses_with_az_spelling() -> None:
    args = build_parser().parse_args(
        ["acr", "create", "--resource-group", "rg", "--name", "contosoregistry", "--sku", "Premium"]
    )
    assert (args.registry, args.resource_group, args.sku) == ("contosoregistry", "rg", "Premium")


def test_seed_show_tags_parses_with_short_name_flag() -> None:
    args = build_parser().parse_args(
        ["acr", "repository", "show-tags", "-n", "publicregistry", "--repository", "node"]
    )
    assert (args.registry, args.repository, args.detail) == ("publicregistry", "node", False)


def test_global_options_come_after_the_command() -> None:
    args = build_parser().parse_args(
        ["acr", "show", "-n", "myregistry", "--query", "loginServer", "-o", "TSV", "--debug"]
    )
    assert (args.output, args.query, args.debug) == ("tsv", "loginServer", True)


def test_sku_is_case_insensitive_and_normalised() -> None:
    args = build_parser().parse_args(["acr", "create", "-n", "myregistry", "--sku", "premium"])
    assert args.sku == "Premium"


@pytest.mark.parametrize("name", ["abcd", "a" * 51, "my-registry", "my_registry", "café12"])
def test_invalid_registry_names_are_refused_before_any_request(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    err = usage_error(capsys, "acr", "show", "--name", name)
    assert "invalid registry name" in err
    assert "5 to 50 characters, letters and digits only" in err


@pytest.mark.parametrize("name", ["abcde", "A" * 50, "Registry2026"])
def test_valid_registry_names_parse(name: str) -> None:
    assert build_parser().parse_args(["acr", "show", "-n", name]).registry == name


def test_missing_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "acr", "show")
    assert "the following arguments are required: --name/-n" in err


def test_unknown_output_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "acr", "list", "-o", "xml")
    assert "argument --output/-o: invalid choice: 'xml'" in err


def test_bad_jmespath_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "acr", "list", "--query", "[bad")
    assert "invalid JMESPath query '[bad'" in err


@pytest.mark.parametrize(
    ("port", "reason"),
    [
        ("0", "a login server needs an unprivileged port, 1024 to 65535, not '0'"),
        ("22", "a login server needs an unprivileged port, 1024 to 65535, not '22'"),
        ("65536", "a login server needs an unprivileged port, 1024 to 65535, not '65536'"),
        ("http", "not an integer: 'http'"),
    ],
)
def test_bad_port_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], port: str, reason: str
) -> None:
    err = usage_error(capsys, "acr", "create", "-n", "myregistry", "--port", port)
    assert f"argument --port: {reason}" in err


def test_port_parses_to_an_integer() -> None:
    args = build_parser().parse_args(["acr", "create", "-n", "myregistry", "--port", "5003"])
    assert args.port == 5003


def test_unknown_sku_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert "invalid SKU 'Gold'" in usage_error(
        capsys, "acr", "create", "-n", "abcde", "--sku", "Gold"
    )


def test_bad_orderby_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(
        capsys,
        "acr",
        "repository",
        "show-tags",
        "-n",
        "abcde",
        "--repository",
        "r",
        "--orderby",
        "x",
    )
    assert "argument --orderby: invalid choice: 'x'" in err
    show_tags = ["acr", "repository", "show-tags", "-n", "abcde", "--repository", "r"]
    args = build_parser().parse_args([*show_tags, "--orderby", "time_desc"])
    assert args.orderby == "time_desc"


def test_top_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "acr", "repository", "list", "-n", "abcde", "--top", "0")
    assert "argument --top: must be a positive integer, not '0'" in err
    args = build_parser().parse_args(["acr", "repository", "list", "-n", "abcde", "--top", "3"])
    assert args.top == 3


def test_repository_delete_needs_exactly_one_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert "one of the arguments --image/-t --repository is required" in usage_error(
        capsys, "acr", "repository", "delete", "-n", "abcde", "--yes"
    )
    assert "not allowed with argument" in usage_error(
        capsys, "acr", "repository", "delete", "-n", "abcde", "--image", "a:b", "--repository", "a"
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"airlock {__version__}\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["-h"],
        ["acr", "-h"],
        ["acr", "create", "--help"],
        ["acr", "repository", "-h"],
        ["acr", "repository", "show-manifests", "-h"],
        ["server", "-h"],
    ],
)
def test_help_everywhere(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("usage: airlock")


def test_command_help_lists_global_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["acr", "list", "-h"])
    out = capsys.readouterr().out
    assert "global arguments:" in out
    assert "--only-show-errors" in out


def test_group_without_command_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["acr", "repository"]) == 0
    out = capsys.readouterr().out
    assert "show-tags" in out
    assert "show-manifests" in out


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("hello:latest", ("hello", "latest")),
        ("base/node:20-alpine", ("base/node", "20-alpine")),
        ("node@sha256:abc", ("node", "sha256:abc")),
        ("node", ("node", "latest")),
        ("host:5000/node", ("host:5000/node", "latest")),
    ],
)
def test_parse_image(image: str, expected: tuple[str, str]) -> None:
    assert parse_image(image) == expected


def test_importing_the_cli_stays_light() -> None:
    # Start-up time is a requirement (a client command answers in well under 0.25 s), so the
    # entry point must not drag in the server stack or optional formatters.
    import subprocess
    import sys

    heavy = ("yaml", "jmespath", "sqlalchemy", "starlette", "httpx", "airlock.server")
    code = (
        f"import sys, airlock.cli.main; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
