"""Starting the service's processes (workers, compilers) from inside a Streamlit server."""
from __future__ import annotations

import contextlib
import sys
import types


@contextlib.contextmanager
def plain_main():
    """Start worker processes as from a plain interpreter. A spawned child re-runs the parent's ``__main__``
    module, and under Streamlit that is the page script (which would start a service of its own)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main
