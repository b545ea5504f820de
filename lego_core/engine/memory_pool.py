"""Keep the memory a CPU training process frees, for its next step, instead of handing it back.

Each training step allocates and frees the same large temporaries (a CTR batch's ``(2048, F, E)``
field matrix and its gradients are megabytes each). glibc's malloc returns freed memory at the top
of its heap to the kernel once more than ``M_TRIM_THRESHOLD`` is free, and serves blocks above
``M_MMAP_THRESHOLD`` with fresh ``mmap`` calls, so the next step page-faults every one of those pages
in again (and the kernel zeroes them). PyTorch's CUDA caching allocator keeps freed blocks for
the same reason; on the CPU torch uses malloc, whose two thresholds ``mallopt`` can raise. That
is what this module does, process-wide, once (``train.keep_freed_memory``: off by default, on in
the lego-ctr presets; what it buys each preset is measured in docs/benchmarks.md, "What
`train.keep_freed_memory` buys"). The cost: the resident set stays near the process's peak
instead of shrinking between steps, as it does on a GPU. Anywhere but Linux with glibc it does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 1 << 30  # free memory above the heap top kept up to 1 GiB
MMAP_THRESHOLD = 32 << 20  # glibc's largest: blocks up to 32 MiB come from the heap (and are reused)

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds for this process; True when they were set (or already)."""
    global _applied
    if _applied is None:
        _applied = _set_thresholds()
    return _applied


def _set_thresholds() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; setting M_MMAP_THRESHOLD also stops glibc's own adjusting of both
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
