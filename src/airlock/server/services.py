"""The long-lived parts of one Airlock server, opened from its state folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from airlock.auth.service import AuthService
from airlock.crypto import MasterKey, load_master_key
from airlock.db.engine import open_database
from airlock.identity import Identities
from airlock.importer.service import ImportService
from airlock.instances.deployer import InstanceDeployer
from airlock.instances.store import InstanceStore
from airlock.registry.api import RegistryContext
from airlock.registry.blobstore import BlobStore
from airlock.registry.content import ContentStore
from airlock.registry.events import EventBus
from airlock.registry.registries import RegistryCatalog
from airlock.registry.repositories import RepositoryService
from airlock.registry.uploads import Uploads
from airlock.runner.service import RunService
from airlock.runs.baseimages import BaseImageStore
from airlock.runs.credentials import TaskCredentialStore
from airlock.runs.logs import LogStore
from airlock.runs.store import RunStore
from airlock.runs.tasks import TaskStore
from airlock.storage import FilesystemDriver
from airlock.triggers.firings import FiringStore
from airlock.triggers.settings import TriggerSettingsStore
from airlock.triggers.timers import TimerStore
from airlock.vault import KeyVault


@dataclass
class Services:
    home: Path
    engine: Engine
    master_key: MasterKey
    bus: EventBus
    registries: RegistryCatalog
    repositories: RepositoryService
    registry_context: RegistryContext
    vault: KeyVault
    identities: Identities
    auth: AuthService
    importer: ImportService
    tasks: TaskStore
    runs: RunStore
    logs: LogStore
    credentials: TaskCredentialStore
    runner: RunService
    trigger_settings: TriggerSettingsStore
    firings: FiringStore
    base_images: BaseImageStore
    timers: TimerStore
    instances: InstanceStore
    instance_deployer: InstanceDeployer

    @classmethod
    def open(cls, home: Path, storage_root: Path | None = None) -> Services:
        """Open (and migrate) the state under ``home``.

        Blobs live in ``home/storage`` unless ``storage_root`` (or $AIRLOCK_STORAGE_ROOT)
        puts them on another volume.
        """
        home.mkdir(parents=True, exist_ok=True)
        engine = open_database(home / "airlock.db")
        root = storage_root or Path(os.environ.get("AIRLOCK_STORAGE_ROOT") or home / "storage")
        driver = FilesystemDriver(root)
        bus = EventBus()
        content = ContentStore(engine, bus)
        blobs = BlobStore(driver)
        master_key = load_master_key(home)
        registries = RegistryCatalog(engine)
        uploads = Uploads(content, blobs)
        vault = KeyVault.open(engine, master_key)
        auth = AuthService.open(home, engine, master_key)
        # Before the server serves: every secret value and admin password is masked, those
        # set before a restart included, and every admin password made from now on.
        auth.admin.on_new_password(vault.masker.add)
        vault.masker.add_many(vault.secrets.all_values())
        vault.masker.add_many(auth.admin.all_passwords())
        tasks = TaskStore(engine, master_key)
        runs = RunStore(engine)
        logs = LogStore(engine)
        credentials = TaskCredentialStore(engine, master_key)
        identities = Identities.open(engine)
        base_images = BaseImageStore(engine)
        runner = RunService(
            runs=runs,
            logs=logs,
            tasks=tasks,
            credentials=credentials,
            registries=registries,
            vault=vault,
            auth=auth,
            master_key=master_key,
            sessions=identities.sessions,
            base_images=base_images,
        )
        instances = InstanceStore(engine, master_key)
        return cls(
            home=home,
            engine=engine,
            master_key=master_key,
            bus=bus,
            registries=registries,
            repositories=RepositoryService(content),
            registry_context=RegistryContext(content, uploads, blobs),
            vault=vault,
            identities=identities,
            auth=auth,
            importer=ImportService(registries, content, uploads),
            tasks=tasks,
            runs=runs,
            logs=logs,
            credentials=credentials,
            runner=runner,
            trigger_settings=TriggerSettingsStore(engine, master_key),
            firings=FiringStore(engine),
            base_images=base_images,
            timers=TimerStore(engine),
            instances=instances,
            instance_deployer=InstanceDeployer(home, instances),
        )

    def close(self) -> None:
        self.engine.dispose()
