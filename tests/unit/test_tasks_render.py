"""Rendering as ACR does: run variables, values, aliases, trimming, functions, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.tasks import RunContext, TaskFileError, render, render_and_load
from airlock.tasks.aliases import resolve_image_alias
from airlock.tasks.render import parse_set, run_date

FIXTURES = Path(__file__).parent / "fixtures"
RUN = RunContext(
    id="cf1",
    registry="contoso.azurecr.io",
    shared_volume="vol",
    date="20240102-030405z",
    commit="abc",
    branch="main",
    task_name="hello-world",
)


def text(template: str, **kwargs: object) -> str:
    return render(template, source="t", run=RUN, **kwargs).text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.Run.ID}}", "cf1"),
        ("{{.Run.SharedVolume}}", "vol"),
        ("{{.Run.Registry}}", "contoso.azurecr.io"),
        ("{{.Run.RegistryName}}", "contoso"),
        ("{{.Run.Date}}", "20240102-030405z"),
        ("{{.Run.OS}}/{{.Run.Architecture}}", "linux/amd64"),
        ("{{.Run.Commit}}@{{.Run.Branch}}", "abc@main"),
        ("{{.Run.TaskName}}", "hello-world"),
        ("{{ .Values.x }}", "1"),
        ("{{.Values.deep.y}}", "2"),
        (
            "$Registry/app:$ID $Date $SharedVolume $OS $Architecture",
            "contoso.azurecr.io/app:cf1 20240102-030405z vol linux amd64",
        ),
        ("a  {{- .Values.x -}}  b", "a1b"),
        ("{{/* note */}}x", "x"),
        ('{{.Values.none | default "d"}}', "d"),
        ("{{.Values.x | b64enc}}", "MQ=="),
        ('{{index .Values "x"}}', "1"),
        ("$$HOME $(date) $Unknown", "$HOME $(date) $Unknown"),
    ],
)
def test_render(template: str, expected: str) -> None:
    rendered = text("version: v1.1.0\n" + template, values={"x": "1", "deep": {"y": 2}})
    assert rendered == "version: v1.1.0\n" + expected


def test_aliases_are_expanded_from_version_v1_1_0_only_as_acr_builder_does() -> None:
    for version in ("", "version: v1.0.0\n", "version: 1.0-preview-1\n"):
        assert text(version + "x: $Registry/$ID") == version + "x: $Registry/$ID"
    for version in ("version: v1.1.0\n", "# note\n'version': 'v1.2.0'\n"):
        # (comment lines are dropped before templating, as ACR does)
        assert text(version + "x: $Registry/$ID").endswith("\nx: contoso.azurecr.io/cf1")


def test_user_alias_values_override_and_may_use_templates() -> None:
    source = (
        "version: v1.1.0\n"
        'alias:\n  values:\n    Base: {{ .Values.b | default "mcr.microsoft.com" }}\n'
        "steps:\n  - cmd: $Base/x\n"
    )
    task, _ = render_and_load(source, source="t", run=RUN)
    assert task.steps[0].cmd == "mcr.microsoft.com/x"
    task, _ = render_and_load(source, source="t", run=RUN, values={"b": "my.io"})
    assert task.steps[0].cmd == "my.io/x"


def test_missing_value_renders_empty_like_acr_and_is_reported() -> None:
    result = render("a{{.Values.nope}}b{{.Secrets.s}}", source="t", run=RUN)
    assert result.text == "ab"
    assert result.missing == ("Values.nope", "Secrets.s")


def test_unknown_run_field_and_template_errors_are_located() -> None:
    with pytest.raises(
        TaskFileError, match=r"^t:2:3: template \{\{.Run.Id\}\}: unknown field .Run.Id"
    ):
        render("x\n  {{.Run.Id}}", source="t", run=RUN)
    # Helm's toYaml is not Sprig's: Go refuses the template when it parses it.
    with pytest.raises(TaskFileError, match=r'^t:3:1: template \{\{ .Values \| toYaml \}\}: '
                       r'function "toYaml" not defined'):  # fmt: skip
        render("a\nb\n{{ .Values | toYaml }}", source="t", run=RUN)
    with pytest.raises(TaskFileError, match=r"^t:2:\d+: .*unexpected EOF"):
        render("x\n{{if .Values.x}}y", source="t", run=RUN)
    # Lines that start with # are dropped before rendering, and errors keep their own line.
    with pytest.raises(TaskFileError, match=r"^t:3:1: .*wrong number of args for upper"):
        render("# {{ bad\n  # {{ worse }}\n{{ upper }}", source="t", run=RUN)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{if .Values.x}}yes{{else}}no{{end}}", "yes"),
        ("{{if .Values.none}}yes{{else if .Values.x}}elif{{end}}", "elif"),
        ("{{range $i, $c := .Values.list}}{{$i}}={{$c}} {{end}}", "0=a 1=b "),
        ("{{range .Values.list}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}", "a"),
        ("{{with .Values.deep}}{{.y}}{{end}}", "2"),
        ("{{$r := .Run.Registry}}{{$r}}/{{ (printf \"%s-%d\" .Run.ID 7) | upper }}",
         "contoso.azurecr.io/CF1-7"),
        ('{{ "café" }} {{-3}} {{-\t.Values.x}} {{ "}}" }}', "café -31 }}"),
        ("{{ .Values.deep }} {{ .Values.list }}", "map[y:2] [a b]"),
        ("{{ len .Values.list }} {{ index .Values.list 1 }} {{ add 1 2 | mul 3 }}", "2 b 9"),
        ("a\n# {{ .Values.x }} dropped\n  #indented too\nb", "a\nb"),
        # .Values is a map[string]interface{} as in acr-builder; mappings inside it are YAML's.
        ('{{ keys .Values | sortAlpha }} {{ hasKey .Values "x" }} {{ toJson .Values.list }}',
         '[deep list x] true ["a","b"]'),
    ],
)  # fmt: skip
def test_the_whole_language(template: str, expected: str) -> None:
    assert text(template, values={"x": "1", "deep": {"y": 2}, "list": ["a", "b"]}) == expected


def test_values_are_data_never_templates() -> None:
    result = render("{{ .Values.v }} {{ .Values.v | upper }}", source="t", run=RUN,
                    values={"v": "{{ .Run.ID }}"})  # fmt: skip
    assert result.text == "{{ .Run.ID }} {{ .RUN.ID }}"


def test_secrets_through_variables_and_with_are_reported() -> None:
    result = render(
        "{{ $p := .Secrets.pw }}{{ $p | upper }} {{ with .Secrets }}{{ .pw }}{{ end }}"
        " {{ $.Run.ID }}",
        source="t", run=RUN, secrets={"pw": "hunter2"},
    )  # fmt: skip
    assert result.text == "HUNTER2 hunter2 cf1"
    assert result.secrets == {"HUNTER2", "hunter2"}


def test_secrets_are_rendered_and_reported_for_masking() -> None:
    result = render(
        '{{.Secrets.pw}} {{index .Secrets "my-user"}} {{.Secrets.pw | b64enc}} {{.Values.v}}',
        source="t",
        run=RUN,
        values={"v": "plain"},
        secrets={"pw": "hunter2", "my-user": "bob"},
    )
    assert result.text == "hunter2 bob aHVudGVyMg== plain"
    assert result.secrets == {"hunter2", "bob", "aHVudGVyMg=="}


def test_helpers() -> None:
    assert parse_set(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    assert resolve_image_alias("bash echo hi") == "mcr.microsoft.com/acr/bash:2ff604c echo hi"
    from datetime import datetime

    assert run_date(datetime(2024, 1, 2, 3, 4, 5)) == "20240102-030405z"


# The walkthrough's three tasks, with its --set values.
PUBLIC = RunContext(id="ca1", registry="publicregistry.azurecr.io")
BASE = RunContext(id="cb1", registry="contosobaseartifacts.azurecr.io")
APP = RunContext(id="cc1", registry="contoso.azurecr.io")


def test_seed_node_public() -> None:
    source = (FIXTURES / "node-public.acr-task.yaml").read_text()
    values = parse_set(["REGISTRY_FROM_URL=docker.io/"])
    task, _ = render_and_load(source, source="node-public", run=PUBLIC, values=values)
    build, push = task.steps
    assert build.build is not None and build.build.split() == [
        "-f", "./Dockerfile", "--build-arg", "REGISTRY_FROM_URL=docker.io/",
        "-t", "publicregistry.azurecr.io/node:15-alpine-ca1",
        "-t", "publicregistry.azurecr.io/node:15-alpine", ".",
    ]  # fmt: skip
    assert push.push == (
        "publicregistry.azurecr.io/node:15-alpine-ca1",
        "publicregistry.azurecr.io/node:15-alpine",
    )


def test_seed_base_import_node() -> None:
    source = (FIXTURES / "base-import-node.acr-task.yaml").read_text()
    values = parse_set(["REGISTRY_FROM_URL=publicregistry.azurecr.io/"])
    task, _ = render_and_load(source, source="base-import-node", run=BASE, values=values)
    assert (
        task.step("validate-base-image").cmd == "contosobaseartifacts.azurecr.io/node-import:test"
    )
    assert task.step("retag-base-image-unique-tag").cmd == (
        "docker tag publicregistry.azurecr.io/node:15-alpine "
        "contosobaseartifacts.azurecr.io/node:15-alpine-cb1"
    )
    assert task.step("push-base-image").when == ("retag-base-image", "retag-base-image-unique-tag")


def test_seed_hello_world_with_secrets() -> None:
    source = (FIXTURES / "hello-world.acr-task.yaml").read_text()
    values = parse_set(
        ["REGISTRY_FROM_URL=contosobaseartifacts.azurecr.io/", "KEYVAULT=acr-task-credentials",
         "ACI=hello-world-aci", "ACI_RG=hello-world-aci-rg"]
    )  # fmt: skip
    first, _ = render_and_load(source, source="hello-world", run=APP, values=values)
    assert first.secrets[0].keyvault == (
        "https://acr-task-credentials.vault.azure.net/secrets/registry-contoso-user"
    )
    secrets = {"registry-user": "u1", "registry-password": "p@ss"}
    task, result = render_and_load(
        source, source="hello-world", run=APP, values=values, secrets=secrets
    )
    deploy = task.step("deploy-aci").cmd
    assert deploy is not None and deploy.split() == [
        "az", "container", "create", "--resource-group", '"hello-world-aci-rg"',
        "--name", '"hello-world-aci"', "--image", '"contoso.azurecr.io/hello-world:cc1"',
        "--registry-username", '"u1"', "--registry-password", '"p@ss"',
        "--ip-address", "public", "--ports", "80",
    ]  # fmt: skip
    assert result.secrets == {"u1", "p@ss"}
    assert task.step("az-login").when == ("-",)
