"""The seed walkthrough, phase by phase, with the seed's names.

Each phase prints the commands it runs (``airlock`` where the seed has ``az``), checks what
the seed says should happen (run tables, the gate's log, the page colour over HTTP) and
raises a DemoError when it does not.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.demo import page
from airlock.demo.commands import AirlockCLI, Git, Hidden
from airlock.demo.console import Console, strip_ansi
from airlock.demo.errors import DemoError
from airlock.demo.repos import Repository, make_repositories, set_background, upstream_context
from airlock.demo.runs import Expected, RunWatcher

# The seed's variables (000_681eaa50ace9744f.txt, "Set environment variables").
REGISTRY_PUBLIC = "publicregistry"
REGISTRY_BASE_ARTIFACTS = "contosobaseartifacts"
REGISTRY = "contoso"
AKV = "acr-task-credentials"
ACI = "hello-world-aci"
# The registry that plays Docker Hub, which this machine cannot reach.
REGISTRY_DOCKERHUB = "dockerhub"


def group_of(name: str) -> str:
    return f"{name}-rg"


GROUPS = tuple(
    group_of(n)
    for n in (REGISTRY_DOCKERHUB, REGISTRY_PUBLIC, REGISTRY_BASE_ARTIFACTS, REGISTRY, AKV, ACI)
)
INITIAL_COLOR = "Blue"


def vault_secret(name: str) -> str:
    return f"https://{AKV}.vault.azure.net/secrets/{name}"


@dataclass
class Timings:
    phases: list[tuple[str, float]] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)


class Walkthrough:
    def __init__(self, console: Console, cli: AirlockCLI, folder: Path, examples: Path) -> None:
        self.console = console
        self.cli = cli
        self.folder = folder
        self.examples = examples
        self.git = Git(console, folder)
        self.watch = RunWatcher(cli, console)
        self.timings = Timings()
        self.repos: dict[str, Repository] = {}
        self.login: dict[str, str] = {}
        self.url = ""
        self.colors: list[str] = []  # the page's colour at each look
        self.base_color = INITIAL_COLOR  # what base-image-node's Dockerfile says now
        self.gate_runs: list[tuple[str, str]] = []  # validated imports: (run id, colour)
        self.dockerhub_password = ""
        self.first_validated = ""  # the base digest hello-world ran on after the switch

    # --- the walkthrough ------------------------------------------------------------------

    def run(self) -> None:
        with self.phase("Git repositories (the seed's three forks)"):
            self.repos = make_repositories(self.git, self.examples, self.folder)
            for repository in self.repos.values():
                self.console.note(f"{repository.name}: {repository.context}")
        with self.phase("Create registries"):
            self.create_registries()
        with self.phase("Docker Hub stand-in: the upstream node:15-alpine image"):
            self.docker_hub()
        with self.phase("Create key vault and set secrets"):
            self.key_vault()
        with self.phase("Create public node base image (task node-public)"):
            self.node_public()
        with self.phase("Create the hello-world image and deploy it"):
            self.hello_world()
        with self.phase("Update the base image with a questionable change (Orange)"):
            self.commit("Orange", gate=None, app_trigger="Image Update")
        with self.phase("Gated import of public content (task base-import-node)"):
            self.base_import_node()
        with self.phase("Update hello-world to build from the gated node image"):
            self.switch_hello_world()
        with self.phase("Update the base image with a valid change (Green)"):
            self.commit("Green", gate="Succeeded", app_trigger="Image Update")
        with self.phase("View the gated workflow (Red)"):
            self.commit("Red", gate="Failed", app_trigger=None)
        with self.phase("Roll back the stable tag to an earlier validated image"):
            self.rollback()
        with self.phase("Run tables"):
            self.run_tables()

    def create_registries(self) -> None:
        for name in (REGISTRY_DOCKERHUB, REGISTRY_PUBLIC, REGISTRY_BASE_ARTIFACTS, REGISTRY):
            self.cli.run("group", "create", "--name", group_of(name), "--location", "local",
                         "-o", "table")  # fmt: skip
            self.cli.run("acr", "create", "--resource-group", group_of(name), "--name", name,
                         "--sku", "Premium", "-o", "table")  # fmt: skip
            self.login[name] = self.cli.capture(
                f"{_variable(name)}_URL", "acr", "show", "-n", name,
                "--query", "loginServer", "-o", "tsv",
            )  # fmt: skip

    def docker_hub(self) -> None:
        self.console.note(
            "There is no Docker Hub here: the registry 'dockerhub' plays it, with a node:15-alpine "
            "built from this machine's busybox-static, and a pull token as the Docker Hub token."
        )
        context = upstream_context(self.examples, self.folder)
        self.cli.run("acr", "build", "-r", REGISTRY_DOCKERHUB, "--image", "node:15-alpine",
                     str(context), "-o", "table")  # fmt: skip
        self.dockerhub_password = self.cli.capture(
            "REGISTRY_DOCKERHUB_PASSWORD", "acr", "token", "create", "--name", "dockerhub-user",
            "--registry", REGISTRY_DOCKERHUB, "--scope-map", "_repositories_pull",
            "--query", "credentials.passwords[0].value", "-o", "tsv", secret=True,
        )  # fmt: skip

    def key_vault(self) -> None:
        self.cli.run("group", "create", "--name", group_of(AKV), "--location", "local",
                     "-o", "table")  # fmt: skip
        self.cli.run("keyvault", "create", "--resource-group", group_of(AKV), "--name", AKV,
                     "-o", "table")  # fmt: skip
        self.set_secret("registry-dockerhub-user", "dockerhub-user")
        self.set_secret(
            "registry-dockerhub-password",
            Hidden(self.dockerhub_password, "$REGISTRY_DOCKERHUB_PASSWORD"),
        )
        git_token = "ghp_" + secrets.token_urlsafe(27)
        self.console.hide(git_token)
        self.set_secret("github-token", Hidden(git_token, "$GIT_TOKEN"))
        self.cli.run("keyvault", "secret", "show", "--vault-name", AKV, "--name",
                     "github-token", "--query", "value", "-o", "tsv")  # fmt: skip
        self.console.note(
            "The repositories here are local (file://), which need no token: the tasks below "
            "are created without --git-access-token (see docs/migrating-from-acr.md)."
        )
        self.cli.run("group", "create", "--name", group_of(ACI), "--location", "local",
                     "-o", "table")  # fmt: skip

    def node_public(self) -> None:
        repository = self.repos["base-image-node"]
        self.cli.run(
            "acr", "task", "create", "--name", "node-public", "-r", REGISTRY_PUBLIC,
            "-f", "acr-task.yaml", "--context", repository.context,
            "--set", f"REGISTRY_FROM_URL={self.login[REGISTRY_DOCKERHUB]}/",
            "--assign-identity", "-o", "table",
        )  # fmt: skip
        self.cli.run(
            "acr", "task", "credential", "add", "-n", "node-public", "-r", REGISTRY_PUBLIC,
            "--login-server", self.login[REGISTRY_DOCKERHUB],
            "-u", vault_secret("registry-dockerhub-user"),
            "-p", vault_secret("registry-dockerhub-password"),
            "--use-identity", "[system]",
        )  # fmt: skip
        self.allow_vault("node-public", REGISTRY_PUBLIC)
        self.console.note(
            "ACR registers a GitHub webhook at task create; here the repository's own "
            "post-receive hook calls the task's commit webhook:"
        )
        self.cli.run("acr", "task", "hook", "install", "-r", REGISTRY_PUBLIC, "-n",
                     "node-public", "--repository", str(repository.bare), "-o", "none")  # fmt: skip
        self.run_task(REGISTRY_PUBLIC, "node-public")
        self.cli.run("acr", "repository", "show-tags", "-n", REGISTRY_PUBLIC, "--repository",
                     "node", "-o", "table")  # fmt: skip

    def hello_world(self) -> None:
        self.pull_token(REGISTRY_PUBLIC, "--scope-map", "_repositories_pull")
        self.pull_token(REGISTRY, "--repository", "hello-world", "content/read")
        self.cli.run(
            "acr", "task", "create", "-n", "hello-world", "-r", REGISTRY, "-f", "acr-task.yaml",
            "--context", self.repos["hello-world"].context,
            "--set", f"REGISTRY_FROM_URL={self.login[REGISTRY_PUBLIC]}/",
            "--set", f"KEYVAULT={AKV}", "--set", f"ACI={ACI}", "--set", f"ACI_RG={group_of(ACI)}",
            "--assign-identity", "-o", "table",
        )  # fmt: skip
        self.task_credential("hello-world", REGISTRY, REGISTRY_PUBLIC)
        principal = self.allow_vault("hello-world", REGISTRY)
        scope = self.cli.capture("ACI_RG_ID", "group", "show", "-n", group_of(ACI),
                                 "--query", "id", "-o", "tsv")  # fmt: skip
        self.cli.run("role", "assignment", "create", "--assignee", principal, "--scope", scope,
                     "--role", "owner", "-o", "table")  # fmt: skip
        self.run_task(REGISTRY, "hello-world")
        ip = self.cli.capture("ACI_IP", "container", "show", "--resource-group", group_of(ACI),
                              "--name", ACI, "--query", "ipAddress.ip", "--out", "tsv")  # fmt: skip
        self.url = self.cli.capture("ACI_URL", "container", "show", "--resource-group",
                                    group_of(ACI), "--name", ACI, "--query", "url",
                                    "--out", "tsv")  # fmt: skip
        if ip not in self.url:
            raise DemoError(f"the instance's URL {self.url} is not on its address {ip}")
        self.see_page(INITIAL_COLOR)

    def commit(self, color: str, gate: str | None, app_trigger: str | None) -> None:
        """Change the base's colour, and follow the runs the seed shows."""
        before = {
            r: self.watch.seen(r) for r in (REGISTRY_PUBLIC, REGISTRY_BASE_ARTIFACTS, REGISTRY)
        }
        committed = time.monotonic()
        set_background(self.git, self.repos["base-image-node"], color)
        self.base_color = color
        self.wait_run(REGISTRY_PUBLIC, Expected("node-public", "Commit", "Succeeded"),
                      before[REGISTRY_PUBLIC])  # fmt: skip
        if gate is not None:
            run = self.wait_run(REGISTRY_BASE_ARTIFACTS,
                                Expected("base-import-node", "Image Update", gate),
                                before[REGISTRY_BASE_ARTIFACTS])  # fmt: skip
            if gate == "Failed":
                self.show_gate_failure(str(run["runId"]))
            else:
                self.gate_runs.append((str(run["runId"]), color))
        if app_trigger is not None:
            self.wait_run(REGISTRY, Expected("hello-world", app_trigger, "Succeeded"),
                          before[REGISTRY])  # fmt: skip
            self.see_page(color)
            self.timings.figures.append(
                (f"commit {color} to the page showing it", f"{time.monotonic() - committed:.1f} s")
            )
        else:
            self.hold_still(REGISTRY, "hello-world", before[REGISTRY])
            self.see_page(self.colors[-1])

    def base_import_node(self) -> None:
        self.cli.run(
            "acr", "task", "create", "--name", "base-import-node", "-f", "acr-task.yaml",
            "-r", REGISTRY_BASE_ARTIFACTS, "--context", self.repos["import-baseimage-node"].context,
            "--set", f"REGISTRY_FROM_URL={self.login[REGISTRY_PUBLIC]}/",
            "--assign-identity", "-o", "table",
        )  # fmt: skip
        self.task_credential("base-import-node", REGISTRY_BASE_ARTIFACTS, REGISTRY_PUBLIC)
        self.allow_vault("base-import-node", REGISTRY_BASE_ARTIFACTS)
        run = self.run_task(REGISTRY_BASE_ARTIFACTS, "base-import-node")
        self.gate_runs.append((str(run["runId"]), self.base_color))
        self.cli.run("acr", "repository", "show-tags", "-n", REGISTRY_BASE_ARTIFACTS,
                     "--repository", "node", "-o", "table")  # fmt: skip

    def switch_hello_world(self) -> None:
        self.pull_token(REGISTRY_BASE_ARTIFACTS, "--repository", "node", "content/read")
        self.task_credential("hello-world", REGISTRY, REGISTRY_BASE_ARTIFACTS)
        self.cli.run(
            "acr", "task", "update", "-n", "hello-world", "-r", REGISTRY,
            "--set", f"KEYVAULT={AKV}",
            "--set", f"REGISTRY_FROM_URL={self.login[REGISTRY_BASE_ARTIFACTS]}/",
            "--set", f"ACI={ACI}", "--set", f"ACI_RG={group_of(ACI)}", "-o", "table",
        )  # fmt: skip
        self.run_task(REGISTRY, "hello-world")
        # The first validated image: what the rollback below must bring back, digest and all.
        self.first_validated = self.see_page(self.colors[-1]).base_digest

    def rollback(self) -> None:
        earlier, earlier_color = self.gate_runs[0]
        self.console.note(
            "Each validated import also pushed node:15-alpine-<run id>. Re-pointing the stable "
            f"tag at the first one (run {earlier}) rolls hello-world back: the tag's new digest "
            "triggers its rebuild and redeploy."
        )
        self.cli.run("acr", "repository", "show-tags", "-n", REGISTRY_BASE_ARTIFACTS,
                     "--repository", "node", "-o", "table")  # fmt: skip
        before = self.watch.seen(REGISTRY)
        self.cli.run(
            "acr", "import", "-n", REGISTRY_BASE_ARTIFACTS, "-r", REGISTRY_BASE_ARTIFACTS,
            "--source", f"node:15-alpine-{earlier}", "--image", "node:15-alpine", "--force",
            "-o", "table",
        )  # fmt: skip
        self.wait_run(REGISTRY, Expected("hello-world", "Image Update", "Succeeded"), before)
        back = self.see_page(earlier_color)
        if back.base_digest != self.first_validated:
            raise DemoError(
                f"after the rollback the app runs on the base image {back.base_digest}, not on "
                f"the first validated one, {self.first_validated}"
            )
        self.console.good("hello-world runs on the first validated base image again")

    def run_tables(self) -> None:
        expected = {
            REGISTRY_PUBLIC: [Expected("node-public", t, "Succeeded")
                              for t in ("Manual", "Commit", "Commit", "Commit")],
            REGISTRY_BASE_ARTIFACTS: [
                Expected("base-import-node", "Manual", "Succeeded"),
                Expected("base-import-node", "Image Update", "Succeeded"),
                Expected("base-import-node", "Image Update", "Failed"),
            ],
            REGISTRY: [Expected("hello-world", t, "Succeeded") for t in
                       ("Manual", "Image Update", "Manual", "Image Update", "Image Update")],
        }  # fmt: skip
        for registry, rows in expected.items():
            self.cli.run("acr", "task", "list-runs", "-r", registry, "-o", "table")
            self.watch.check_table(registry, rows)
        self.console.good("each registry's runs are the seed's sequence, and nothing else")
        self.console.good("the page went " + " -> ".join(self.colors))

    # --- the pieces -----------------------------------------------------------------------

    @contextlib.contextmanager
    def phase(self, title: str) -> Iterator[None]:
        number = len(self.timings.phases) + 1
        self.console.phase(f"{number}. {title}")
        started = time.monotonic()
        yield
        elapsed = time.monotonic() - started
        self.timings.phases.append((title, elapsed))
        self.console.progress(f"phase {number} took {elapsed:.1f} s")

    def set_secret(self, name: str, value: str | Hidden) -> None:
        self.cli.run("keyvault", "secret", "set", "--vault-name", AKV, "--name", name,
                     "--value", value, "--query", "{name: name, id: id}",
                     "-o", "table")  # fmt: skip

    def pull_token(self, registry: str, *scope: str) -> None:
        """The seed's pull token of ``registry``, its name and password kept in the vault."""
        user = f"registry-{registry}-user"
        self.set_secret(user, user)
        password = self.cli.capture(
            f"{_variable(registry)}_PASSWORD", "acr", "token", "create", "--name", user,
            "--registry", registry, *scope, "-o", "tsv",
            "--query", "credentials.passwords[0].value", secret=True,
        )  # fmt: skip
        self.set_secret(
            f"registry-{registry}-password", Hidden(password, f"${_variable(registry)}_PASSWORD")
        )

    def task_credential(self, task: str, registry: str, source: str) -> None:
        self.cli.run(
            "acr", "task", "credential", "add", "-n", task, "-r", registry,
            "--login-server", self.login[source],
            "-u", vault_secret(f"registry-{source}-user"),
            "-p", vault_secret(f"registry-{source}-password"),
            "--use-identity", "[system]",
        )  # fmt: skip

    def allow_vault(self, task: str, registry: str) -> str:
        principal = self.cli.capture(
            "PRINCIPAL_ID", "acr", "task", "show", "--name", task, "--registry", registry,
            "--query", "identity.principalId", "--output", "tsv",
        )  # fmt: skip
        self.cli.run("keyvault", "set-policy", "--name", AKV, "--resource-group", group_of(AKV),
                     "--object-id", principal, "--secret-permissions", "get",
                     "-o", "none")  # fmt: skip
        return principal

    def run_task(self, registry: str, task: str) -> dict[str, Any]:
        before = self.watch.seen(registry)
        self.cli.run("acr", "task", "run", "-r", registry, "-n", task, "-o", "table")
        # `task run` followed the run to its end: no watch to print, only the check.
        return self.wait_run(registry, Expected(task, "Manual", "Succeeded"), before, watch=False)

    def wait_run(
        self, registry: str, expected: Expected, before: set[str], watch: bool = True
    ) -> dict[str, Any]:
        label = f"{expected.task} ({expected.trigger})"
        if watch:
            self.console.command(f"watch -n1 airlock acr task list-runs -r {registry} -o table")
        run = self.watch.wait(registry, expected, before)
        self.console.good(f"{label}: {run['status']} (run {run['runId']})")
        return run

    def show_gate_failure(self, run_id: str) -> None:
        log = self.cli.run("acr", "task", "logs", "-r", REGISTRY_BASE_ARTIFACTS,
                           "--run-id", run_id)  # fmt: skip
        plain = strip_ansi(log)
        for line in ("ERROR: Invalid Color: Red",
                     "failed to run step ID: validate-base-image: exit status 1"):  # fmt: skip
            if line not in plain:
                raise DemoError(f"the gate's log (run {run_id}) does not say '{line}'")
        self.console.good("the gate stopped the Red base image at validate-base-image")

    def hold_still(self, registry: str, task: str, before: set[str], seconds: float = 5.0) -> None:
        """Nothing new runs for ``seconds``: the gate kept the change from the app."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = [r for r in self.watch.runs(registry)
                       if str(r["runId"]) not in before and r.get("task") == task]  # fmt: skip
            if started:
                raise DemoError(
                    f"{task} ran ({started[0].get('trigger')}) although the gate failed"
                )
            time.sleep(0.5)
        self.console.good(f"{task} did not run: it keeps the last validated base image")

    def see_page(self, color: str) -> page.Look:
        self.console.command(f"curl -s {self.url}")
        seen = page.wait_for_color(self.url, color)
        self.colors.append(seen.color)
        self.console.good(
            f"the page at {self.url} shows background: {seen.color} "
            f"(built on the base image {seen.base_digest})"
        )
        return seen


def _variable(registry: str) -> str:
    """The seed's shell variable for a registry (REGISTRY_PUBLIC, REGISTRY, ...)."""
    return {
        REGISTRY_PUBLIC: "REGISTRY_PUBLIC",
        REGISTRY_BASE_ARTIFACTS: "REGISTRY_BASE_ARTIFACTS",
        REGISTRY: "REGISTRY",
        REGISTRY_DOCKERHUB: "REGISTRY_DOCKERHUB",
    }[registry]
