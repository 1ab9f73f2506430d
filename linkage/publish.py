"""Write a run folder whole or not at all, never through a link, never deleting another's files.

``OUT`` must always hold exactly one complete run. A run is therefore built in a
temporary folder beside ``OUT`` (same filesystem, so moves are renames), named
``.<OUT>.linkage-tmp-<host>-<pid>-<random>``; its manifest (``run.json``) is
written last, and only then does it take ``OUT``'s place:

1. ``OUT`` absent (or an empty folder): one ``rename(tmp, OUT)``.
2. ``OUT`` holds an earlier run: ``renameat2(tmp, OUT, RENAME_EXCHANGE)`` swaps the two
   folders in one step (Linux); where the filesystem cannot, ``OUT`` is renamed aside
   and ``tmp`` renamed in (a crash between the two leaves no ``OUT`` rather than a mix).
   The earlier run, now in the temporary name, is deleted file by file.

A run killed at any point leaves ``OUT`` as it was, plus a temporary folder that the
next run into the same ``OUT`` removes (when its process is gone). A write error
(disk full, read-only, no permission) removes the temporary folder, and any parent
folders the run had created, and becomes one :class:`OutputError` line.

Policies:

- **Links inside OUT are never followed.** Files are created only inside the fresh
  temporary folder, which nobody else can have planted links in; ``OUT`` itself is
  replaced by renames, which move a link, never its target. A link found in ``OUT`` is
  not linkage's, so it falls under the next rule.
- **Foreign files are refused, never deleted.** Linkage replaces ``OUT`` only when it
  holds nothing but linkage's own names (``manifest.is_own``) and a linkage manifest
  (``run.json``) says it is an earlier run; otherwise the run stops before it starts,
  naming what is there. Deleting is always by those names, so a file
  that appears in the meantime stays (and its folder is left with a warning).
- **OUT given as a symbolic link** to a folder: the run goes to that folder (resolved
  once, at the start); the link keeps pointing at it. A link to nothing, or to a file,
  is refused. A mount point is refused too: nothing can be renamed over it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import manifest
from .errors import InputError, OutputError

log = logging.getLogger(__name__)

#: Which machine a temporary name belongs to: a leftover is only cleaned by its own host.
HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def temp_prefix(name: str, kind: str = "tmp") -> str:
    """Prefix of a temporary file or folder beside ``name``; ``manifest.TEMP`` matches what it becomes."""
    return f".{name}.linkage-{kind}-{HOST}-{os.getpid()}-"


class RunWriter:
    """One run folder ``OUT``, checked when created (before a long run starts) and written by :meth:`write`."""

    def __init__(self, out: str | Path):
        self.given = Path(out)
        self.out = _resolve(self.given)
        _check_replaceable(self.out)
        clean_leftovers(self.out)

    def write(self, fill: Callable[[Path], None], *, command: str, batch_id: str | None,
              input: dict[str, Any], params: dict[str, Any]) -> Path:
        """Call ``fill(folder)`` on a fresh temporary folder, add the manifest, and move it into ``OUT``."""
        created = _make_parents(self.out.parent, self.given)
        tmp: Path | None = None
        try:
            tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(self.out.name), dir=self.out.parent))
            fill(tmp)
            manifest.write(tmp, manifest.build(tmp, command=command, batch_id=batch_id, input=input, params=params))
            _sync_dir(tmp / manifest.EVIDENCE)
            _sync_dir(tmp)
            old = self._swap(tmp)  # on failure, tmp still holds the new run and OUT the earlier one
        except BaseException as exc:
            if tmp is not None:  # our own fresh folder: everything in it is ours
                shutil.rmtree(tmp, ignore_errors=True)
            _remove_parents(created)
            if isinstance(exc, (OSError, OutputError)):
                raise OutputError(self._failure(exc, tmp)) from None
            raise
        if old is not None:  # the earlier run: deleted by linkage's own names only
            remove_run(old)
        return self.out

    def _swap(self, tmp: Path) -> Path | None:
        """Put ``tmp`` at ``OUT``; return where the earlier run went (None when there was none)."""
        os.chmod(tmp, _mode_of(self.out))
        try:
            os.rename(tmp, self.out)  # OUT absent or an empty folder
            _sync_dir(self.out.parent)
            return None
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        _check_replaceable(self.out)  # again: time has passed since the run started
        if _exchange(tmp, self.out):
            old = tmp
        else:
            old = Path(tempfile.mkdtemp(prefix=temp_prefix(self.out.name, "old"), dir=self.out.parent))
            os.rename(self.out, old)  # over the empty placeholder
            try:
                os.rename(tmp, self.out)
            except OSError:
                os.rename(old, self.out)  # put the earlier run back
                raise
        _sync_dir(self.out.parent)
        return old

    def _failure(self, exc: BaseException, tmp: Path | None) -> str:
        """One line: what failed, in OUT's terms (never the temporary name), and that OUT is as it was."""
        if isinstance(exc, OSError):
            what = exc.strerror or str(exc)
            name = _inside(exc.filename, tmp) if exc.filename else None
            if name and manifest.TEMP.fullmatch(Path(name).name):
                name = None  # the temporary folder itself: the run as a whole could not be written
            detail = f"cannot write {name} ({what})" if name else f"cannot write the run ({what})"
        else:
            detail = str(exc).replace(f"{tmp}{os.sep}", "").replace(str(tmp), str(self.given))
        kept = "the earlier run in it is unchanged" if self.out.is_dir() else "nothing was written"
        return f"{self.given}: {detail}; {kept}"


