"""Keep the CNNs' large buffers in the heap between passes (glibc's malloc, on Linux).

By default glibc serves a request above its mmap threshold (at most 32 MB) with a fresh mapping and hands
the memory back to the kernel when it is freed, and trims the heap's top as soon as it is free. A CNN
forward and backward pass on the CPU allocates and frees the same large activation buffers again and
again, so each pass pays for tens of thousands of page faults that zero-fill memory it had a moment ago.
Raising both thresholds keeps that memory in the process instead: on this 2-core machine a training step
of 32 face crops goes from about 2.5 to 1.2-1.6 s (`benchmarks/train_step.py`), a 308-step training run
from 413 to 336 s with identical losses, and `avdetect score` from 2.12 to 1.99 s a clip at a lower peak
(`benchmarks/throughput.py`). PyTorch's CPU tuning guide makes the same point
by swapping the allocator (jemalloc, tcmalloc); this needs no other library.

`avdetect`'s command line calls `keep_large_buffers` at start and in every worker process; a program
that uses the Python API can call it once itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
THRESHOLD = 1 << 30  # 1 GiB: no tensor of ours is that large; memory freed below it stays in the heap


@functools.cache
def keep_large_buffers() -> bool:
    """Raises glibc malloc's mmap and trim thresholds in this process to `THRESHOLD`.

    Returns:
        True when both took effect; False where the C library is not glibc (macOS, musl), which then
        keeps its own policy. Calling it again does nothing.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) & bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD))
