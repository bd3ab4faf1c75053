"""Keep freed memory for the next training step instead of handing it back to the kernel.

A training step allocates and frees the same few megabytes of activations every time. glibc's
malloc returns the free top of its heap to the kernel once it passes a threshold that it keeps
adjusting (``M_TRIM_THRESHOLD``), so the next step takes the same memory back page by page: on the
digits preset that was ~1,000 page faults, a fifth of the step. Fixing the two thresholds (which also
stops their adjustment) keeps that memory in the process for reuse, as torch's GPU caching allocator
does on the device. Process-wide; a no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
TRIM_BYTES = 256 * 2**20  # hand back free heap only past this much
MMAP_BYTES = 32 * 2**20  # allocations past this size still get their own mapping (glibc's maximum)


@functools.cache
def keep_freed_memory() -> bool:
    """Set the thresholds once per process; True when glibc took them."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_BYTES)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES))
