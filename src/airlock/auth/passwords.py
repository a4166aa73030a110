"""Generated passwords and their salted argon2id hashes.

Passwords are random (about 250 bits), so the hash does not have to slow down guessing of
weak passwords; the parameters are OWASP's minimum for argon2id (19 MiB, 2 passes), about
20 ms per check, and the checks run off the event loop.
"""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PASSWORD_LENGTH = 42
# Letters and digits only: the value is pasted into shells and auth files unquoted.
_ALPHABET = string.ascii_letters + string.digits
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def generate_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(PASSWORD_LENGTH))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
