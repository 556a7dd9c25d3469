"""LAMMPS output files as plain Python data: screen/log text, ``dump custom`` files, Hessian dumps.

Pure functions on strings (no AiiDA): :func:`parse_lammps_log` reads thermo tables, minimisation statistics,
warnings and errors; :func:`parse_lammps_dump` reads ``dump custom`` frames; :func:`parse_hessian_dump` and
:func:`parse_dynamical_matrix` read the Hessian data of the ``qdots.lammps`` Hessian scripts. Values stay in the
LAMMPS units they were written in (``units metal``: eV, angstrom, ps, K, bar, eV/angstrom).
"""

from __future__ import annotations

import dataclasses
import io
import re

import numpy as np
import pandas as pd

from aiida_qdots.common.errors import QdotsInputError

MAX_MESSAGES = 50
"""At most this many distinct warnings are kept by :func:`parse_lammps_log`."""

THERMO_UNITS_METAL = {
    'Step': '',
    'Elapsed': '',
    'Time': 'ps',
    'Dt': 'ps',
    'CPU': 's',
    'Temp': 'K',
    'Press': 'bar',
    'PotEng': 'eV',
    'KinEng': 'eV',
    'TotEng': 'eV',
    'E_pair': 'eV',
    'E_vdwl': 'eV',
    'E_coul': 'eV',
    'E_mol': 'eV',
    'Enthalpy': 'eV',
    'Volume': 'angstrom^3',
    'Lx': 'angstrom',
    'Ly': 'angstrom',
    'Lz': 'angstrom',
    'Fmax': 'eV/angstrom',
    'Fnorm': 'eV/angstrom',
    'Density': 'g/cm^3',
}
"""Units of the thermo columns LAMMPS prints with ``units metal``."""


@dataclasses.dataclass
class ThermoBlock:
    """One thermo table: the output of a ``run`` or ``minimize`` command."""

    kind: str  # 'run' or 'minimize'
    columns: list[str]
    rows: list[list[float]] = dataclasses.field(default_factory=list)
    complete: bool = False  # a 'Loop time' line closed the table
    loop_time: float | None = None  # s
    num_procs: int | None = None
    num_steps: int | None = None
    num_atoms: int | None = None
    cpu_use_percent: float | None = None  # LAMMPS' 'x% CPU use': CPU time / (loop time x procs); low when starved
    minimization: dict = dataclasses.field(default_factory=dict)

    def as_array(self) -> np.ndarray:
        return np.array(self.rows, dtype=float).reshape(len(self.rows), len(self.columns))


@dataclasses.dataclass
class LammpsLog:
    """What :func:`parse_lammps_log` found in a LAMMPS screen/log text."""

    version: str | None = None
    blocks: list[ThermoBlock] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    num_atoms: int | None = None
    total_wall_time: str | None = None  # as printed, H:MM:SS

    @property
    def finished(self) -> bool:
        """LAMMPS reached the end of the script (it printed ``Total wall time``)."""
        return self.total_wall_time is not None

    @property
    def wall_time_seconds(self) -> float | None:
        if self.total_wall_time is None:
            return None
        seconds = 0.0
        for part in self.total_wall_time.split(':'):
            seconds = 60 * seconds + float(part)
        return seconds


_FLOAT = re.compile(r'^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(nan|inf)$', re.IGNORECASE)
_LOOP = re.compile(r'Loop time of\s+(\S+)\s+on\s+(\d+)\s+procs\s+for\s+(\d+)\s+steps\s+with\s+(\d+)\s+atoms')
_CPU_USE = re.compile(r'^([\d.]+)% CPU use with')
_ATOMS = re.compile(r'^\s*(\d+)\s+atoms\s*$|^Created\s+(\d+)\s+atoms')


def _numeric(tokens: list[str]) -> bool:
    return bool(tokens) and all(_FLOAT.match(t) for t in tokens)


def _add_warning(log: LammpsLog, line: str) -> None:
    if line not in log.warnings and len(log.warnings) < MAX_MESSAGES:
        log.warnings.append(line)