def _inside(filename: str | bytes, tmp: Path | None) -> str:
    text = os.fsdecode(filename)
    if tmp is not None and text.startswith(f"{tmp}{os.sep}"):
        return text[len(str(tmp)) + 1:]
    return text


def _resolve(out: Path) -> Path:
    """The real folder the run goes to: a link given as OUT is followed once, here, and only to a folder."""
    if out.is_symlink():
        target = out.resolve()
        if not target.is_dir():
            raise OutputError(f"{out}: a symbolic link to {target}, which is not a folder")
        return target
    return out.resolve()


def _check_replaceable(out: Path) -> None:
    """Refuse an OUT that is not a folder, is a mount point, or holds anything linkage did not write."""
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{out}: exists and is not a folder")
    if os.path.ismount(out):
        raise OutputError(f"{out}: is a mount point, which a run cannot be moved onto; "
                          f"use a folder inside it, e.g. {out / 'run'}")
    own, foreign = manifest.listing(out)
    if foreign:
        shown = ", ".join(repr(f) + (" (a symbolic link)" if os.path.islink(out / f) else "") for f in foreign[:5])
        shown += f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise OutputError(f"{out}: holds files linkage did not write ({shown}); linkage replaces its output "
                          "folder whole and deletes nothing of anyone else's: give a new or empty folder, or "
                          "move them away")
    if own:  # only a folder its manifest shows to be a linkage run is replaced
        try:
            manifest.read(out)
        except InputError as exc:
            reason = "no run.json" if not (out / manifest.MANIFEST).exists() else f"run.json is not one ({exc})"
            raise OutputError(f"{out}: not recognisably the folder of an earlier linkage run ({reason}), so "
                              "linkage will not replace it: give a new or empty folder, or delete this one "
                              "yourself") from None


def clean_leftovers(out: Path) -> None:
    """Remove temporary folders beside ``OUT`` that an earlier run on this host left when it was killed."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.linkage-(?:tmp|old)-{HOST}-(\d+)-[A-Za-z0-9_]+")
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_dir(follow_symlinks=False) and not _alive(int(match.group(1))):
            log.info("outputs: removing %s, left by a run that was stopped", entry.path)
            remove_run(Path(entry.path))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, someone else's
    return True


def remove_run(folder: Path) -> None:
    """Delete linkage's own files in ``folder``, then the folder; anything else stays, with a warning."""
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return
        own, foreign = manifest.listing(folder)
    except OSError:
        return
    for rel in sorted(own, key=lambda r: -r.count("/")):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / rel)
    for sub in (folder / manifest.EVIDENCE, folder):
        try:
            os.rmdir(sub)
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("outputs: left %s in place: it holds files linkage did not write (%s)",
                        sub, ", ".join(foreign[:5]))
            return


def replace_file(path: Path, data: str | bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, renamed over it (a link there is replaced, never followed)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _make_parents(parent: Path, given: Path) -> list[Path]:
    """Create OUT's missing parent folders; return them, deepest last, so a failed run can remove them."""
    missing = []
    p = parent
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    created = []
    try:
        for p in reversed(missing):
            p.mkdir()
            created.append(p)
    except OSError as exc:
        _remove_parents(created)
        raise OutputError(f"{given}: cannot create the output folder ({exc.strerror})") from None
    return created


def _remove_parents(created: list[Path]) -> None:
    for p in reversed(created):
        with contextlib.suppress(OSError):
            p.rmdir()


def _mode_of(out: Path) -> int:
    """OUT's permissions for the new run folder: the earlier folder's, else what the umask gives a new one."""
    try:
        return stat.S_IMODE(os.stat(out).st_mode)
    except FileNotFoundError:
        return 0o777 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (threads may be creating files)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status") as fh:
            return int(next(line for line in fh if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_dir(folder: Path) -> None:
    """Flush a folder's entries (new names, renames) to disk; a missing folder or a filesystem that cannot is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["RunWriter", "replace_file", "remove_run", "clean_leftovers", "temp_prefix"]
