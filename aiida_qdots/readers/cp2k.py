"""CP2K's XYZ trajectories: ``<project>-pos-1.xyz`` (angstrom) with the optional ``<project>-vel-1.xyz`` beside
it (bohr/au_time, converted to angstrom/fs); the step and time of each frame come from CP2K's comment line
``i = <step>, time = <fs>, E = <hartree>``.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable

import numpy as np

from aiida_qdots.common.files import file_sha256
from aiida_qdots.common.units import CP2K_VELOCITY_ANGSTROM_FS
from aiida_qdots.readers.extxyz import XyzFrame, scan_xyz
from aiida_qdots.readers.frames import ParsedTrajectory
from aiida_qdots.readers.textfile import check_species, excerpt, format_error

_CP2K_COMMENT = re.compile(rb'\bi\s*=\s*(-?\d+)\s*,\s*time\s*=\s*([-+0-9.eE]+)')


def _cp2k_describe(path: pathlib.Path) -> Callable[[bytes, int, int], XyzFrame]:
    def describe(comment: bytes, frame: int, lineno: int) -> XyzFrame:
        match = _CP2K_COMMENT.search(comment)
        try:
            step, time = int(match.group(1)), float(match.group(2))
        except (AttributeError, ValueError):
            raise format_error(
                path, f'comment {excerpt(comment)!r} is not CP2K\'s "i = <step>, time = <fs>, E = <Eh>"', frame, lineno
            ) from None
        return XyzFrame(4, 0, slice(1, 4), {'step': step, 'time': time})

    return describe


def cp2k_velocity_path(position_path: str | pathlib.Path) -> pathlib.Path | None:
    """The CP2K velocity file beside ``<project>-pos-<n>.xyz`` (``<project>-vel-<n>.xyz``), if it exists."""
    path = pathlib.Path(position_path)
    head, sep, tail = path.name.rpartition('-pos-')
    if not sep:
        return None
    candidate = path.with_name(f'{head}-vel-{tail}')
    return candidate if candidate.is_file() else None


def read_cp2k(position_path: str | pathlib.Path, velocity_path: str | pathlib.Path | None = None) -> ParsedTrajectory:
    """Read CP2K's XYZ trajectory ``<project>-pos-1.xyz`` (angstrom) and optionally ``<project>-vel-1.xyz``.

    CP2K writes velocities in bohr/au_time; they are converted to angstrom/fs. The velocity file must hold
    the same frames (same steps, same atoms) as the position file. Steps and times (fs) come from each frame's
    comment line ``i = <step>, time = <fs>, E = <Eh>``.
    """
    path = pathlib.Path(position_path)
    symbols, positions, metas = scan_xyz(path, _cp2k_describe(path))
    steps = np.array([meta['step'] for meta in metas], dtype=int)
    times = np.array([meta['time'] for meta in metas], dtype=float)
    velocities = vpath = vsha = None
    if velocity_path is not None:
        vpath = pathlib.Path(velocity_path)
        vsymbols, raw, vmetas = scan_xyz(vpath, _cp2k_describe(vpath))
        if raw.shape[1] != positions.shape[1]:
            raise format_error(
                vpath,
                f'velocity frames have {raw.shape[1]} atoms, position frames ({path.name}) have {positions.shape[1]}',
            )
        check_species(vpath, 0, 3, vsymbols, symbols, what=path.name)
        for frame, (pmeta, vmeta) in enumerate(zip(metas, vmetas, strict=False)):
            if pmeta['step'] != vmeta['step']:
                raise format_error(
                    vpath,
                    f'velocity step {vmeta["step"]} does not match step {pmeta["step"]} of '
                    f'{path.name} at the same frame',
                    frame,
                )
        if raw.shape[0] != positions.shape[0]:
            raise format_error(vpath, f'velocity file has {raw.shape[0]} frames, {path.name} has {positions.shape[0]}')
        velocities = raw * CP2K_VELOCITY_ANGSTROM_FS
        vsha = file_sha256(vpath)
    return ParsedTrajectory(
        symbols=[s.decode('utf-8', errors='replace') for s in symbols],
        positions=positions,
        source=path,
        sha256=file_sha256(path),
        fmt='cp2k',
        velocities=velocities,
        steps=steps,
        times_fs=times,
        velocity_source=vpath,
        velocity_sha256=vsha,
    )
