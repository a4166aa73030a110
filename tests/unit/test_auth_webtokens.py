"""JWT issue and verify: only our ES256 signature, unexpired, for this audience."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from airlock.auth.scopes import AccessEntry
from airlock.auth.webtokens import LEEWAY, TokenInvalidError, TokenSigner

AUD = "127.0.0.1:5001"
ACCESS = [AccessEntry("repository", "node", frozenset({"pull"}))]


@pytest.fixture
def signer(tmp_path: Path) -> TokenSigner:
    return TokenSigner.load(tmp_path)


def issue(signer: TokenSigner, **kwargs: object) -> str:
    args: dict[str, object] = {
        "subject": "admin",
        "audience": AUD,
        "registry": "reg01",
        "rid": "uid-1",
        "stamp": "stamp-1",
    }
    args.update(kwargs)
    return signer.issue(access=ACCESS, **args).token  # type: ignore[arg-type]


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def payload(token: str) -> dict[str, object]:
    part = token.split(".")[1]
    result: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


def test_round_trip(signer: TokenSigner) -> None:
    claims = signer.verify(issue(signer), AUD)
    assert (claims.subject, claims.registry, claims.access) == ("admin", "reg01", tuple(ACCESS))
    assert (claims.rid, claims.stamp) == ("uid-1", "stamp-1")


def test_expires_caps_the_lifetime(signer: TokenSigner) -> None:
    now = time.time()
    capped = signer.issue(
        subject="admin", audience=AUD, registry="reg01", rid="u", stamp="s",
        lifetime=3600, expires=int(now) + 100, now=now,
    )  # fmt: skip
    assert payload(capped.token)["exp"] == int(now) + 100 and capped.expires_in == 100
    # A later expiry never extends the lifetime.
    longer = signer.issue(
        subject="admin", audience=AUD, registry="reg01", rid="u", stamp="s",
        lifetime=60, expires=int(now) + 100, now=now,
    )  # fmt: skip
    assert payload(longer.token)["exp"] == int(now) + 60


def test_key_file_is_private_and_reused(tmp_path: Path) -> None:
    first = TokenSigner.load(tmp_path)
    assert (tmp_path / "keys" / "token-signing.pem").stat().st_mode & 0o777 == 0o600
    assert TokenSigner.load(tmp_path).verify(issue(first), AUD).subject == "admin"


def test_group_readable_key_file_is_refused(tmp_path: Path) -> None:
    TokenSigner.load(tmp_path)
    (tmp_path / "keys" / "token-signing.pem").chmod(0o640)
    with pytest.raises(PermissionError, match="chmod 600"):
        TokenSigner.load(tmp_path)


def test_signature_of_another_key_is_refused(signer: TokenSigner, tmp_path: Path) -> None:
    other = TokenSigner(ec.generate_private_key(ec.SECP256R1()))
    other.kid = signer.kid  # even claiming our key id
    with pytest.raises(TokenInvalidError, match="invalid"):
        signer.verify(issue(other), AUD)


def test_expired_token_is_refused_past_the_leeway(signer: TokenSigner) -> None:
    old = time.time() - 300 - LEEWAY - 5
    with pytest.raises(TokenInvalidError, match="expired"):
        signer.verify(issue(signer, now=old), AUD)


def test_token_just_inside_the_leeway_is_accepted(signer: TokenSigner) -> None:
    claims = signer.verify(issue(signer, now=time.time() - 300 - LEEWAY + 10), AUD)
    assert claims.audience == AUD
    assert claims.expires < time.time()


def test_wrong_audience_is_refused(signer: TokenSigner) -> None:
    with pytest.raises(TokenInvalidError, match="not for"):
        signer.verify(issue(signer, audience="127.0.0.1:5002"), AUD)


def test_alg_none_is_refused(signer: TokenSigner) -> None:
    claims = payload(issue(signer))
    forged = b64({"alg": "none", "typ": "JWT", "kid": signer.kid}) + "." + b64(claims) + "."
    with pytest.raises(TokenInvalidError):
        signer.verify(forged, AUD)


def test_hs256_with_the_public_key_as_secret_is_refused(signer: TokenSigner) -> None:
    public = signer._public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = payload(issue(signer))
    claims["access"] = [{"type": "repository", "name": "*", "actions": ["*"]}]
    header: dict[str, object] = {"alg": "HS256", "typ": "JWT", "kid": signer.kid}
    body = b64(header) + "." + b64(claims)
    import hashlib
    import hmac

    mac = hmac.new(public, body.encode(), hashlib.sha256).digest()
    forged = body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(TokenInvalidError):
        signer.verify(forged, AUD)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "e30.e30.", "x" * 5000])
def test_garbage_is_refused(signer: TokenSigner, garbage: str) -> None:
    with pytest.raises(TokenInvalidError):
        signer.verify(garbage, AUD)


@pytest.mark.parametrize("missing", ["exp", "sub", "aud", "jti", "iat", "rid", "stamp"])
def test_missing_claims_are_refused(signer: TokenSigner, missing: str) -> None:
    claims = payload(issue(signer))
    del claims[missing]
    token = jwt.encode(claims, signer._key, algorithm="ES256", headers={"kid": signer.kid})
    with pytest.raises(TokenInvalidError):
        signer.verify(token, AUD)


def test_malformed_access_claim_is_refused(signer: TokenSigner) -> None:
    claims = payload(issue(signer))
    claims["access"] = [{"type": "repository", "name": "node", "actions": "pull"}]
    token = jwt.encode(claims, signer._key, algorithm="ES256", headers={"kid": signer.kid})
    with pytest.raises(TokenInvalidError, match="access"):
        signer.verify(token, AUD)


def test_refresh_and_access_tokens_are_not_interchangeable(signer: TokenSigner) -> None:
    refresh = signer.issue(
        subject="admin", audience=AUD, registry="reg01", rid="u", stamp="s"
    ).token
    with pytest.raises(TokenInvalidError, match="not an access token"):
        signer.verify(refresh, AUD)
    with pytest.raises(TokenInvalidError, match="not a refresh token"):
        signer.verify(issue(signer), AUD, refresh=True)
    assert signer.verify(refresh, AUD, refresh=True).refresh
