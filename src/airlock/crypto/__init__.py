"""Secrets at rest: the master key and authenticated encryption (AES-256-GCM) under it."""

from airlock.crypto.sealing import MasterKey, SealError, load_master_key

__all__ = ["MasterKey", "SealError", "load_master_key"]
