"""One entry point for every trajectory format: detection from the path, dispatch to the format's reader, and
the check of the source's own time stamps against a time step.

Formats (``fmt``, :data:`FORMATS`): ``extxyz`` (:mod:`~aiida_qdots.readers.extxyz`), ``poscar-folder`` and
``xdatcar`` (:mod:`~aiida_qdots.readers.vasp`), ``cp2k`` (:mod:`~aiida_qdots.readers.cp2k`). Every reader
returns a :class:`~aiida_qdots.readers.frames.ParsedTrajectory`, checked by the rules of
:mod:`aiida_qdots.common.validation`; any file may be gzip-compressed (detected
from its first bytes). Errors are :class:`~aiida_qdots.common.errors.TrajectoryFormatError` naming the file,
the frame (0-based) and, where it applies, the line (1-based).
"""

from __future__ import annotations

import pathlib
import re

import numpy as np

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.validation import RuleViolation, check_trajectory_arrays
from aiida_qdots.readers.cp2k import cp2k_velocity_path, read_cp2k
from aiida_qdots.readers.extxyz import read_extxyz
from aiida_qdots.readers.frames import ParsedTrajectory
from aiida_qdots.readers.vasp import read_poscar_folder, read_xdatcar

FORMATS = ('extxyz', 'poscar-folder', 'xdatcar', 'cp2k')
FORMAT_ALIASES = {'xyz': 'extxyz', 'poscar': 'poscar-folder', 'vasp': 'poscar-folder', 'cp2k-xyz': 'cp2k'}
TIME_TOLERANCE_FS = 2e-3
"""CP2K prints times with three decimals: frame intervals are compared to the time step within this (fs)."""


def detect_format(path: str | pathlib.Path) -> str:
    """Trajectory format from the path: a folder is ``poscar-folder``; ``*XDATCAR*`` is ``xdatcar``;
    ``*-pos-<n>.xyz`` is ``cp2k``; ``*.xyz``/``*.extxyz`` is ``extxyz`` (each optionally ``.gz``).
    """
    path = pathlib.Path(path)
    if path.is_dir():
        return 'poscar-folder'
    name = path.name.lower().removesuffix('.gz')
    if 'xdatcar' in name:
        return 'xdatcar'
    if re.search(r'-pos-\d+\.xyz$', name):
        return 'cp2k'
    if re.search(r'-vel-\d+\.xyz$', name):
        raise QdotsInputError(f'{path.name} is a CP2K velocity file; import the -pos- file beside it')
    if name.endswith(('.xyz', '.extxyz')):
        return 'extxyz'
    raise QdotsInputError(f'cannot tell the trajectory format of {path.name}; give one of: {", ".join(FORMATS)}')


def read_trajectory(
    path: str | pathlib.Path, fmt: str | None = None, velocity_path: str | pathlib.Path | None = None
) -> ParsedTrajectory:
    """Read a trajectory in format ``fmt`` (one of :data:`FORMATS`; detected from the name when None).

    For ``cp2k``, ``velocity_path`` defaults to the ``-vel-`` file beside the ``-pos-`` file when it exists;
    other formats take no velocity file.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise QdotsInputError(f'{path}: no such file or folder')
    fmt = detect_format(path) if fmt is None else FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
    if fmt not in FORMATS:
        raise QdotsInputError(f'unknown trajectory format {fmt!r}; known: {", ".join(FORMATS)}')
    if velocity_path is not None and fmt != 'cp2k':
        raise QdotsInputError(f'a separate velocity file is only read with the cp2k format, not {fmt}')
    if fmt == 'poscar-folder':
        parsed = read_poscar_folder(path)
    elif path.is_dir():
        raise QdotsInputError(f'{path} is a folder; the {fmt} format reads a file')
    elif fmt == 'xdatcar':
        parsed = read_xdatcar(path)
    elif fmt == 'cp2k':
        parsed = read_cp2k(path, velocity_path if velocity_path is not None else cp2k_velocity_path(path))
    else:
        parsed = read_extxyz(path)
    check_parsed(parsed)
    return parsed


def check_parsed(parsed: ParsedTrajectory) -> None:
    """The rules of :mod:`aiida_qdots.common.validation` on a parsed trajectory (elements, finite and bounded
    values, interatomic distances, increasing frame labels, steps and times)."""
    check_trajectory_arrays(
        parsed.source.name,
        parsed.symbols,
        parsed.positions,
        velocities=parsed.velocities,
        cells=parsed.cells,
        labels=parsed.frame_labels,
        steps=parsed.steps,
        times_fs=parsed.times_fs,
    )


def check_frame_times(parsed: ParsedTrajectory, timestep_fs: float, tolerance_fs: float = TIME_TOLERANCE_FS) -> None:
    """Raise :class:`QdotsInputError` if the source's own time stamps (fs) are not ``timestep_fs`` apart."""
    if parsed.times_fs is None or parsed.n_frames < 2:
        return
    intervals = np.diff(parsed.times_fs)
    bad = np.flatnonzero(np.abs(intervals - timestep_fs) > tolerance_fs)
    if bad.size:
        k = int(bad[0]) + 1
        raise RuleViolation(
            f'{parsed.source.name}: frame {k} is at {parsed.times_fs[k]:g} fs and frame {k - 1} at '
            f'{parsed.times_fs[k - 1]:g} fs ({intervals[k - 1]:g} fs apart), but the time step is {timestep_fs:g} fs',
            'units',
        )
