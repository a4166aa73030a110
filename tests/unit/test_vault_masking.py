"""The secret masker and its logging filter."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from airlock.vault.masking import MaskingFilter, SecretMasker, install


@pytest.fixture
def masker() -> SecretMasker:
    return SecretMasker()


@pytest.fixture
def logger(masker: SecretMasker) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    parent = logging.getLogger("test-masking")
    parent.addHandler(handler)
    parent.setLevel(logging.INFO)
    parent.propagate = False
    install(parent, masker)
    try:
        yield parent, stream
    finally:
        parent.removeHandler(handler)


def test_mask_replaces_every_occurrence(masker: SecretMasker) -> None:
    masker.add("hunter22")
    assert masker.mask("pw=hunter22, again hunter22.") == "pw=***, again ***."


def test_short_values_are_left_alone(masker: SecretMasker) -> None:
    masker.add("abc")
    masker.add("")
    assert len(masker) == 0
    assert masker.mask("abc def") == "abc def"


def test_overlapping_values_are_masked_whole(masker: SecretMasker) -> None:
    # Were the shorter one replaced first, "token-" and "-extra" would leak around it.
    masker.add("token")
    masker.add("token-extra")
    masker.add("xtra-tok")
    assert masker.mask("a token-extra b token c") == "a *** b *** c"
    assert "tok" not in masker.mask("token-extra-token")


def test_regex_characters_are_literal(masker: SecretMasker) -> None:
    masker.add("a.b*c(d)")
    assert masker.mask("aXbbc(d) a.b*c(d)") == "aXbbc(d) ***"


def test_filter_masks_message_and_args(
    masker: SecretMasker, logger: tuple[logging.Logger, io.StringIO]
) -> None:
    log, stream = logger
    masker.add("s3cr3t-value")
    log.info("login with %s as %r", "s3cr3t-value", "user")
    log.getChild("child").warning("direct s3cr3t-value in the message")
    text = stream.getvalue()
    assert "s3cr3t-value" not in text
    assert "INFO login with *** as 'user'" in text
    assert "WARNING direct *** in the message" in text


def test_filter_masks_a_value_split_over_args(
    masker: SecretMasker, logger: tuple[logging.Logger, io.StringIO]
) -> None:
    log, stream = logger
    masker.add("joinedsecret")
    log.info("%s%s", "joined", "secret")
    assert "joinedsecret" not in stream.getvalue()


def test_filter_masks_tracebacks(
    masker: SecretMasker, logger: tuple[logging.Logger, io.StringIO]
) -> None:
    log, stream = logger
    masker.add("in-the-exception")
    try:
        raise ValueError("failed on in-the-exception")
    except ValueError:
        log.exception("boom")
    assert "in-the-exception" not in stream.getvalue()
    assert "ValueError: failed on ***" in stream.getvalue()


def test_values_added_after_install_are_masked(
    masker: SecretMasker, logger: tuple[logging.Logger, io.StringIO]
) -> None:
    log, stream = logger
    log.info("before: later-secret")
    masker.add("later-secret")
    log.info("after: later-secret")
    assert stream.getvalue().splitlines() == ["INFO before: later-secret", "INFO after: ***"]


def test_install_is_idempotent(masker: SecretMasker) -> None:
    handler = logging.NullHandler()
    target = logging.getLogger("test-masking-idempotent")
    target.addHandler(handler)
    try:
        install(target, masker)
        install(target, masker)
        assert sum(isinstance(f, MaskingFilter) for f in handler.filters) == 1
    finally:
        target.removeHandler(handler)
