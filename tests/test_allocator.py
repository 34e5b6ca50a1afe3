"""avdetect.allocator: glibc's malloc thresholds raised once per process, a no-op elsewhere."""

from __future__ import annotations

import ctypes
import platform

import pytest

from avdetect import allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_thresholds():
    assert allocator.keep_large_buffers() is True
    assert allocator.keep_large_buffers() is True  # cached: once per process


def test_without_glibc_nothing_happens(monkeypatch):
    def no_libc(*args, **kwargs):
        raise OSError("no such library")

    allocator.keep_large_buffers.cache_clear()
    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    try:
        assert allocator.keep_large_buffers() is False
    finally:
        allocator.keep_large_buffers.cache_clear()
