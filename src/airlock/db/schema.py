"""Tables of the metadata database.

Blobs and manifests are content-addressed and shared by every registry of the server; a
repository sees only what is linked to it (``repo_blobs``, ``repo_manifests``), which is what
lets a copy between repositories or registries of one server move no bytes.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

registries = Table(
    "registries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("name_key", String(50), nullable=False, unique=True),
    Column("port", Integer, nullable=False, unique=True),
    Column("resource_group", String(90), nullable=False),
    Column("location", String(64), nullable=False),
    Column("sku", String(16), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("anonymous_pull_enabled", Boolean, nullable=False, server_default="0"),
    Column("admin_user_enabled", Boolean, nullable=False, server_default="1"),
    # Unique forever (a registry re-created under the same name gets a new one): tokens are
    # bound to it, not to the name. ``admin_stamp`` changes when an admin password is renewed,
    # which revokes refresh tokens issued under the old one.
    Column("uid", String(36), nullable=False, unique=True),
    Column("admin_stamp", String(36), nullable=False),
)

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("registry_id", Integer, ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("registry_id", "name"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", String(40), nullable=False),
)

repo_blobs = Table(
    "repo_blobs",
    metadata,
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("digest", String(140), ForeignKey("blobs.digest"), primary_key=True),
    Column("created_at", String(40), nullable=False),
)

manifests = Table(
    "manifests",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("media_type", String(255), nullable=False),
    Column("artifact_type", String(255)),
    Column("subject", String(140)),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", String(40), nullable=False),
)

repo_manifests = Table(
    "repo_manifests",
    metadata,
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("digest", String(140), ForeignKey("manifests.digest"), primary_key=True),
    Column("subject", String(140)),
    Column("created_at", String(40), nullable=False),
    Index("ix_repo_manifests_subject", "repository_id", "subject"),
)

tags = Table(
    "tags",
    metadata,
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(128), primary_key=True),
    Column("digest", String(140), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Index("ix_tags_digest", "repository_id", "digest"),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("started_at", String(40), nullable=False),
    # The grant subject that opened it through /v2/ (``admin``, ``token:<name>``, ...), for
    # the per-identity cap on open uploads; NULL for the server's own (imports).
    Column("owner", String(255), nullable=True),
    Index("ix_uploads_repository_owner", "repository_id", "owner"),
    Index("ix_uploads_owner", "owner"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("registry", String(50), nullable=False),
    Column("repository", String(255), nullable=False),
    Column("action", String(16), nullable=False),
    Column("digest", String(140)),
    Column("tag", String(128)),
    Column("media_type", String(255)),
    Column("created_at", String(40), nullable=False),
    Column("detail", Text),
)


# --- access control (revision 0002) ------------------------------------------------------

# The admin user's two passwords, sealed with the master key: `acr credential show` must be
# able to print them again, so they cannot be one-way hashes.
registry_admin_passwords = Table(
    "registry_admin_passwords",
    metadata,
    Column(
        "registry_id", Integer, ForeignKey("registries.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("name", String(16), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
    Column("created_at", String(40), nullable=False),
)

scope_maps = Table(
    "scope_maps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("registry_id", Integer, ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(50), nullable=False),
    Column("description", String(256), nullable=False, server_default=""),
    Column("actions", Text, nullable=False),  # JSON list of "repositories/<repo>/<action>"
    Column("system", Boolean, nullable=False, server_default="0"),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("registry_id", "name"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("registry_id", Integer, ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(50), nullable=False),
    Column("scope_map_id", Integer, ForeignKey("scope_maps.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", String(40), nullable=False),
    # As for registries: ``uid`` binds issued JWTs to this token, not its name; ``stamp``
    # changes when its passwords are regenerated.
    Column("uid", String(36), nullable=False, unique=True),
    Column("stamp", String(36), nullable=False),
    UniqueConstraint("registry_id", "name"),
)

# Token passwords are shown once and kept only as salted hashes.
token_passwords = Table(
    "token_passwords",
    metadata,
    Column("token_id", Integer, ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(16), primary_key=True),
    Column("hash", String(255), nullable=False),
    Column("expiry", String(40)),
    Column("created_at", String(40), nullable=False),
)

# Identities that policies and role assignments name: user-assigned identities
# (`identity create`) and the system-assigned identities of tasks.
principals = Table(
    "principals",
    metadata,
    Column("principal_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("resource_group", String(90), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("created_at", String(40), nullable=False),
    # Changes when the principal's credentials are reset: registry refresh tokens issued
    # under the old ones stop working.
    Column("stamp", String(36), nullable=False, server_default=""),
    Column("display_name", String(128), nullable=False, server_default=""),
)

# Locks: changeable attributes of a repository (reference ""), a tag or a manifest digest.
# Keyed by names rather than row ids so that a lock outlives a repository delete.
repository_attributes = Table(
    "repository_attributes",
    metadata,
    Column(
        "registry_id", Integer, ForeignKey("registries.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("repository", String(255), primary_key=True),
    Column("reference", String(140), primary_key=True),
    Column("write_enabled", Boolean, nullable=False, server_default="1"),
    Column("delete_enabled", Boolean, nullable=False, server_default="1"),
    Column("read_enabled", Boolean, nullable=False, server_default="1"),
    Column("list_enabled", Boolean, nullable=False, server_default="1"),
    Column("updated_at", String(40), nullable=False),
)

# --- key vault, groups and role assignments (revision 0002) ----------------------------

vaults = Table(
    "vaults",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(24), nullable=False),
    Column("name_key", String(24), nullable=False, unique=True),
    Column("resource_group", String(90), nullable=False),
    Column("location", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
)

vault_secrets = Table(
    "vault_secrets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("vault_id", Integer, ForeignKey("vaults.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(127), nullable=False),
    Column("version", String(32), nullable=False),
    Column("sealed", LargeBinary, nullable=False),  # nonce + AES-GCM ciphertext and tag
    Column("content_type", String(255)),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    UniqueConstraint("vault_id", "name", "version"),
)

vault_policies = Table(
    "vault_policies",
    metadata,
    Column("vault_id", Integer, ForeignKey("vaults.id", ondelete="CASCADE"), primary_key=True),
    Column("object_id", String(36), primary_key=True),
    Column("secret_permissions", Text, nullable=False),  # JSON list
    Column("updated_at", String(40), nullable=False),
)

resource_groups = Table(
    "resource_groups",
    metadata,
    Column("name", String(90), primary_key=True),
    Column("name_key", String(90), nullable=False, unique=True),
    Column("location", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
)

role_assignments = Table(
    "role_assignments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("assignee", String(36), nullable=False),
    Column("role", String(128), nullable=False),
    Column("scope", String(512), nullable=False),
    Column("created_at", String(40), nullable=False),
)


# --- management plane: principals' credentials, sessions, audit, binding (revision 0003) ---

# Sign-in secrets of users (one password) and service principals (client secrets), kept as
# argon2id hashes only; ``key_id`` is what `ad sp credential reset` names.
principal_credentials = Table(
    "principal_credentials",
    metadata,
    Column("key_id", String(36), primary_key=True),
    Column(
        "principal_id",
        String(36),
        ForeignKey("principals.principal_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("hash", String(255), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40)),
    Index("ix_principal_credentials_principal", "principal_id"),
)

# Management-plane sessions. A session token is 32 random bytes shown once; only its SHA-256
# is kept (it is not a password a person chose, so a fast hash cannot be brute-forced).
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "principal_id",
        String(36),
        ForeignKey("principals.principal_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # "owner" (the local file) or "login"
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40)),  # NULL: until revoked (the owner's local session)
    Column("revoked_at", String(40)),
    Column("source", String(64), nullable=False, server_default=""),
    Index("ix_sessions_principal", "principal_id"),
)

# Who did what: every state change and every read of a secret value, with its result.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("principal_id", String(36)),
    Column("principal_name", String(128), nullable=False),
    Column("action", String(160), nullable=False),
    Column("target", String(512), nullable=False),
    Column("source", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("result", String(16), nullable=False),  # Succeeded | Failed | Denied
    Column("detail", String(512)),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_principal", "principal_id"),
)

# One row per counter; every change to who may do what bumps "identities" in the same
# transaction, so each server process sharing the database drops its cached grants.
auth_epochs = Table(
    "auth_epochs",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


# --- task runs (revision 0005) ------------------------------------------------------------

# A run of a task (or a quick run: ``acr run`` / ``acr build``, with no task). ``run_id`` is
# what people see (``ca1``, ``ca2``, ... per registry, as ACR); ``seq`` orders the queue.
runs = Table(
    "runs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("registry_id", Integer, ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("task", String(50)),  # NULL for quick runs
    Column("status", String(16), nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("platform", String(64), nullable=False),
    Column("definition", Text, nullable=False),  # what to run, as the runner reads it
    Column("created_at", String(40), nullable=False),
    Column("started_at", String(40)),
    Column("finished_at", String(40)),
    Column("worker", String(128)),  # who claimed it
    Column("heartbeat_at", String(40)),
    Column("error", Text),
    UniqueConstraint("registry_id", "run_id"),
    Index("ix_runs_status_seq", "status", "seq"),
    Index("ix_runs_registry_task", "registry_id", "task"),
)

run_steps = Table(
    "run_steps",
    metadata,
    Column("run", String(36), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("step_id", String(128), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("exit_code", Integer),
    Column("started_at", String(40)),
    Column("finished_at", String(40)),
    Column("digests", Text),  # JSON: image references and the digests they resolved to
    Column("error", Text),
)

# The next run number of each registry: one upsert allocates it, whatever the number of
# server processes.
run_counters = Table(
    "run_counters",
    metadata,
    Column(
        "registry_id", Integer, ForeignKey("registries.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("next", Integer, nullable=False),
)


# --- tasks (revision 0006) -----------------------------------------------------------------

# A task: what to run (a task file, an inline command or a Dockerfile), where from (the
# context), with which values. Secret values (--set-secret, --secret-arg) and a git access
# token are sealed with the master key, as vault secrets are.
tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("registry_id", Integer, ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(50), nullable=False),
    Column("name_key", String(50), nullable=False),
    Column("kind", String(16), nullable=False),  # file | cmd | dockerfile
    Column("file_name", String(255)),
    Column("definition", Text, nullable=False),
    Column("context", Text, nullable=False),
    Column("values_json", Text, nullable=False),
    Column("sealed_secrets", LargeBinary),  # JSON object of secret values, sealed
    Column("sealed_git_token", LargeBinary),
    Column("platform", String(64), nullable=False),
    Column("timeout", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("identity", String(36)),  # the system-assigned identity's principal id
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    UniqueConstraint("registry_id", "name_key"),
)


# --- run logs and task credentials (revision 0007) -----------------------------------------

# The lines a run printed, in the order they were written: ``seq`` is global, so a reader
# asks for "what came after the last line I saw" with one index range.
run_logs = Table(
    "run_logs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("run", String(36), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("at", String(40), nullable=False),
    Column("line", Text, nullable=False),
    Index("ix_run_logs_run_seq", "run", "seq"),
)

# ``az acr task credential``: how a task's runs log in to a registry. The user name and a
# password given as a vault secret URI are kept as given (they are not secret); a password
# given in clear is sealed with the master key, bound to the task and the login server.
task_credentials = Table(
    "task_credentials",
    metadata,
    Column("task", String(36), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("login_server", String(255), primary_key=True),
    Column("username", Text),  # a user name or a vault secret URI; NULL with an identity only
    Column("password_ref", Text),  # a vault secret URI
    Column("sealed_password", LargeBinary),
    Column("use_identity", String(64)),  # "[system]"
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)


# --- triggers (revision 0008) --------------------------------------------------------------

# A task's trigger settings (``--base-image-trigger-*``, ``--commit-trigger-enabled``); the
# commit webhook's secret is sealed with the master key, bound to the task.
task_triggers = Table(
    "task_triggers",
    metadata,
    Column("task", String(36), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("base_image_enabled", Boolean, nullable=False),
    Column("base_image_type", String(16), nullable=False),  # Runtime | All
    Column("base_image_name", String(64), nullable=False),
    Column("commit_enabled", Boolean, nullable=False),
    Column("sealed_webhook_secret", LargeBinary),
    Column("last_commit", String(64)),  # the head last seen (webhook or polling)
    Column("updated_at", String(40), nullable=False),
)

# The base images a task's last successful run built on: for each image it produced, the
# base of every stage, resolved to registry/repository:tag and the digest used.
task_base_images = Table(
    "task_base_images",
    metadata,
    Column("task", String(36), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("image", String(512), primary_key=True),  # what the build produced
    Column("registry", String(255), primary_key=True),
    Column("repository", String(255), primary_key=True),
    Column("tag", String(128), primary_key=True),
    Column("digest", String(140)),
    Column("kind", String(16), nullable=False),  # runtime | buildtime
    Column("updated_at", String(40), nullable=False),
    Index("ix_task_base_images_ref", "registry", "repository", "tag"),
)

# ``acr task timer``: cron schedules (UTC); ``next_at`` is when the timer fires next.
task_timers = Table(
    "task_timers",
    metadata,
    Column("task", String(36), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("schedule", String(128), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("next_at", String(40)),
    Column("created_at", String(40), nullable=False),
)

# What made a task run, once: (task, kind, key) with key a base reference and its new digest,
# a commit, or a timer tick. The insert that claims the key is the exactly-once guard.
trigger_firings = Table(
    "trigger_firings",
    metadata,
    Column("task", String(36), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # image | commit | timer
    Column("key", String(512), primary_key=True),
    Column("run", String(36)),
    Column("fired_at", String(40), nullable=False),
)

# How far each trigger service has read a log (the registry events), so a change committed
# while the server was down is still seen after a restart.
trigger_cursors = Table(
    "trigger_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)

# Base images in registries outside this server, polled: the last digest seen and when to ask
# again (backoff on errors, Retry-After honoured).
external_images = Table(
    "external_images",
    metadata,
    Column("registry", String(255), primary_key=True),
    Column("repository", String(255), primary_key=True),
    Column("tag", String(128), primary_key=True),
    Column("digest", String(140)),
    Column("checked_at", String(40)),
    Column("next_check_at", String(40), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("last_error", Text),
)

# Container instances (``airlock container``): one long-running container each, on a loopback
# address of its own (the unique ip_address is what makes two allocations never share one).
# The registry password and the secure environment variables are sealed under the master key.
container_instances = Table(
    "container_instances",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("resource_group", String(90), nullable=False),
    Column("name_key", String(63), nullable=False),
    Column("name", String(63), nullable=False),
    Column("image", String(512), nullable=False),
    Column("digest", String(140)),
    Column("login_server", String(255)),
    Column("username", String(255)),
    Column("sealed_password", LargeBinary),
    Column("ports", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("sealed_secure_environment", LargeBinary),
    Column("restart_policy", String(16), nullable=False),
    Column("ip_address", String(45), nullable=False, unique=True),
    Column("state", String(32), nullable=False),
    Column("provisioning_state", String(32), nullable=False),
    Column("container", String(128)),
    Column("message", Text),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    # The base image its image was built on (the manifest's org.opencontainers.image.base.*
    # annotations; none for an image built FROM scratch). Added by migration 0010.
    Column("base_image", String(512)),
    Column("base_digest", String(140)),
    UniqueConstraint("resource_group", "name_key"),
)
