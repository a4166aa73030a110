"""``airlock demo`` and ``airlock demo --clean``: the server, the folder, the walkthrough,
the summary, and leaving nothing behind (or everything, with ``--keep``)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from airlock.common.paths import default_home
from airlock.demo import server, state
from airlock.demo.commands import AirlockCLI
from airlock.demo.console import Console
from airlock.demo.errors import DemoError
from airlock.demo.repos import examples_folder
from airlock.demo.walkthrough import (
    ACI,
    AKV,
    GROUPS,
    REGISTRY,
    REGISTRY_BASE_ARTIFACTS,
    REGISTRY_DOCKERHUB,
    REGISTRY_PUBLIC,
    Walkthrough,
    group_of,
)

DEFAULT_URL = f"http://127.0.0.1:{server.DEFAULT_PORT}"


def perform(console: Console, keep: bool) -> int:
    kept = state.load()
    if kept is not None:
        raise DemoError(
            f"a demo kept with --keep is still there (server {kept.server_url}, files in "
            f"{kept.folder}); remove it first with 'airlock demo --clean'"
        )
    examples = examples_folder()
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="airlock-demo-"))
    env = dict(os.environ)
    # The groups to delete at the end: none until the names are known to be free, so that a
    # refusal never removes what was there before the demo.
    record = state.DemoState(server_url="", folder=str(folder), groups=[])
    succeeded = False
    try:
        _connect(console, env, folder, record, detach=keep)
        cli = AirlockCLI(console, env)
        _refuse_leftovers(cli)
        record.groups = list(GROUPS)
        if keep:
            state.save(record)
        walkthrough = Walkthrough(console, cli, folder, examples)
        walkthrough.run()
        succeeded = True
        _summary(console, walkthrough, time.monotonic() - started)
    finally:
        if keep:
            state.save(record)
            _how_to_look_around(console, record, succeeded)
        else:
            if not succeeded and record.server_pid is not None:
                _server_log_tail(console, folder)
            _remove(console, record, env)
    return 0


def clean(console: Console) -> int:
    kept = state.load()
    if kept is None:
        console.note(f"no demo kept with --keep here ({state.state_file()} is absent)")
        return 0
    env = dict(os.environ)
    env["AIRLOCK_URL"] = kept.server_url
    if kept.home:
        env["AIRLOCK_HOME"] = kept.home
    _remove(console, kept, env)
    return 0


def _connect(
    console: Console, env: dict[str, str], folder: Path, record: state.DemoState, detach: bool
) -> None:
    """Use the server at $AIRLOCK_URL if one answers there, else start one."""
    url = env.get("AIRLOCK_URL") or DEFAULT_URL
    if server.answers(url):
        console.phase(f"Using the Airlock server at {url}")
        env["AIRLOCK_URL"] = url
        record.server_url = url
        if not AirlockCLI(console, env).succeeds("account", "show"):
            raise DemoError(
                f"the server at {url} answers but this user is not signed in to it: run "
                "'airlock login', or set AIRLOCK_URL to a free port to let the demo start "
                "a server of its own"
            )
        return
    port = server.port_of(url) if "AIRLOCK_URL" in env else server.DEFAULT_PORT
    if port is None:
        raise DemoError(
            f"no Airlock server answers at {url}, and the demo starts its own only on "
            "127.0.0.1; unset AIRLOCK_URL or point it at a loopback port"
        )
    port = server.free_port(port)
    url = f"http://127.0.0.1:{port}"
    home = default_home()
    log = folder / "server.log"
    console.phase(f"Starting an Airlock server on {url}")
    console.command(f"airlock server --port {port} > {log} 2>&1 &")
    console.note(f"state in {home}")
    env["AIRLOCK_URL"] = url
    record.server_url = url
    record.home = str(home)
    record.server_pid = server.start(env, port, log, detach=detach)
    console.good(f"the server answers at {url} (pid {record.server_pid})")


def _refuse_leftovers(cli: AirlockCLI) -> None:
    """The walkthrough's names must be free: it would otherwise fail half-way."""
    found = [
        (f"a registry named {name}", group_of(name))
        for name in (REGISTRY_DOCKERHUB, REGISTRY_PUBLIC, REGISTRY_BASE_ARTIFACTS, REGISTRY)
        if cli.succeeds("acr", "show", "-n", name, "-o", "none")
    ]
    if cli.succeeds("keyvault", "show", "-n", AKV, "-o", "none"):
        found.append((f"a key vault named {AKV}", group_of(AKV)))
    found += [
        (f"a resource group named {group}", group)
        for group in GROUPS
        if cli.succeeds("group", "show", "-n", group, "-o", "none")
    ]
    if found:
        what, group = found[0]
        raise DemoError(
            f"the server already has {what} (an earlier demo?); remove it with 'airlock "
            f"group delete -n {group} --yes', or run the demo against another server "
            "(AIRLOCK_URL, AIRLOCK_HOME)"
        )


def _remove(console: Console, record: state.DemoState, env: dict[str, str]) -> None:
    """The seed's clean-up (``group delete`` of every group), then the demo's own things."""
    console.phase("Cleaning up")
    if record.server_url and server.answers(record.server_url):
        cli = AirlockCLI(console, env)
        for group in record.groups:
            if cli.succeeds("group", "show", "-n", group, "-o", "none"):
                cli.run("group", "delete", "-n", group, "--yes", check=False)
    if record.server_pid is not None:
        console.note(f"stopping the demo's server (pid {record.server_pid})")
        server.stop(record.server_pid)
    shutil.rmtree(record.folder, ignore_errors=True)
    state.forget()
    console.good("removed")


def _server_log_tail(console: Console, folder: Path, lines: int = 30) -> None:
    log = folder / "server.log"
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    console.phase(f"The last lines of the server's log ({log})")
    console.output("\n".join(tail))


def _summary(console: Console, walkthrough: Walkthrough, total: float) -> None:
    console.phase("Summary")
    width = max(len(title) for title, _ in walkthrough.timings.phases)
    for number, (title, seconds) in enumerate(walkthrough.timings.phases, start=1):
        console.output(f"  {number:2}. {title:<{width}}  {seconds:6.1f} s")
    for what, figure in walkthrough.timings.figures:
        console.output(f"  {what}: {figure}")
    console.output(f"  total: {total:.1f} s")
    console.good(f"the walkthrough ran to its end; the app was at {walkthrough.url}")


def _how_to_look_around(console: Console, record: state.DemoState, succeeded: bool) -> None:
    console.phase("Kept running (--keep)" if succeeded else "Kept for a look (--keep)")
    if record.server_url != DEFAULT_URL:
        console.output(f"  export AIRLOCK_URL={record.server_url}")
    if record.home:
        console.output(f"  export AIRLOCK_HOME={record.home}")
    console.output(
        f"  airlock container show -g {group_of(ACI)} -n {ACI} --query url -o tsv   # the page\n"
        f"  airlock acr task list-runs -r {REGISTRY} -o table\n"
        f"  airlock acr task logs -r {REGISTRY_BASE_ARTIFACTS}\n"
        f"  cd {record.folder}/base-image-node   # edit the Dockerfile, commit, git push: "
        "the chain runs again\n"
        "  airlock demo --clean   # removes the groups, the files and the demo's server"
    )
