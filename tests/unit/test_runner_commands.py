"""From a step to podman's arguments: what a step may ask of the engine, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.runner.azcli import airlock_arguments
from airlock.runner.commands import (
    RunLayout,
    build_command,
    container_name,
    loopback_port,
    run_command,
    split_words,
    working_directory,
)
from airlock.runner.errors import StepError
from airlock.runner.plan import DockerfileBuild, RegistryLogin, RunPlan
from airlock.runner.support import check_task, dockerfile_task
from airlock.tasks.errors import TaskFileError
from airlock.tasks.loader import load_task
from airlock.tasks.model import Step, StepKind
from airlock.tasks.render import RunContext


def cmd_step(**fields: object) -> Step:
    return Step(id=str(fields.pop("id", "test")), kind=StepKind.CMD, line=1, column=1, **fields)  # type: ignore[arg-type]


def build_step(text: str, **fields: object) -> Step:
    return Step(id="build", kind=StepKind.BUILD, line=1, column=1, build=text, **fields)  # type: ignore[arg-type]


@pytest.fixture
def layout(tmp_path: Path) -> RunLayout:
    source = tmp_path / "source"
    (source / "app").mkdir(parents=True)
    (source / "Dockerfile").write_text("FROM scratch\n")
    (source / "app" / "app.dockerfile").write_text("FROM scratch\n")
    home = tmp_path / "home"
    home.mkdir()
    return RunLayout(
        run_key="k1",
        source=source,
        home=home,
        networks={"acb_default_network": "acb-k1-net"},
        step_ids=("srv", "test"),
    )


def test_words_are_split_as_a_shell_splits_them_without_expansion() -> None:
    assert split_words("bash -c 'echo $HOME; ls'", "cmd") == ["bash", "-c", "echo $HOME; ls"]
    with pytest.raises(StepError, match="quotes"):
        split_words("echo 'unbalanced", "cmd")


def test_a_cmd_step_runs_on_the_runs_network_with_the_workspace_mounted(
    layout: RunLayout,
) -> None:
    step = cmd_step(env=("A=1",), ports=("8080:80",), detach=True)
    command = run_command(step, ["localhost/app:1", "serve", "--fast"], layout)
    args = command.args
    assert command.image == "localhost/app:1"
    assert args[-3:] == ["localhost/app:1", "serve", "--fast"]
    assert args[args.index("--network") : args.index("--network") + 4] == [
        "--network",
        "acb-k1-net",
        "--network-alias",
        "test",
    ]
    assert f"{layout.source}:/workspace" in args
    assert "--detach" in args and "--rm" in args
    assert "127.0.0.1:8080:80" in args
    assert args[args.index("--workdir") + 1] == "/workspace"
    assert command.name == container_name("k1", "test")


def test_options_before_the_image_are_an_allowlist(layout: RunLayout) -> None:
    command = run_command(cmd_step(), ["-t", "-e", "X=1", "app"], layout)
    assert command.image == "app"
    assert command.args[-3:-1] == ["--env", "X=1"]
    with pytest.raises(StepError, match="'-v'"):
        run_command(cmd_step(), ["-v", "/:/host", "app"], layout)
    with pytest.raises(StepError, match="no image"):
        run_command(cmd_step(), ["-t"], layout)


def test_a_step_cannot_join_the_hosts_network_or_publish_off_loopback(layout: RunLayout) -> None:
    with pytest.raises(StepError, match="not one of the task's networks"):
        run_command(cmd_step(network="host"), ["app"], layout)
    with pytest.raises(StepError, match="loopback"):
        loopback_port(cmd_step(), "0.0.0.0:80:80")
    assert loopback_port(cmd_step(), "127.0.0.5:80:80") == "127.0.0.5:80:80"
    assert loopback_port(cmd_step(), "80") == "127.0.0.1::80"


def test_working_directories_follow_acr_builder() -> None:
    assert working_directory(cmd_step()) == "/workspace"
    assert working_directory(cmd_step(working_directory="app")) == "/workspace/app"
    assert working_directory(cmd_step(working_directory="/src")) == "/src"


def test_a_build_stays_inside_the_context(layout: RunLayout) -> None:
    command = build_command(
        build_step("-t x:1 -f app/app.dockerfile --build-arg A=1 --build-arg B ."),
        "-t x:1 -f app/app.dockerfile --build-arg A=1 --build-arg B .",
        layout,
        {"B": "from-env"},
        platform_arch="amd64",
    )
    assert command.tags == ("x:1",)
    assert command.dockerfile == (layout.source / "app" / "app.dockerfile").resolve()
    assert "B=from-env" in command.args and "A=1" in command.args
    assert command.args[-1] == str(layout.source.resolve())
    for text, message in (
        ("-f ../etc/passwd .", "'..'"),
        ("-f /etc/passwd .", "outside the context"),
        ("-v /:/host .", "not supported"),
        ("--network host .", "not allowed"),
        ("https://example.com/repo.git", "not a folder of the run"),
        ("--platform linux/s390x .", "builds linux/amd64 only"),
    ):
        with pytest.raises(StepError, match=message):
            build_command(build_step(text), text, layout, {}, platform_arch="amd64")


def test_a_symlink_out_of_the_context_is_refused(layout: RunLayout, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM scratch\n")
    (layout.source / "escape").symlink_to(outside)
    with pytest.raises(StepError, match="out of the context"):
        build_command(build_step("escape"), "escape", layout, {}, platform_arch="amd64")


def test_check_task_refuses_what_cannot_run_here_with_its_line() -> None:
    for yaml_text, message in (
        ("steps:\n  - build: -v /:/x .\n", "not supported"),
        ("steps:\n  - cmd: docker manifest create x\n", "docker manifest"),
        ("steps:\n  - cmd: app\n    network: host\n", "network 'host'"),
        ("steps:\n  - cmd: app\n    isolation: hyperv\n", "Windows"),
        ("steps:\n  - cmd: app\n    ports: ['0.0.0.0:80:80']\n", "loopback"),
    ):
        task = load_task(yaml_text, source="acb.yaml")
        with pytest.raises(TaskFileError, match=message) as caught:
            check_task(task)
        assert str(caught.value).startswith("acb.yaml:2:")
    check_task(load_task("steps:\n  - cmd: docker tag a b\n  - build: -t x .\n", source="a"))


def test_a_dockerfile_build_is_a_build_step_and_a_push_step() -> None:
    run = RunContext(id="ca7", registry="127.0.0.1:5001")
    build = DockerfileBuild(
        dockerfile="app/Dockerfile",
        images=("hello:{{.Run.ID}}", "other.example.com/x:1"),
        build_args=(("A", "{{ .Secrets.x }}"),),
        target="final",
    )
    task = dockerfile_task(build, run)
    assert [s.id for s in task.steps] == ["build", "push"]
    assert task.steps[1].push == ("127.0.0.1:5001/hello:ca7", "other.example.com/x:1")
    words = split_words(task.steps[0].build or "", "build")
    # A build argument is passed as given: never rendered as a template.
    assert "A={{ .Secrets.x }}" in words
    assert words[-3:] == ["--target", "final", "."]
    no_push = dockerfile_task(DockerfileBuild(images=("a:1",), push=False), run)
    assert [s.id for s in no_push.steps] == ["build"]


def test_az_words_become_airlock_arguments() -> None:
    step = cmd_step()
    assert airlock_arguments(step, ["az", "login", "--identity", ">", "/dev/null"]) == (
        ["login", "--identity"],
        False,
    )
    assert airlock_arguments(step, ["acr", "purge", "2>&1"]) == (["acr", "purge"], True)
    with pytest.raises(StepError, match="needs a shell"):
        airlock_arguments(step, ["az", "acr", "list", "|", "jq"])


def test_a_plan_travels_as_json_and_never_prints_its_secrets() -> None:
    plan = RunPlan(
        run="0" * 32,
        run_id="ca1",
        registry="127.0.0.1:5001",
        registry_name="reg",
        kind="dockerfile",
        definition="",
        source="Dockerfile",
        context="/dev/null",
        created_at="2026-11-30T11:00:00+00:00",
        secrets={"s": "vault-value-1"},
        logins=(RegistryLogin("127.0.0.1:5001", "u", "registry-pw-1"),),
        dockerfile=DockerfileBuild(images=("a:1",), secret_build_args=(("T", "arg-secret-1"),)),
    )
    assert RunPlan.from_json(plan.to_json()) == plan
    assert "registry-pw-1" not in repr(plan) and "registry-pw-1" not in repr(plan.logins[0])
    assert set(plan.secret_values()) == {"vault-value-1", "registry-pw-1", "arg-secret-1"}