def _parse_minimization_stats(lines: list[str], start: int) -> tuple[dict, int]:
    """Read LAMMPS' 'Minimization stats:' section beginning after line ``start``."""
    stats: dict = {}
    i = start + 1
    while i < len(lines) and lines[i].strip():
        line = lines[i].strip()
        key, _, value = line.partition('=')
        key = key.strip()
        if key == 'Stopping criterion':
            stats['stopping_criterion'] = value.strip()
        elif key.startswith('Energy initial') and i + 1 < len(lines):
            numbers = lines[i + 1].split()
            if _numeric(numbers) and len(numbers) == 3:
                stats['energy_initial'], stats['energy_next_to_last'], stats['energy_final'] = map(float, numbers)
                i += 1
        elif key.startswith('Iterations'):
            iterations, evaluations = value.split()[:2]
            stats['iterations'], stats['force_evaluations'] = int(iterations), int(evaluations)
        elif key.startswith('Force two-norm'):
            stats['fnorm_initial'], stats['fnorm_final'] = map(float, value.split()[:2])
        elif key.startswith('Force max component'):
            stats['fmax_initial'], stats['fmax_final'] = map(float, value.split()[:2])
        i += 1
    return stats, i


def parse_lammps_log(text: str) -> LammpsLog:
    """Parse LAMMPS screen or log output: version, thermo tables of all ``run``/``minimize`` blocks
    (any ``thermo_style custom``/``one`` columns), minimisation statistics, atom count, warnings, errors
    and total wall time. Tables are recognised by the memory line LAMMPS prints before each header."""
    log = LammpsLog()
    lines = text.splitlines()
    kind = 'run'
    block: ThermoBlock | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if log.version is None and stripped.startswith('LAMMPS ('):
            log.version = stripped[len('LAMMPS (') :].rstrip(')')
        elif stripped.startswith('ERROR'):
            message = stripped
            if i + 1 < len(lines) and lines[i + 1].startswith('Last command:'):
                message += f' [{lines[i + 1].strip()}]'
            log.errors.append(message)
        elif stripped.startswith('WARNING'):
            _add_warning(log, stripped)
        elif stripped.startswith('Setting up') and 'minimization' in stripped:
            kind = 'minimize'
        elif stripped.startswith('Setting up') and 'run' in stripped:
            kind = 'run'
        elif stripped.startswith(('Per MPI rank memory', 'Memory usage per processor')):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            header = lines[j].split() if j < len(lines) else []
            if header and not _numeric(header) and not header[0].startswith('-'):
                block = ThermoBlock(kind=kind, columns=header)
                log.blocks.append(block)
                i = j
            elif header:
                _add_warning(log, 'qdots parser: a thermo block not in one-line-per-step format was skipped')
        elif block is not None and not block.complete:
            tokens = stripped.split()
            if len(tokens) == len(block.columns) and _numeric(tokens):
                block.rows.append([float(t) for t in tokens])
            elif (match := _LOOP.search(stripped)) is not None:
                block.complete = True
                block.loop_time = float(match.group(1))
                block.num_procs, block.num_steps, block.num_atoms = (int(match.group(k)) for k in (2, 3, 4))
                log.num_atoms = block.num_atoms
        elif log.blocks and (match := _CPU_USE.match(stripped)) is not None:
            log.blocks[-1].cpu_use_percent = float(match.group(1))
        elif stripped.startswith('Minimization stats:') and log.blocks:
            log.blocks[-1].kind = 'minimize'
            log.blocks[-1].minimization, i = _parse_minimization_stats(lines, i)
            continue
        elif stripped.startswith('Total wall time:'):
            log.total_wall_time = stripped.split(':', 1)[1].strip()
        elif log.num_atoms is None and (match := _ATOMS.match(stripped)) is not None:
            log.num_atoms = int(match.group(1) or match.group(2))
        i += 1
    return log


@dataclasses.dataclass
class DumpFrame:
    """One snapshot of a LAMMPS ``dump custom`` file, in LAMMPS' frame and units."""

    timestep: int
    time: float | None  # LAMMPS time units (ps for metal), when the dump has an ITEM: TIME
    box: np.ndarray  # lattice vectors as rows, LAMMPS frame
    origin: np.ndarray  # (xlo, ylo, zlo)
    boundary: list[str]
    columns: dict[str, np.ndarray]  # per-atom columns; 'element' as strings, others float


def _box_from_bounds(bounds: np.ndarray, triclinic: bool) -> tuple[np.ndarray, np.ndarray]:
    """LAMMPS box (rows a, b, c) and origin from the dump's BOX BOUNDS lines."""
    if not triclinic:
        lo, hi = bounds[:, 0], bounds[:, 1]
        return np.diag(hi - lo), lo
    (xlo_b, xhi_b, xy), (ylo_b, yhi_b, xz), (zlo, zhi, yz) = bounds
    xlo = xlo_b - min(0.0, xy, xz, xy + xz)
    xhi = xhi_b - max(0.0, xy, xz, xy + xz)
    ylo = ylo_b - min(0.0, yz)
    yhi = yhi_b - max(0.0, yz)
    box = np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi - zlo]])
    return box, np.array([xlo, ylo, zlo])


