"""``airlock doctor``'s checks on inputs made for them (the machine's own run is in
tests/integration/test_doctor.py)."""

from __future__ import annotations

from pathlib import Path

from airlock.engine.doctor import FAILED, OK, WARNING, has_range, run_checks


def test_subordinate_ranges_are_read_as_usermod_writes_them() -> None:
    text = "root:100000:65536\nalice:165536:65536\nbob:231072:0\n"
    assert has_range(text, "alice", 1000)
    assert has_range("1001:300000:65536\n", "carol", 1001)  # by uid
    assert not has_range(text, "bob", 1002)  # an empty range is no range
    assert not has_range(text, "dave", 1003)
    assert not has_range("garbage\nalice:x:y\n", "alice", 1000)


def test_missing_tools_and_ranges_fail_with_what_to_run(tmp_path: Path) -> None:
    subuid = tmp_path / "subuid"
    subuid.write_text("someoneelse:100000:65536\n")
    checks = run_checks(
        tmp_path,
        which=lambda name: None,  # nothing installed
        uid=4242,
        hard_limits={"nofile": 1024, "nproc": None},
        subuid=subuid,
        subgid=tmp_path / "no-subgid",
    )
    by_name = {c.name: c for c in checks}
    for tool in ("podman", "buildah", "skopeo", "runc", "git"):
        assert by_name[tool].status == FAILED and "scripts/bootstrap" in by_name[tool].fix
    assert by_name["ulimits"].status == WARNING
    assert "nofile hard limit 1024 < 20000" in by_name["ulimits"].detail
    ids = by_name["subuid/subgid"]
    assert ids.status == FAILED and "usermod --add-subuids" in ids.fix
    assert str(subuid) in ids.detail and "no-subgid" in ids.detail
    # Without podman there is no storage to probe: the check is left out, not faked.
    assert "storage" not in by_name


def test_root_needs_no_subordinate_ranges(tmp_path: Path) -> None:
    checks = run_checks(tmp_path, which=lambda name: None, uid=0, hard_limits={})
    assert {c.name: c.status for c in checks}["subuid/subgid"] == OK
