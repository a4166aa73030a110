"""Bringing bytes into a run's folder safely: a copied local folder, a downloaded tarball.

The rules are the same for both: only files, folders and symbolic links that stay inside;
no absolute path, no ``..``, no device file or FIFO; a size and an entry count limit.
A tarball is checked whole before anything is extracted, and extracted with Python's
``data`` filter as a second guard.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from airlock.runner.errors import ContextRefusedError, ContextUnreachableError


@dataclass(frozen=True, slots=True)
class ContextLimits:
    """How much a context may hold: bytes downloaded, bytes unpacked or copied, entries."""

    max_download_bytes: int = 1024**3
    max_content_bytes: int = 4 * 1024**3
    max_entries: int = 200_000
    max_redirects: int = 5


DEFAULT_LIMITS = ContextLimits()
_CHUNK = 256 * 1024


# --- local folders -------------------------------------------------------------------------


def copy_folder(source: Path, dest: Path, limits: ContextLimits = DEFAULT_LIMITS) -> None:
    """Copy ``source`` into the new folder ``dest``; links are kept only if they stay inside.

    A link that points inside is recreated relative (an absolute one would point back at
    the user's files); one that points outside, a device file, FIFO or socket is refused.
    """
    root = os.path.realpath(source)
    if not os.path.isdir(root):
        raise ContextUnreachableError(
            f"the local context {source} is not a folder; give an existing folder"
        )
    counter = _Counter(limits, f"the local context {source}")
    os.mkdir(dest, 0o700)
    _copy_dir(root, root, str(dest), counter)


class _Counter:
    def __init__(self, limits: ContextLimits, label: str) -> None:
        self.limits = limits
        self.label = label
        self.entries = 0
        self.bytes = 0

    def add(self, size: int) -> None:
        self.entries += 1
        self.bytes += size
        if self.entries > self.limits.max_entries:
            raise ContextRefusedError(
                f"{self.label} holds more than {self.limits.max_entries} entries; "
                "make the context smaller (a subfolder, or fewer files)"
            )
        if self.bytes > self.limits.max_content_bytes:
            raise ContextRefusedError(
                f"{self.label} holds more than {self.limits.max_content_bytes} bytes; "
                "make the context smaller (a subfolder, or fewer files)"
            )


def _copy_dir(root: str, folder: str, dest: str, counter: _Counter) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise ContextRefusedError(
            f"{counter.label}: cannot read {folder} ({exc.strerror}); "
            "make it readable or leave it out of the context"
        ) from exc
    for entry in entries:
        target = os.path.join(dest, entry.name)
        shown = os.path.relpath(entry.path, root)
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            counter.add(0)
            os.symlink(_inside_link(root, entry.path, shown, counter.label), target)
        elif stat.S_ISDIR(mode):
            counter.add(0)
            os.mkdir(target, 0o700)
            _copy_dir(root, entry.path, target, counter)
            shutil.copymode(entry.path, target)
            os.chmod(target, os.stat(target).st_mode | stat.S_IRWXU)
        elif stat.S_ISREG(mode):
            counter.add(entry.stat(follow_symlinks=False).st_size)
            try:
                shutil.copyfile(entry.path, target, follow_symlinks=False)
            except OSError as exc:
                raise ContextRefusedError(
                    f"{counter.label}: cannot read {shown} ({exc.strerror}); "
                    "make it readable or leave it out of the context"
                ) from exc
            os.chmod(target, (stat.S_IMODE(mode) | stat.S_IRUSR | stat.S_IWUSR) & 0o777)
        else:
            raise ContextRefusedError(
                f"{counter.label}: {shown} is a {_kind(mode)}; a context holds only files, "
                "folders and links inside it, so remove it or pick another folder"
            )


def _inside_link(root: str, link: str, shown: str, label: str) -> str:
    """The relative text of a link that stays inside ``root``, or a refusal."""
    text = os.readlink(link)
    base = os.path.dirname(link)
    lexical = os.path.normpath(text if os.path.isabs(text) else os.path.join(base, text))
    real = os.path.realpath(link)
    for candidate in (lexical, real):
        if candidate != root and not candidate.startswith(root + os.sep):
            raise ContextRefusedError(
                f"{label}: the symbolic link {shown} points outside the context ({text}); "
                "a run sees only its context, so copy the file in or remove the link"
            )
    return os.path.relpath(lexical, base)


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


# --- tarballs ------------------------------------------------------------------------------


@contextmanager
def _tarball(url: str, timeout: float, limits: ContextLimits) -> Iterator[httpx.Response]:
    """A GET of the tarball that answered 200; every way it can fail is a ContextError that
    names the URL and what to check."""
    try:
        with (
            httpx.Client(
                follow_redirects=True,
                max_redirects=limits.max_redirects,
                timeout=httpx.Timeout(timeout),
                trust_env=False,
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise ContextUnreachableError(
                    f"the tarball context {url} answered HTTP {response.status_code}; "
                    "check the URL (it must be downloadable without signing in)"
                )
            yield response
    except httpx.TooManyRedirects as exc:
        raise ContextUnreachableError(
            f"the tarball context {url} redirects more than {limits.max_redirects} times; "
            "give the final URL"
        ) from exc
    except httpx.TimeoutException as exc:
        raise ContextUnreachableError(
            f"the tarball context {url} did not answer within {timeout:g} s; "
            "check the URL and that the server is up"
        ) from exc
    except httpx.HTTPError as exc:
        raise ContextUnreachableError(
            f"the tarball context {url} cannot be downloaded ({type(exc).__name__}: {exc}); "
            "check the URL and that the server is up"
        ) from exc


def download(url: str, dest: Path, timeout: float, limits: ContextLimits = DEFAULT_LIMITS) -> None:
    """Download ``url`` to ``dest``, at most ``max_download_bytes``, within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    with _tarball(url, timeout, limits) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limits.max_download_bytes:
            raise _too_big(url, limits)
        written = 0
        with open(dest, "xb") as out:
            for chunk in response.iter_bytes(_CHUNK):
                written += len(chunk)
                if written > limits.max_download_bytes:
                    raise _too_big(url, limits)
                if time.monotonic() > deadline:
                    raise ContextUnreachableError(
                        f"the tarball context {url} did not finish downloading within "
                        f"{timeout:g} s; check the server or give a smaller tarball"
                    )
                out.write(chunk)


def probe(url: str, timeout: float, limits: ContextLimits = DEFAULT_LIMITS) -> None:
    """Check that ``url`` answers 200 to a GET, reading no body."""
    with _tarball(url, timeout, limits):
        pass


def _too_big(url: str, limits: ContextLimits) -> ContextRefusedError:
    return ContextRefusedError(
        f"the tarball context {url} is larger than {limits.max_download_bytes} bytes; "
        "give a smaller tarball"
    )


def extract_tarball(
    archive: Path, dest: Path, label: str, limits: ContextLimits = DEFAULT_LIMITS
) -> None:
    """Check every entry of ``archive``, then extract it into the new folder ``dest``."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _checked_members(tar, label, limits)
            os.mkdir(dest, 0o700)
            tar.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as exc:
        raise ContextRefusedError(
            f"{label}: an entry would land outside the context or is not a plain file ({exc}); "
            "rebuild the tarball from the context folder alone"
        ) from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ContextRefusedError(
            f"{label} is not a readable tar archive ({exc}); give a .tar, .tar.gz or .tgz file"
        ) from exc


def _checked_members(
    tar: tarfile.TarFile, label: str, limits: ContextLimits
) -> list[tarfile.TarInfo]:
    counter = _Counter(limits, label)
    members: list[tarfile.TarInfo] = []
    for member in tar:
        name = member.name
        counter.add(member.size if member.isfile() else 0)
        if name.startswith("/") or _escapes(name):
            raise ContextRefusedError(
                f"{label}: the entry {name!r} is an absolute path or contains '..'; "
                "rebuild the tarball with paths relative to the context folder"
            )
        if member.issym():
            link = member.linkname
            base = posixpath.dirname(name)
            if link.startswith("/") or _normalises_out(posixpath.join(base, link)):
                raise ContextRefusedError(
                    f"{label}: the symbolic link {name!r} points outside the context "
                    f"({link}); a run sees only its context, so put the file in the tarball"
                )
        elif member.islnk():
            if member.linkname.startswith("/") or _escapes(member.linkname):
                raise ContextRefusedError(
                    f"{label}: the hard link {name!r} points outside the context "
                    f"({member.linkname}); put the file itself in the tarball"
                )
        elif not (member.isfile() or member.isdir()):
            kind = "device file" if (member.ischr() or member.isblk()) else "FIFO or special file"
            raise ContextRefusedError(
                f"{label}: the entry {name!r} is a {kind}; a context holds only files, folders "
                "and links inside it"
            )
        members.append(member)
    return members


def _normalises_out(path: str) -> bool:
    normal = posixpath.normpath(path)
    return normal == ".." or normal.startswith("../")


def _escapes(path: str) -> bool:
    """True when ``path`` has a ``..`` part (a stricter rule than 'normalises outside')."""
    return ".." in path.replace("\\", "/").split("/")
