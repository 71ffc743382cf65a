"""``remember``: ``functools.lru_cache`` that remembers refusals too.

A spec arrives again and again: each reload of a page with a ``?spec=`` link, each viewer of the link, each
rerun of the dashboard's script reads it anew. ``lru_cache`` keeps only results, so a refused spec would be
checked again every time; here a ``ConfigError`` (a ``SpecError``) is kept like a result and raised again, and
callers asking for the same arguments at the same moment wait for the one that is already computing instead of
doing the same work twice. Anything else raised (MemoryError, an interrupt) is not remembered.
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict

from ...errors import ConfigError


def remember(maxsize: int):
    """Decorator: the last ``maxsize`` outcomes (value or ConfigError) by positional arguments (hashable)."""
    def wrap(fn):
        outcomes: OrderedDict = OrderedDict()
        guard = threading.Lock()
        computing: dict = {}  # arguments -> the lock held while they are computed

        def known(args):
            with guard:
                if args in outcomes:
                    outcomes.move_to_end(args)
                    return outcomes[args]
            return None

        @functools.wraps(fn)
        def call(*args):
            outcome = known(args)
            if outcome is None:
                with guard:
                    lock = computing.setdefault(args, threading.Lock())
                with lock:
                    outcome = known(args)  # computed by another caller while this one waited
                    if outcome is None:
                        try:
                            outcome = _outcome(fn, args)
                        finally:
                            with guard:
                                computing.pop(args, None)
                        with guard:
                            outcomes[args] = outcome
                            while len(outcomes) > maxsize:
                                outcomes.popitem(last=False)
            ok, value = outcome
            if ok:
                return value
            raise value.with_traceback(None)

        def cache_clear() -> None:
            with guard:
                outcomes.clear()

        call.cache_clear = cache_clear
        call.cache_len = lambda: len(outcomes)
        return call
    return wrap


def _outcome(fn, args) -> tuple[bool, object]:
    try:
        return True, fn(*args)
    except ConfigError as exc:
        return False, exc
