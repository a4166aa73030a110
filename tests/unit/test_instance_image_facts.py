"""What the deployer reads from ``podman image inspect``: the digest and the base image the
image was built on (buildah's manifest annotations), and the variables a container gets."""

from __future__ import annotations

import json

import pytest

from airlock.instances.deployer import ImageFacts, image_facts

BASE = "127.0.0.1:5001/node:15-alpine"
BASE_DIGEST = "sha256:" + "b" * 64
DIGEST = "sha256:" + "a" * 64


def inspected(**image: object) -> str:
    return json.dumps([{"Id": "c" * 64, **image}])


def test_an_image_built_from_another_names_its_base() -> None:
    annotations = {
        "org.opencontainers.image.base.name": BASE,
        "org.opencontainers.image.base.digest": BASE_DIGEST,
        "org.opencontainers.image.created": "2026-11-30T14:00:00Z",
    }
    facts = image_facts(inspected(Digest=DIGEST, Annotations=annotations))
    assert facts == ImageFacts(digest=DIGEST, base_image=BASE, base_digest=BASE_DIGEST)
    assert facts.environment("reg/app:1") == {
        "AIRLOCK_IMAGE": "reg/app:1",
        "AIRLOCK_IMAGE_DIGEST": DIGEST,
        "AIRLOCK_BASE_IMAGE": BASE,
        "AIRLOCK_BASE_IMAGE_DIGEST": BASE_DIGEST,
    }


@pytest.mark.parametrize("annotations", [None, {}, {"org.opencontainers.image.base.name": ""}])
def test_an_image_from_scratch_names_none(annotations: object) -> None:
    image = {"Digest": DIGEST} | ({} if annotations is None else {"Annotations": annotations})
    facts = image_facts(inspected(**image))
    assert facts == ImageFacts(digest=DIGEST)
    assert facts.environment("app") == {"AIRLOCK_IMAGE": "app", "AIRLOCK_IMAGE_DIGEST": DIGEST}


@pytest.mark.parametrize(
    "output",
    ["", "not json", "[]", "{}", '["x"]', json.dumps([{"Digest": 5, "Annotations": ["x"]}])],
)
def test_unexpected_output_gives_no_facts(output: str) -> None:
    assert image_facts(output) == ImageFacts()
    assert ImageFacts().environment("app") == {"AIRLOCK_IMAGE": "app"}
