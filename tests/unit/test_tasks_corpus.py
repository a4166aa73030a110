"""Every real ACR task file in shared/corpus/acr-tasks loads, or is refused with a located error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airlock.tasks import TaskFileError, TaskGraph, load_task

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "acr-tasks"

# file -> None (loads) or a fragment of the refusal. A change in behaviour fails here.
EXPECTED: dict[str, str | None] = {
    "Azure-Samples__acr-build-helloworld-node__taskmulti-multiregistry.yaml": None,
    "Azure-Samples__acr-build-helloworld-node__taskmulti.yaml": None,
    "Azure-Samples__acr-tasks__bash-echo-3.yaml": None,
    "Azure-Samples__acr-tasks__bash-echo.yaml": None,
    "Azure-Samples__acr-tasks__build-aspnetapp__WeatherService__acb.yaml": None,
    "Azure-Samples__acr-tasks__build-hello-world.yaml": None,
    "Azure-Samples__acr-tasks__build-push-hello-world-multi.yaml": None,
    "Azure-Samples__acr-tasks__build-push-hello-world.yaml": None,
    "Azure-Samples__acr-tasks__build-run-hello-world.yaml": None,
    "Azure-Samples__acr-tasks__build-test-hello-world.yaml": None,
    "Azure-Samples__acr-tasks__build-test-update-hello-world.yaml": None,
    "Azure-Samples__acr-tasks__buildx.yml": None,
    "Azure-Samples__acr-tasks__files-working-directory.yaml": None,
    "Azure-Samples__acr-tasks__hello-world.yaml": None,
    "Azure-Samples__acr-tasks__managed-identities.yaml": None,
    "Azure-Samples__acr-tasks__mounts-multistep.yaml": None,
    "Azure-Samples__acr-tasks__mounts-secrets.yaml": None,
    "Azure-Samples__acr-tasks__multipleRegistries__testtask.yaml": None,
    "Azure-Samples__acr-tasks__network-curl.yaml": None,
    "Azure-Samples__acr-tasks__simpletask.yaml": None,
    "Azure-Samples__acr-tasks__when-parallel-dependent.yaml": None,
    "Azure-Samples__acr-tasks__when-parallel.yaml": None,
    "Azure-Samples__acr-tasks__when-sequential-default.yaml": None,
    "Azure-Samples__acr-tasks__when-sequential-id.yaml": None,
    "AzureCR__acr-task-multiarch__acr-task-composed.yaml": "invalid version '1.0.0-preview'",
    "AzureCR__acr-task-multiarch__acr-task.yaml": "invalid version '1.0.0-preview'",
    "Azure__acr__docs__tasks__buildx__bootstrap.yaml": None,
    "Azure__acr__docs__tasks__buildx__build.yaml": None,
    "Azure__acr__docs__tasks__buildx__build_with_cache.yaml": None,
    "Azure__acr__docs__tasks__buildx__build_with_cache_2.yaml": None,
    "Azure__acr__docs__teleport__samples__azure-vote-shuttle.yaml": "one YAML document",
    "Azure__acr__docs__teleport__samples__azure-vote-teleport.yaml": "one YAML document",
    "Azure__acr__samples__dotnetcore__task__WeatherService__acb.yaml": None,
    "Azure__acr__samples__java__task__acb.yaml": None,
    "importing-public-content__base-image-node__acr-task.yaml": None,
    "importing-public-content__hello-world__acr-task.yaml": None,
    "importing-public-content__import-baseimage-node__acr-task.yaml": None,
    "sajayantony__acr-task-remote-context-sample__acr-task.yaml": None,
    "sajayantony__task-sample-with-values__acb.yaml": None,
    "sajayantony__task-sample-with-values__values.yaml": "no 'steps'",
    "sajayantony__task-secrets__acb.yaml": None,
}

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"task corpus not found at {CORPUS} (shared/ sits beside the clone)"
)


@needs_corpus
def test_the_table_covers_the_corpus() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".yaml", ".yml")}
    assert files == set(EXPECTED)


@needs_corpus
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    text = (CORPUS / name).read_text()
    expected = EXPECTED[name]
    if expected is None:
        task = load_task(text, source=name)
        order = TaskGraph.build(task).execution_order()
        assert [s.id for s in order] and len(order) == len(task.steps)
        return
    with pytest.raises(TaskFileError) as caught:
        load_task(text, source=name)
    assert re.match(re.escape(name) + r":\d+:\d+: ", str(caught.value))
    assert expected in str(caught.value)
