"""Range requests on blobs: one satisfiable byte range, else 416 with bytes */size."""

from __future__ import annotations

import pytest

from airlock.registry.api.blobs import parse_range
from airlock.registry.errors import RegistryError


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=-500", (0, 99)),
    ],
)
def test_satisfiable(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    "header",
    ["bytes=100-", "bytes=10-5", "bytes=-0", "items=0-1", "bytes=0-1,3-4", "bytes=-", "0-5"],
)
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_range(header, 100)
    assert caught.value.status == 416
    assert caught.value.headers == {"content-range": "bytes */100"}