def parse_lammps_dump(text: str) -> tuple[list[DumpFrame], str | None]:
    """Parse a ``dump custom`` text into frames (atoms sorted by ``id`` if dumped) and its ``ITEM: UNITS`` style.

    A frame written twice for the same timestep (LAMMPS does this only in corner cases) is kept once. The headers
    are walked line by line; the atom lines of all frames with the same columns are converted in one call of
    pandas' C reader (a 3 000-frame dump of 352 atoms in ~1 s instead of ~6 s frame by frame).
    Raises :class:`QdotsInputError` naming the frame if the text is malformed.
    """
    headers: list[tuple[int, float | None, np.ndarray, np.ndarray, list[str], list[str], int, int]] = []
    units = None
    lines = text.splitlines()
    i = 0
    time = None
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        try:
            if line == 'ITEM: UNITS':
                units = lines[i + 1].strip()
                i += 2
            elif line == 'ITEM: TIME':
                time = float(lines[i + 1])
                i += 2
            elif line == 'ITEM: TIMESTEP':
                timestep = int(lines[i + 1])
                if not lines[i + 2].startswith('ITEM: NUMBER OF ATOMS'):
                    raise QdotsInputError('expected ITEM: NUMBER OF ATOMS')
                natoms = int(lines[i + 3])
                box_item = lines[i + 4].split()
                if box_item[:3] != ['ITEM:', 'BOX', 'BOUNDS']:
                    raise QdotsInputError('expected ITEM: BOX BOUNDS')
                bounds = np.array([lines[i + 5 + k].split() for k in range(3)], dtype=float)
                box, origin = _box_from_bounds(bounds, 'xy' in box_item)
                atoms_item = lines[i + 8].split()
                if atoms_item[:2] != ['ITEM:', 'ATOMS']:
                    raise QdotsInputError('expected ITEM: ATOMS')
                if i + 9 + natoms > len(lines):
                    raise QdotsInputError(f'expected {natoms} atom lines of {len(atoms_item) - 2} columns')
                if not headers or headers[-1][0] != timestep:
                    headers.append((timestep, time, box, origin, box_item[-3:], atoms_item[2:], i + 9, natoms))
                time = None
                i += 9 + natoms
            else:
                raise QdotsInputError(f'unexpected line {line[:60]!r}')
        except (IndexError, ValueError) as exc:
            raise QdotsInputError(f'malformed dump near line {i + 1} (frame {len(headers)}): {exc}') from exc
    frames = []
    for start in range(len(headers)):  # runs of frames with the same columns, converted together
        names = headers[start][5]
        if start and headers[start - 1][5] == names:
            continue
        stop = start
        while stop < len(headers) and headers[stop][5] == names:
            stop += 1
        frames += _atom_frames(lines, headers[start:stop], start)
    return frames, units


def _atom_frames(lines: list[str], headers: list, first: int) -> list[DumpFrame]:
    """DumpFrames of consecutive frames with the same columns; ``first`` is the index of the first (messages)."""
    names = headers[0][5]
    block = '\n'.join(line for h in headers for line in lines[h[6] : h[6] + h[7]])
    try:
        table = pd.read_csv(
            io.StringIO(block), sep=r'\s+', header=None, names=names, dtype={'element': str}, index_col=False
        )
    except (ValueError, pd.errors.ParserError):
        table = None
    counts = np.cumsum([0] + [h[7] for h in headers])
    bad = table is None or len(table) != counts[-1] or table.isna().to_numpy().any()
    if not bad:
        numeric = [n for n in names if n != 'element']
        bad = any(table[n].dtype.kind not in 'fiu' for n in numeric)
    if bad:  # name the first frame whose atom lines do not hold natoms x columns numbers
        for k, h in enumerate(headers):
            rows = [line.split() for line in lines[h[6] : h[6] + h[7]]]
            if any(len(row) != len(names) for row in rows):
                raise QdotsInputError(
                    f'malformed dump (frame {first + k}): expected {h[7]} atom lines of {len(names)} columns'
                )
        raise QdotsInputError(f'malformed dump (frames {first}-{first + len(headers) - 1}): non-numeric atom data')
    columns = {n: table[n].to_numpy(dtype=str if n == 'element' else float) for n in names}
    frames = []
    for k, (timestep, time, box, origin, boundary, _, _, _) in enumerate(headers):
        part = {n: values[counts[k] : counts[k + 1]] for n, values in columns.items()}
        if 'id' in part:
            order = np.argsort(part['id'].astype(np.int64), kind='stable')
            part = {n: values[order] for n, values in part.items()}
        frames.append(DumpFrame(timestep, time, box, origin, boundary, part))
    return frames


