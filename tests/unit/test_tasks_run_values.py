"""The values acr-builder gives a template besides .Values: .Run, .Build, .ValuesJSON, .RunJSON."""

from __future__ import annotations

from airlock.tasks.render import RunContext, render, shell_quote

RUN = RunContext(
    id="ca7",
    registry="myregistry.azurecr.io",
    commit="abc123",
    repository="org/repo",
    branch="main",
    git_tag="v1",
    triggered_by="Manual",
    date="20261130-101500z",
)


def rendered(template: str, values: dict[str, str] | None = None) -> str:
    return render(template, source="t.yaml", run=RUN, values=values).text


def test_every_run_field_acr_builder_provides() -> None:
    template = (
        "{{.Run.ID}} {{.Build.ID}} {{.Run.Commit}} {{.Run.Repository}} {{.Run.Branch}} "
        "{{.Run.GitTag}} {{.Run.TriggeredBy}} {{.Run.Registry}} {{.Run.RegistryName}} "
        "{{.Run.Date}} {{.Run.OS}} {{.Run.Architecture}}"
    )
    assert rendered(template) == (
        "ca7 ca7 abc123 org/repo main v1 Manual myregistry.azurecr.io myregistry "
        "20261130-101500z linux amd64"
    )


def test_values_and_run_as_shell_quoted_json() -> None:
    assert rendered("{{.ValuesJSON}}", {"tag": "v1"}) == """'{"tag":"v1"}'"""
    assert rendered("{{.ValuesJSON}}") == "'{}'"
    run_json = rendered("{{.RunJSON}}")
    assert run_json.startswith("'{") and '"ID":"ca7"' in run_json and '"GitTag":"v1"' in run_json


def test_shell_quote_as_acr_builder_quotes() -> None:
    assert shell_quote("") == "''"
    assert shell_quote("plain-value_1.2/x:y@z=w+%,^") == "plain-value_1.2/x:y@z=w+%,^"
    assert shell_quote("has space") == "'has space'"
    assert shell_quote("it's") == "'it'\"'\"'s'"
