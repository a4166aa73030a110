"""Generated passwords and their salted hashes."""

from __future__ import annotations

from airlock.auth.passwords import (
    PASSWORD_LENGTH,
    generate_password,
    hash_password,
    verify_password,
)


def test_generated_passwords_are_long_random_and_alphanumeric() -> None:
    first, second = generate_password(), generate_password()
    assert len(first) == PASSWORD_LENGTH >= 32
    assert first.isalnum() and first != second


def test_hash_is_salted_argon2id_and_verifies() -> None:
    password = generate_password()
    one, two = hash_password(password), hash_password(password)
    assert one.startswith("$argon2id$") and one != two
    assert password not in one
    assert verify_password(one, password) and verify_password(two, password)


def test_wrong_password_and_broken_hash_do_not_verify() -> None:
    hashed = hash_password("right-password")
    assert not verify_password(hashed, "wrong-password")
    assert not verify_password("not-a-hash", "right-password")
