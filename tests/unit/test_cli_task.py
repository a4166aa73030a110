"""``airlock acr task validate``: runs without a server, prints the steps or a located error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airlock.cli.main import main

GOOD = """version: v1.1.0
steps:
  - id: build
    build: -t {{.Run.Registry}}/hello:{{.Values.tag}} .
  - id: test
    cmd: "{{.Run.Registry}}/hello:{{.Values.tag}}"
    when: ["build"]
  - id: lint
    cmd: busybox echo lint
    when: ["-"]
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_valid_file_prints_its_steps_and_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["acr", "task", "validate", "-f", write(tmp_path, "t.yaml", GOOD)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["valid"] is True and shown["rendered"] is False
    assert [s["id"] for s in shown["steps"]] == ["build", "test", "lint"]
    assert set(shown["executionOrder"]) == {"build", "test", "lint"}
    assert shown["executionOrder"].index("build") < shown["executionOrder"].index("test")


def test_values_render_the_file_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = write(tmp_path, "values.yaml", "tag: v1\n")
    path = write(tmp_path, "t.yaml", GOOD)
    assert main(["acr", "task", "validate", "-f", path, "--values", values]) == 0
    assert json.loads(capsys.readouterr().out)["rendered"] is True
    assert main(["acr", "task", "validate", "-f", path, "--set", "novalue"]) == 1
    assert "--set expects NAME=value" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("version: 1.0.0-preview\nsteps:\n  - cmd: x\n", "t.yaml:1:10: invalid version"),
        (
            "steps:\n  - id: a\n    cmd: x\n    when: [b]\n  - id: b\n    cmd: y\n    when: [a]\n",
            "t.yaml:",
        ),
        ("steps:\n  - id: a\n    cmd: x\n    when: [nope]\n", "nope"),
        ("steps: [\n", "t.yaml:"),
    ],
    ids=["version", "cycle", "unknown when", "yaml"],
)
def test_a_bad_file_is_refused_with_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, reason: str
) -> None:
    path = write(tmp_path, "t.yaml", text)
    assert main(["acr", "task", "validate", "-f", path]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR: ") and reason in err


def test_a_missing_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["acr", "task", "validate", "-f", str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read the task file" in capsys.readouterr().err
