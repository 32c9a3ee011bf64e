"""Moved to :mod:`musestudio.core.atomic` (core must not import io); this alias goes at 13:15 UTC today."""

from musestudio.core.atomic import atomic_path, write_bytes_atomic

__all__ = ["atomic_path", "write_bytes_atomic"]