def sanitize_column(name: str) -> str:
    """Column name usable as an ArrayData array name and a Dict key (letters, digits, underscores)."""
    clean = re.sub(r'[^0-9A-Za-z_]', '_', name)
    return clean if clean and clean != 'block' else f'col_{clean}'


def thermo_arrays(blocks: list[ThermoBlock]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Concatenate thermo blocks: one array per column (NaN where a block lacks it) plus ``block``,
    the 0-based block index of each row. Returns the arrays and the sanitised -> LAMMPS name map."""
    names: dict[str, str] = {}
    for block in blocks:
        for column in block.columns:
            names.setdefault(sanitize_column(column), column)
    total = sum(len(b.rows) for b in blocks)
    arrays = {key: np.full(total, np.nan) for key in names}
    index = np.zeros(total, dtype=np.int32)
    start = 0
    for k, block in enumerate(blocks):
        data = block.as_array()
        stop = start + len(data)
        index[start:stop] = k
        for j, column in enumerate(block.columns):
            arrays[sanitize_column(column)][start:stop] = data[:, j]
        start = stop
    if 'Step' in arrays and not np.isnan(arrays['Step']).any():
        arrays['Step'] = arrays['Step'].astype(np.int64)
    arrays['block'] = index
    return arrays, names


def parse_hessian_dump(text: str, displacement: float) -> np.ndarray:
    """Hessian (3N, 3N; eV/angstrom^2, LAMMPS frame) from the forces dumped by the finite-difference script.

    The dump holds 6N frames in the order atom i, direction a, sign (+h, -h), each with the N atoms sorted by id;
    H[3i+a, :] = -(F(+h) - F(-h)) / (2h), not symmetrised (its asymmetry measures the numerical error).
    """
    lines = text.splitlines()
    if len(lines) < 9 or lines[0] != 'ITEM: TIMESTEP':
        raise QdotsInputError('not a LAMMPS dump')
    n_atoms = int(lines[3])
    block = 9 + n_atoms
    if len(lines) % block:
        raise QdotsInputError(f'{len(lines)} lines are not whole frames of {n_atoms} atoms')
    n_frames = len(lines) // block
    if n_frames != 6 * n_atoms:
        raise QdotsInputError(f'{n_frames} force frames for {n_atoms} atoms; expected 6 N = {6 * n_atoms}')
    rows = '\n'.join(line for k in range(n_frames) for line in lines[k * block + 9 : (k + 1) * block])
    try:  # pandas' C reader: 0.24 s of CPU for the 352-atom dump where numpy's string conversion took 0.77 s
        table = pd.read_csv(io.StringIO(rows), sep=r'\s+', header=None, dtype=float, engine='c').to_numpy()
    except (ValueError, pd.errors.ParserError) as exc:
        raise QdotsInputError(f'malformed Hessian dump: {exc}') from exc
    if table.shape != (n_frames * n_atoms, 4) or np.isnan(table).any():
        raise QdotsInputError(f'expected {n_frames * n_atoms} atom lines of 4 columns (id fx fy fz)')
    data = table.reshape(n_frames, n_atoms, 4)
    if np.any(data[:, :, 0] != np.arange(1, n_atoms + 1)):
        raise QdotsInputError('atoms are not sorted by id in every frame')
    forces = data[:, :, 1:].reshape(3 * n_atoms, 2, 3 * n_atoms)
    return -(forces[:, 0] - forces[:, 1]) / (2.0 * displacement)


def parse_dynamical_matrix(text: str, masses: np.ndarray) -> np.ndarray:
    """Hessian (3N, 3N; eV/angstrom^2, LAMMPS frame) from ``dynamical_matrix ... binary no`` output, which holds
    H[3i+a, 3j+b] / sqrt(m_i m_j) (eV/angstrom^2/amu in metal units) row by row, three numbers per line;
    ``masses`` (amu) per atom in id order."""
    values = np.array(text.split(), dtype=float)
    n_dof = 3 * len(masses)
    if values.size != n_dof * n_dof:
        raise QdotsInputError(f'{values.size} numbers in the dynamical matrix; expected (3 N)^2 = {n_dof * n_dof}')
    dof_masses = np.repeat(np.asarray(masses, dtype=float), 3)
    return values.reshape(n_dof, n_dof) * np.sqrt(np.outer(dof_masses, dof_masses))
