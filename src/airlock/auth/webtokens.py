"""The JWTs the token endpoint issues and the registry checks.

Signed with ES256 by a key pair kept in ``<home>/keys/token-signing.pem`` (mode 0600, made
on first start). Verification accepts ES256 only, so ``alg: none`` and HS256-with-the-public-
key tricks fail, and allows ``LEEWAY`` seconds of clock skew on ``exp``/``nbf``/``iat``.

Claims: ``iss`` "airlock", ``sub`` (the identity, e.g. ``token:ci-pull``), ``aud`` (the
registry's login server), ``registry`` (its name), ``rid`` (the registry's uid, unique
forever, so that a registry re-created under the same name and port never honours its
predecessor's tokens), ``stamp`` (the identity's credential stamp when the token was issued:
renewing a password or regenerating a token's credentials changes it, and the registry then
refuses every token carrying the old one), ``iat``/``nbf``/``exp``, ``jti``, and either
``access`` (a list of ``{type, name, actions}``) or ``refresh: true`` for the long-lived
tokens that ``acr login --expose-token`` prints.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from airlock.auth.scopes import AccessEntry

ALGORITHM = "ES256"
ISSUER = "airlock"
ACCESS_LIFETIME = 300
REFRESH_LIFETIME = 3 * 3600
LEEWAY = 30
_REQUIRED = ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "rid", "stamp"]


class TokenInvalidError(Exception):
    """A JWT that is not one of ours, or no longer valid; the message says which check failed."""


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    audience: str
    registry: str
    expires: float
    access: tuple[AccessEntry, ...]
    refresh: bool
    rid: str
    stamp: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    issued_at: float
    expires_in: int


class TokenSigner:
    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self._public = key.public_key()
        der = self._public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = base64.b32encode(hashlib.sha256(der).digest()[:15]).decode()

    @classmethod
    def load(cls, home: Path) -> TokenSigner:
        return cls(_load_or_create_key(home / "keys" / "token-signing.pem"))

    def issue(
        self,
        *,
        subject: str,
        audience: str,
        registry: str,
        rid: str,
        stamp: str,
        access: list[AccessEntry] | None = None,
        lifetime: int = ACCESS_LIFETIME,
        expires: int | None = None,
        now: float | None = None,
    ) -> IssuedToken:
        """An access token (``access`` given) or a refresh token (``access`` None).

        ``expires`` (a Unix time) caps the token's life: a refresh token handed out in
        exchange for another one keeps the first one's expiry, so that using a refresh token
        never extends it."""
        issued = time.time() if now is None else now
        exp = int(issued) + lifetime
        if expires is not None:
            exp = min(exp, int(expires))
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": subject,
            "aud": audience,
            "registry": registry,
            "rid": rid,
            "stamp": stamp,
            "iat": int(issued),
            "nbf": int(issued),
            "exp": exp,
            "jti": uuid.uuid4().hex,
        }
        if access is None:
            claims["refresh"] = True
        else:
            claims["access"] = [entry.to_claim() for entry in access]
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})
        return IssuedToken(token, issued, max(0, exp - int(issued)))

    def verify(self, token: str, audience: str, *, refresh: bool = False) -> Claims:
        """The claims of a valid token for ``audience``; raises TokenInvalidError."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid:
                raise TokenInvalidError("token was not signed by this server's key")
            claims = jwt.decode(
                token,
                self._public,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=ISSUER,
                leeway=LEEWAY,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise TokenInvalidError("token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenInvalidError(f"token is not for {audience}") from None
        except jwt.PyJWTError as exc:
            raise TokenInvalidError(f"token is invalid: {exc}") from None
        return _claims(claims, refresh)


def _claims(raw: dict[str, Any], refresh: bool) -> Claims:
    if bool(raw.get("refresh")) != refresh:
        kind = "a refresh token" if refresh else "an access token"
        raise TokenInvalidError(f"token is not {kind}")
    subject, registry = raw.get("sub"), raw.get("registry")
    rid, stamp = raw.get("rid"), raw.get("stamp")
    if not all(isinstance(v, str) for v in (subject, registry, rid, stamp)):
        raise TokenInvalidError("token is invalid: malformed 'sub', 'registry', 'rid' or 'stamp'")
    access = () if refresh else _access(raw.get("access"))
    return Claims(
        str(subject),
        str(raw["aud"]),
        str(registry),
        float(raw["exp"]),
        access,
        refresh,
        str(rid),
        str(stamp),
    )


def _access(value: Any) -> tuple[AccessEntry, ...]:
    if not isinstance(value, list):
        raise TokenInvalidError("token is invalid: 'access' claim is not a list")
    entries = []
    for item in value:
        if not isinstance(item, dict):
            raise TokenInvalidError("token is invalid: malformed 'access' entry")
        kind, name, actions = item.get("type"), item.get("name"), item.get("actions")
        if (
            not isinstance(kind, str)
            or not isinstance(name, str)
            or not isinstance(actions, list)
            or not all(isinstance(a, str) for a in actions)
        ):
            raise TokenInvalidError("token is invalid: malformed 'access' entry")
        entries.append(AccessEntry(kind, name, frozenset(actions)))
    return tuple(entries)


def _load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; read theirs
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
                out.flush()
                os.fsync(out.fileno())
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(
            f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return key
