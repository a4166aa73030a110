"""The secret masker and its logging filter."""

from __future__ import annotations

import io
import logging
import threading
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


# The automaton: overlaps, adjacency, long values, unicode, many values, threads.


def test_adjacent_occurrences_are_each_masked(masker: SecretMasker) -> None:
    masker.add("abcd")
    assert masker.mask("abcdabcd") == "******"
    assert masker.mask("abcdabcdabc") == "******abc"


def test_overlapping_occurrences_leave_no_character_of_either(masker: SecretMasker) -> None:
    masker.add("abcdef")
    masker.add("defghi")
    # The two overlap on "def": one mask covers both, so neither "ghi" nor "abc" leaks.
    assert masker.mask("[abcdefghi]") == "[***]"
    # A value overlapping itself.
    masker.add("aaaa")
    assert masker.mask("xaaaaaay") == "x***y"


def test_the_longest_value_wins_where_values_share_text(masker: SecretMasker) -> None:
    masker.add("pass")
    masker.add("password-1234")
    assert masker.mask("password-1234 pass password-12") == "*** *** ***word-12"


def test_contained_value_inside_a_long_value(masker: SecretMasker) -> None:
    long_value = "BEGIN-" + "0123456789abcdef" * 100 + "-END"
    masker.add(long_value)
    masker.add("89abcdef0123")  # also inside the long value
    assert masker.mask(f"key={long_value};") == "key=***;"
    assert masker.mask(long_value[:-1]) == long_value[:-1].replace("89abcdef0123", "***")


def test_long_values_sharing_start_and_end_are_told_apart(masker: SecretMasker) -> None:
    # As PEM keys: the same header and footer, different bodies.
    head, tail = "-----BEGIN KEY-----\n" + "A" * 60, "\n" + "Z" * 60 + "-----END KEY-----"
    one, two = head + "one" * 50 + tail, head + "two" * 50 + tail
    masker.add(one)
    masker.add(two)
    assert masker.mask(f"{two}|{one}|{head}") == f"***|***|{head}"
    assert masker.mask(head + "three" * 30 + tail) == head + "three" * 30 + tail


def test_unicode_values_and_texts(masker: SecretMasker) -> None:
    masker.add("pässwörd-€")
    masker.add("🔑🔑key🔑")
    text = "é pässwörd-€ 😀🔑🔑key🔑😀 pässwörd"
    assert masker.mask(text) == "é *** 😀***😀 pässwörd"


def test_duplicates_and_short_values_are_counted_once(masker: SecretMasker) -> None:
    masker.add_many(["same-value", "same-value", "abc", "other-value"])
    masker.add("same-value")
    assert len(masker) == 2
    assert masker.mask("same-value other-value abc") == "*** *** abc"


def test_many_long_values(masker: SecretMasker) -> None:
    values = [f"value-{i:04d}-" + chr(0x41 + i % 26) * (200 + i) for i in range(1000)]
    masker.add_many(values)
    assert len(masker) == 1000
    text = " | ".join(values[::97])
    assert masker.mask(text) == " | ".join("***" for _ in values[::97])
    assert masker.mask("value-0001-") == "value-0001-"


def test_values_added_one_by_one_are_masked_at_once(masker: SecretMasker) -> None:
    for i in range(200):
        value = f"one-by-one-{i}"
        masker.add(value)
        assert masker.mask(f"<{value}>") == "<***>"
    masker.clear()
    assert len(masker) == 0
    assert masker.mask("one-by-one-7") == "one-by-one-7"


def test_masking_while_other_threads_add(masker: SecretMasker) -> None:
    masker.add("always-there-0")
    errors: list[str] = []
    start = threading.Barrier(5)

    def adder(n: int) -> None:
        start.wait()
        for i in range(300):
            value = f"thread-{n}-value-{i}"
            masker.add(value)
            if masker.mask(value) != "***":
                errors.append(value)

    def reader() -> None:
        start.wait()
        for _ in range(2000):
            if masker.mask("a always-there-0 b") != "a *** b":
                errors.append("reader")

    threads = [threading.Thread(target=adder, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=reader))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(masker) == 1 + 4 * 300
