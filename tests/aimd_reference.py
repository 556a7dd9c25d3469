"""The shared Cd28Se17Cl22 AIMD trajectory for the analysis tests, parsed once per test session."""

from __future__ import annotations

import functools
import pathlib

EXTXYZ = 'cl_aimd_frames_1-15000.extxyz.gz'
LAST_FRAMES = 10_000
"""The window of the analysis tests: the last 10 000 frames (10 ps at 1 fs), as the paper's last 10 ps."""


@functools.lru_cache(maxsize=1)
def parsed_trajectory(data_dir: pathlib.Path):
    """:class:`~aiida_qdots.readers.frames.ParsedTrajectory` of the 15 000 frames (parsed once)."""
    from aiida_qdots.readers.extxyz import read_extxyz

    return read_extxyz(pathlib.Path(data_dir) / EXTXYZ)
