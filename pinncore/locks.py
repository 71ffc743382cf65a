"""One writer per run: the training lock of a run directory (``run_dir/.lock``), an exclusive ``fcntl.flock``
held for as long as the process trains the run. The kernel drops it when the process dies, so a lock left by a
SIGKILL is taken over atomically, with no PID guessing."""
from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

from .errors import ConfigError

_HELD: dict[str, int] = {}  # run directory (resolved) -> the open, flock-ed descriptor of its .lock
_HELD_LOCK = threading.Lock()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(lock: Path) -> str:
    try:
        pid = int(lock.read_text().strip() or 0)
    except (OSError, ValueError):
        pid = 0
    return f"process {pid}" if pid else "another process"


def acquire_lock(path: str | os.PathLike) -> None:
    """Claim a run directory for training, so that two processes, or two dashboard sessions of one process,
    never write the same run. The claim is an exclusive ``fcntl.flock`` on ``.lock`` held until
    ``release_lock`` (or until the process dies: the kernel drops it, so the lock a SIGKILL leaves behind is
    taken over atomically, with no PID guessing). The file holds our PID, for the message. Raises ConfigError
    naming the holder."""
    import fcntl

    path = Path(path)
    if not path.is_dir():
        raise ConfigError("run", f"'{path}' is not a directory")
    key, lock = str(path.resolve()), path / ".lock"
    with _HELD_LOCK:
        if key in _HELD:
            raise ConfigError("run", f"'{path}' is already open for training in this process")
        for _ in range(100):
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise ConfigError(str(lock), "is a symbolic link: refusing to lock through it") from None
                raise ConfigError(str(lock), f"cannot create the lock file ({exc.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise ConfigError("run", f"'{path}' is being trained by {_holder(lock)}") from None
                raise ConfigError(str(lock), f"cannot lock it ({exc.strerror})") from None
            try:  # the holder we waited on may have unlinked the file it held: ours must be the one at the path
                same = os.path.samestat(os.fstat(fd), os.stat(lock, follow_symlinks=False))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            _HELD[key] = fd
            return
        raise ConfigError("run", f"could not lock '{path}'")


def release_lock(path: str | os.PathLike) -> None:
    """Give up a lock this process holds: the file is removed while still locked, then the lock dropped."""
    path = Path(path)
    with _HELD_LOCK:
        fd = _HELD.pop(str(path.resolve()), None)
        if fd is not None:
            try:
                (path / ".lock").unlink(missing_ok=True)
            finally:
                os.close(fd)


def holds_lock(path: str | os.PathLike) -> bool:
    """Whether this process holds the training lock of the run at ``path``."""
    with _HELD_LOCK:
        return str(Path(path).resolve()) in _HELD
