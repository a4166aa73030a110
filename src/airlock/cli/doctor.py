"""``airlock doctor``: check that this machine can run task steps, and say what to fix."""

from __future__ import annotations

import argparse
from typing import Any

from airlock.cli.options import Context, Subparsers, add_global_arguments


class Findings(list[dict[str, str]]):
    """The checks to print; ``exit_code`` is 1 when one of them failed."""

    exit_code = 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="Check that this machine can run task steps in containers.",
        description="Check podman, buildah, skopeo, runc and git, the container network "
        "backend, the hard ulimits, subordinate uids (when not root) and a storage driver "
        "podman can use with Airlock's configuration in $AIRLOCK_HOME/engine; print what to "
        "fix. Exits 1 when a check fails.",
    )
    add_global_arguments(parser)
    parser.set_defaults(handler=doctor, table=table)


def doctor(args: argparse.Namespace, ctx: Context) -> Any:
    # Imported here: the engine probe is not needed by the other commands.
    from airlock.common.paths import default_home
    from airlock.engine.doctor import FAILED, run_checks

    checks = run_checks(default_home())
    findings = Findings(check.to_json() for check in checks)
    findings.exit_code = 1 if any(c.status == FAILED for c in checks) else 0
    return findings


def table(findings: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        {
            "Check": f["check"],
            "Status": f["status"],
            "Detail": f["detail"],
            "Fix": f["fix"],
        }
        for f in findings
    ]
