"""Locks through a running server: the /v2/ API with httpx, the REST API and the CLI."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.e2e.conftest import REGISTRY_NAME
from tests.e2e.helpers import (
    BaseBlobs,
    pull_and_verify,
    push_base_blobs,
    push_blob,
    push_manifest,
    sha256_digest,
)
from tests.support.images import MEDIA_INDEX, MEDIA_MANIFEST
from tests.support.registry_auth import RegistryTokenAuth
from tests.support.servers import Airlock, free_port


def update(airlock: Airlock, *target: str, **flags: str) -> dict[str, Any]:
    options = [f"--{k.replace('_', '-')}={v}" for k, v in flags.items()]
    done = airlock.cli(
        "acr", "repository", "update", "-n", REGISTRY_NAME, *target, *options, "-o", "json"
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def pushed(client: httpx.Client, repo: str, tag: str, blobs: BaseBlobs, note: str) -> str:
    answer = push_manifest(client, repo, tag, blobs.manifest(note=note))
    assert answer.status_code == 201, answer.text
    return answer.headers["docker-content-digest"]


def assert_denied(answer: httpx.Response, *words: str) -> None:
    assert answer.status_code == 403, answer.text
    error = answer.json()["errors"][0]
    assert error["code"] == "DENIED"
    for word in words:
        assert word in error["message"]


def test_write_locked_tag(airlock: Airlock, client: httpx.Client, repo: str) -> None:
    blobs = push_base_blobs(client, repo)
    old = pushed(client, repo, "v1", blobs, "one")
    shown = update(airlock, "--image", f"{repo}:v1", write_enabled="false")
    assert shown["tag"]["changeableAttributes"]["writeEnabled"] is False

    answer = push_manifest(client, repo, "v1", blobs.manifest(note="two"))
    assert_denied(
        answer,
        f"tag {repo}:v1 is locked (writeEnabled: false)",
        f"airlock acr repository update --name {REGISTRY_NAME} --image {repo}:v1 "
        "--write-enabled true",
    )
    assert client.head(f"/v2/{repo}/manifests/v1").headers["docker-content-digest"] == old
    same = push_manifest(client, repo, "v1", blobs.manifest(note="one"))
    assert same.status_code == 201, same.text
    pushed(client, repo, "v2", blobs, "two")

    update(airlock, "--image", f"{repo}:v1", write_enabled="TRUE")
    pushed(client, repo, "v1", blobs, "three")


def test_delete_locked_image_survives_a_repository_delete(
    airlock: Airlock, client: httpx.Client, repo: str
) -> None:
    blobs = push_base_blobs(client, repo)
    kept = pushed(client, repo, "keep", blobs, "one")
    gone = pushed(client, repo, "gone", blobs, "two")
    update(airlock, "--image", f"{repo}@{kept}", delete_enabled="false")

    assert_denied(client.delete(f"/v2/{repo}/manifests/{kept}"), "deleteEnabled: false")
    assert_denied(client.delete(f"/v2/{repo}/manifests/keep"), f"manifest {repo}@{kept}")
    refused = airlock.cli(
        "acr", "repository", "delete", "-n", REGISTRY_NAME, "--image", f"{repo}:keep", "--yes",
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "deleteEnabled: false" in refused.stderr

    done = airlock.cli(
        "acr", "repository", "delete", "-n", REGISTRY_NAME, "--repository", repo, "--yes",
        "-o", "json",
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert result["manifestsKept"] == [kept] and result["tagsKept"] == ["keep"]
    assert result["manifestsDeleted"] == [gone]
    assert client.get(f"/v2/{repo}/manifests/keep").status_code == 200
    assert client.get(f"/v2/{repo}/manifests/{gone}").status_code == 404
    assert client.get(f"/v2/{repo}/blobs/{blobs.layer[0]}").status_code == 200


def test_layer_of_a_delete_locked_image_cannot_be_deleted(
    airlock: Airlock, client: httpx.Client, repo: str
) -> None:
    blobs = push_base_blobs(client, repo)
    digest = pushed(client, repo, "v1", blobs, "one")
    update(airlock, "--image", f"{repo}:v1", delete_enabled="false")
    layer = blobs.layer[0]

    assert_denied(
        client.delete(f"/v2/{repo}/blobs/{layer}"),
        f"blob {layer} is used by manifest {repo}@{digest}",
        f"tag {repo}:v1 is locked (deleteEnabled: false)",
        f"airlock acr repository update --name {REGISTRY_NAME} --image {repo}:v1 "
        "--delete-enabled true",
    )
    assert_denied(client.delete(f"/v2/{repo}/blobs/{blobs.config[0]}"), "deleteEnabled: false")
    assert pull_and_verify(client, repo, "v1") == digest

    # A blob no locked image uses may still be unlinked.
    loose = push_blob(client, repo, b"not in any manifest")
    assert client.delete(f"/v2/{repo}/blobs/{loose}").status_code == 202
    assert client.head(f"/v2/{repo}/blobs/{loose}").status_code == 404
    # Unlocked, the layer link goes (as Distribution allows).
    update(airlock, "--image", f"{repo}:v1", delete_enabled="true")
    assert client.delete(f"/v2/{repo}/blobs/{layer}").status_code == 202


def test_child_manifest_of_a_locked_index_cannot_be_deleted(
    airlock: Airlock, client: httpx.Client, repo: str
) -> None:
    blobs = push_base_blobs(client, repo)
    children = []
    for note in ("amd64", "arm64"):
        body = blobs.manifest(note=note)
        answer = push_manifest(client, repo, sha256_digest(body), body)
        assert answer.status_code == 201, answer.text
        children.append((sha256_digest(body), len(body)))
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [
                {"mediaType": MEDIA_MANIFEST, "digest": d, "size": n} for d, n in children
            ],
        }
    ).encode()
    answer = push_manifest(client, repo, "multi", index, MEDIA_INDEX)
    assert answer.status_code == 201, answer.text
    index_digest = answer.headers["docker-content-digest"]
    update(airlock, "--image", f"{repo}@{index_digest}", delete_enabled="false")

    child = children[1][0]
    assert_denied(
        client.delete(f"/v2/{repo}/manifests/{child}"),
        f"manifest {repo}@{child}, a child of index {repo}@{index_digest}",
        f"--image {repo}@{index_digest} --delete-enabled true",
    )
    accept = {"accept": MEDIA_MANIFEST}
    assert client.get(f"/v2/{repo}/manifests/{child}", headers=accept).status_code == 200
    assert pull_and_verify(client, repo, child) == child
    refused = airlock.cli(
        "acr", "repository", "delete", "-n", REGISTRY_NAME, "--image", f"{repo}@{child}",
        "--yes", check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "a child of index" in refused.stderr
    assert client.get(f"/v2/{repo}/manifests/{child}", headers=accept).status_code == 200


def test_tags_of_a_put_by_digest_respect_write_locks(
    airlock: Airlock, client: httpx.Client, repo: str
) -> None:
    blobs = push_base_blobs(client, repo)
    old = pushed(client, repo, "stable", blobs, "one")
    update(airlock, "--image", f"{repo}:stable", write_enabled="false")
    body = blobs.manifest(note="two")
    digest = sha256_digest(body)
    answer = client.put(
        f"/v2/{repo}/manifests/{digest}",
        params=[("tag", "fresh"), ("tag", "stable")],
        content=body,
        headers={"content-type": MEDIA_MANIFEST},
    )
    assert_denied(answer, f"tag {repo}:stable is locked (writeEnabled: false)")
    # All or nothing: neither the manifest nor the other tag arrived.
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["stable"]
    assert client.head(f"/v2/{repo}/manifests/{digest}").status_code == 404
    assert client.head(f"/v2/{repo}/manifests/stable").headers["docker-content-digest"] == old

    answer = client.put(
        f"/v2/{repo}/manifests/{digest}",
        params=[("tag", "fresh")],
        content=body,
        headers={"content-type": MEDIA_MANIFEST},
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers.get_list("oci-tag") == ["fresh"]


def test_read_locked_manifest(airlock: Airlock, client: httpx.Client, repo: str) -> None:
    blobs = push_base_blobs(client, repo)
    digest = pushed(client, repo, "v1", blobs, "one")
    pushed(client, repo, "v2", blobs, "two")
    update(airlock, "--image", f"{repo}:v1", read_enabled="false")
    accept = {"accept": MEDIA_MANIFEST}
    assert_denied(client.get(f"/v2/{repo}/manifests/v1", headers=accept), "readEnabled")
    assert client.head(f"/v2/{repo}/manifests/v1").status_code == 403
    # The tag's lock applies to the tag; the manifest's own lock to every way of naming it.
    assert client.get(f"/v2/{repo}/manifests/{digest}", headers=accept).status_code == 200
    update(airlock, "--image", f"{repo}@{digest}", read_enabled="false")
    assert_denied(client.get(f"/v2/{repo}/manifests/{digest}"), f"manifest {repo}@{digest}")
    assert client.get(f"/v2/{repo}/manifests/v2").status_code == 200
    assert client.get(f"/v2/{repo}/blobs/{blobs.layer[0]}").status_code == 200


def test_list_locked_tag(airlock: Airlock, client: httpx.Client, repo: str) -> None:
    blobs = push_base_blobs(client, repo)
    pushed(client, repo, "hidden", blobs, "one")
    pushed(client, repo, "shown", blobs, "two")
    update(airlock, "--image", f"{repo}:hidden", list_enabled="false")

    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["shown"]
    base = ("acr", "repository", "show-tags", "-n", REGISTRY_NAME, "--repository", repo)
    assert json.loads(airlock.cli(*base, "-o", "json").stdout) == ["shown"]
    detail = json.loads(airlock.cli(*base, "--detail", "-o", "json").stdout)
    assert {t["name"]: t["changeableAttributes"]["listEnabled"] for t in detail} == {
        "hidden": False,
        "shown": True,
    }


def test_repository_level_locks(airlock: Airlock, client: httpx.Client, repo: str) -> None:
    blobs = push_base_blobs(client, repo)
    pushed(client, repo, "v1", blobs, "one")
    shown = update(airlock, "--repository", repo, write_enabled="false", list_enabled="false")
    assert shown["imageName"] == repo and shown["tagCount"] == 1
    assert shown["changeableAttributes"]["writeEnabled"] is False

    assert_denied(client.post(f"/v2/{repo}/blobs/uploads/"), f"repository {repo} is locked")
    assert_denied(
        push_manifest(client, repo, "v2", blobs.manifest(note="two")),
        f"--repository {repo} --write-enabled true",
    )
    assert repo not in client.get("/v2/_catalog").json()["repositories"]
    listed = airlock.cli("acr", "repository", "list", "-n", REGISTRY_NAME, "-o", "json")
    assert repo not in json.loads(listed.stdout)
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == []

    update(airlock, "--repository", repo, write_enabled="true", list_enabled="true")
    push_blob(client, repo, b"unlocked")
    assert repo in client.get("/v2/_catalog").json()["repositories"]


def test_rest_api_checks_input_and_changes_nothing(
    airlock: Airlock, client: httpx.Client, repo: str
) -> None:
    blobs = push_base_blobs(client, repo)
    pushed(client, repo, "v1", blobs, "one")
    owner = {"Authorization": f"Bearer {airlock.owner_token}"}
    with httpx.Client(base_url=airlock.api_url, timeout=30, headers=owner) as api:
        check_rest_input(api, repo)


def check_rest_input(api: httpx.Client, repo: str) -> None:
    path = f"/api/registries/{REGISTRY_NAME}/attributes"
    for params, body in [
        ({"repository": repo, "reference": "v1"}, {"writeEnabled": "no"}),
        ({"repository": repo, "reference": "v1"}, {"writeenabled": False}),
        ({"repository": repo, "reference": "bad tag!"}, {"writeEnabled": False}),
        ({"repository": "Bad/Name"}, {"writeEnabled": False}),
    ]:
        answer = api.patch(path, params=params, json=body)
        assert answer.status_code == 400, (params, body, answer.text)
        assert answer.json()["error"]["message"]
    missing = api.patch(path, params={"repository": repo, "reference": "v9"}, json={})
    assert missing.status_code == 400  # an empty change is refused before the lookup
    missing = api.patch(
        path, params={"repository": repo, "reference": "v9"}, json={"writeEnabled": False}
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "TagNotFound"
    shown = api.get(
        f"/api/registries/{REGISTRY_NAME}/repository",
        params={"repository": repo, "reference": "v1"},
    )
    assert shown.status_code == 200
    assert all(shown.json()["tag"]["changeableAttributes"].values())


def test_cli_refuses_bad_flags(airlock: Airlock, repo: str) -> None:
    bad = airlock.cli(
        "acr", "repository", "update", "-n", REGISTRY_NAME, "--image", f"{repo}:v1",
        "--write-enabled", "maybe", check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "expected true or false" in bad.stderr
    empty = airlock.cli(
        "acr", "repository", "update", "-n", REGISTRY_NAME, "--repository", repo, check=False
    )
    assert empty.returncode != 0 and "nothing to update" in empty.stderr
    unknown = airlock.cli(
        "acr", "repository", "show", "-n", REGISTRY_NAME, "--repository", repo, check=False
    )
    assert unknown.returncode != 0 and "not found" in unknown.stderr


def test_registry_and_group_deletes_keep_locked_content(airlock: Airlock, repo: str) -> None:
    """A registry (or the resource group it is in) with delete-locked content is not deleted,
    and keeps serving; once unlocked, it goes."""
    registry = "lockedgroupreg"
    airlock.cli("acr", "create", "-n", registry, "-g", "locked-rg", "--port", str(free_port()))
    url = (
        airlock.registries.get(registry)
        or "http://" + json.loads(airlock.cli("acr", "show", "-n", registry).stdout)["loginServer"]
    )
    username, password = airlock.admin_credentials(registry)
    with httpx.Client(
        base_url=url, timeout=60, auth=RegistryTokenAuth(username, password)
    ) as client:
        blobs = push_base_blobs(client, repo)
        pushed(client, repo, "v1", blobs, "locked")
        airlock.cli(
            "acr", "repository", "update", "-n", registry, "--image", f"{repo}:v1",
            "--delete-enabled", "false",
        )  # fmt: skip

        for command in (
            ("acr", "delete", "-n", registry, "-y"),
            ("group", "delete", "-n", "locked-rg", "-y"),
        ):
            refused = airlock.cli(*command, check=False)
            assert refused.returncode != 0
            assert "delete lock" in refused.stderr and "--delete-enabled true" in refused.stderr
            # Nothing went: the registry is listed, serves, and the image pulls.
            assert registry in airlock.cli("acr", "list", "--query", "[].name", "-o", "tsv").stdout
            assert (
                client.get(
                    f"/v2/{repo}/manifests/v1", headers={"accept": MEDIA_MANIFEST}
                ).status_code
                == 200
            )

        airlock.cli(
            "acr", "repository", "update", "-n", registry, "--image", f"{repo}:v1",
            "--delete-enabled", "true",
        )  # fmt: skip
    airlock.cli("group", "delete", "-n", "locked-rg", "-y")
    assert registry not in airlock.cli("acr", "list", "--query", "[].name", "-o", "tsv").stdout
