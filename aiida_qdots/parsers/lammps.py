"""``qdots.lammps`` parser: LAMMPS screen output and dump files -> AiiDA nodes.

The text parsing is done by pure functions (:func:`parse_lammps_log`, :func:`parse_lammps_dump`)
that work on strings; :class:`LammpsLogParser` turns their results into nodes. It parses any
``lammps.raw`` run; the extra outputs (``thermo``, ``trajectory``, ``structure``, ``forces``) are
attached only when the CalcJob declares them (``qdots.lammps`` / :class:`QdotsLammpsCalculation`).

Units: thermo arrays and ``results['final_thermo']`` are kept as LAMMPS printed them (for ``units
metal``: energies eV, Time ps, Temp K, Press bar, lengths angstrom, forces eV/angstrom). Node outputs
that follow the package convention are converted: trajectory times in fs and velocities in
angstrom/fs (LAMMPS metal: angstrom/ps, divided by 1000).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
from aiida import orm
from aiida.parsers import Parser

from aiida_qdots.calculations.lammps_inputs import (
    DYNMAT_FILENAME,
    FINAL_FILENAME,
    HESSIAN_FILENAME,
    TRAJECTORY_FILENAME,
    lammps_frame,
)
from aiida_qdots.common.errors import QdotsInputError

FS_PER_PS = 1000.0
MAX_MESSAGES = 50
"""At most this many distinct warnings are kept in ``results``."""

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
UNITS_NOTE = (
    'thermo arrays and final_thermo in LAMMPS units (metal: eV, angstrom, ps, K, bar, eV/angstrom); '
    'energy/energy_per_atom in eV; trajectory converted to angstrom, angstrom/fs (metal velocities / 1000) '
    'and fs (metal time * 1000)'
)


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

    A frame written twice for the same timestep (LAMMPS does this only in corner cases) is kept once.
    Raises :class:`QdotsInputError` naming the frame if the text is malformed.
    """
    frames: list[DumpFrame] = []
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
                triclinic = 'xy' in box_item
                boundary = box_item[-3:]
                bounds = np.array([lines[i + 5 + k].split() for k in range(3)], dtype=float)
                box, origin = _box_from_bounds(bounds, triclinic)
                atoms_item = lines[i + 8].split()
                if atoms_item[:2] != ['ITEM:', 'ATOMS']:
                    raise QdotsInputError('expected ITEM: ATOMS')
                names = atoms_item[2:]
                table = np.array(' '.join(lines[i + 9 : i + 9 + natoms]).split(), dtype=object)
                if table.size != natoms * len(names):
                    raise QdotsInputError(f'expected {natoms} atom lines of {len(names)} columns')
                table = table.reshape(natoms, len(names))
                if 'id' in names:
                    table = table[np.argsort(table[:, names.index('id')].astype(np.int64), kind='stable')]
                columns = {
                    name: table[:, k].astype(str) if name == 'element' else table[:, k].astype(float)
                    for k, name in enumerate(names)
                }
                if not frames or frames[-1].timestep != timestep:
                    frames.append(DumpFrame(timestep, time, box, origin, boundary, columns))
                time = None
                i += 9 + natoms
            else:
                raise QdotsInputError(f'unexpected line {line[:60]!r}')
        except (IndexError, ValueError) as exc:
            raise QdotsInputError(f'malformed dump near line {i + 1} (frame {len(frames)}): {exc}') from exc
    return frames, units


def _sanitize(name: str) -> str:
    """Column name usable as an ArrayData array name and a Dict key (letters, digits, underscores)."""
    clean = re.sub(r'[^0-9A-Za-z_]', '_', name)
    return clean if clean and clean != 'block' else f'col_{clean}'


def thermo_arrays(blocks: list[ThermoBlock]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Concatenate thermo blocks: one array per column (NaN where a block lacks it) plus ``block``,
    the 0-based block index of each row. Returns the arrays and the sanitised -> LAMMPS name map."""
    names: dict[str, str] = {}
    for block in blocks:
        for column in block.columns:
            names.setdefault(_sanitize(column), column)
    total = sum(len(b.rows) for b in blocks)
    arrays = {key: np.full(total, np.nan) for key in names}
    index = np.zeros(total, dtype=np.int32)
    start = 0
    for k, block in enumerate(blocks):
        data = block.as_array()
        stop = start + len(data)
        index[start:stop] = k
        for j, column in enumerate(block.columns):
            arrays[_sanitize(column)][start:stop] = data[:, j]
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
    rows = [line for k, line in enumerate(lines) if k % block >= 9]
    data = np.array(' '.join(rows).split(), dtype=float).reshape(n_frames, n_atoms, 4)
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


class LammpsLogParser(Parser):
    """Parse a ``lammps.raw`` / ``qdots.lammps`` run: screen output, trajectory dump and final dump."""

    def parse(self, **kwargs):
        output_filename = self.node.get_option('output_filename')
        retrieved = self.retrieved
        available = set(retrieved.base.repository.list_object_names())
        if output_filename not in available:
            return self.exit_codes.ERROR_OUTFILE_MISSING
        log = parse_lammps_log(retrieved.base.repository.get_object_content(output_filename))
        stderr_name = self.node.get_option('scheduler_stderr')
        stderr = []
        if stderr_name and stderr_name in available:
            stderr = [line.strip() for line in retrieved.base.repository.get_object_content(stderr_name).splitlines()]
            log.errors += [line for line in stderr if line.startswith('ERROR') and line not in log.errors]
        units = self._units()
        settings = self.node.inputs.settings.get_dict() if 'settings' in self.node.inputs else {}
        phases = settings.get('qdots', {}).get('phases', [])

        results = self._results(log, units, phases)
        if phases == ['hessian']:  # one `run 0` block per displaced configuration: keep the first only
            results['blocks'] = results['blocks'][:1]
        self.out('results', orm.Dict(results))
        if log.blocks and self._declares('thermo') and phases != ['hessian']:
            self.out('thermo', self._thermo_node(log, units, phases))
        if log.errors:
            return self.exit_codes.ERROR_PARSER_DETECTED_LAMMPS_RUN_ERROR.format(error='; '.join(log.errors))
        if not log.finished:
            last = 'complete' if log.blocks and log.blocks[-1].complete else 'cut short'
            detail = f'no "Total wall time" line; {len(log.blocks)} thermo blocks, the last {last}'
            if any(stderr):
                detail += f'; stderr ends with: {[line for line in stderr if line][-1]}'
            return self._exit('ERROR_OUTPUT_INCOMPLETE', detail=detail)

        structure = self.node.inputs.structure if 'structure' in self.node.inputs else None
        frame = lammps_frame(structure) if structure is not None else None
        retrieve_list = [r if isinstance(r, str) else r[0] for r in self.node.get_retrieve_list() or []]
        for filename in (HESSIAN_FILENAME, DYNMAT_FILENAME, TRAJECTORY_FILENAME, FINAL_FILENAME):
            if filename not in retrieve_list:
                continue
            if filename not in available:
                return self._exit('ERROR_DUMP_MISSING', filename=filename)
            try:
                if filename in (HESSIAN_FILENAME, DYNMAT_FILENAME):
                    content = retrieved.base.repository.get_object_content(filename)
                    displacement = settings['qdots']['displacement']
                    if filename == HESSIAN_FILENAME:
                        hessian = parse_hessian_dump(content, displacement)
                        method = 'central finite differences of LAMMPS forces'
                    else:
                        kind_mass = dict(zip(frame.kinds, frame.masses, strict=True))
                        hessian = parse_dynamical_matrix(
                            content, [kind_mass[site.kind_name] for site in structure.sites]
                        )
                        method = 'LAMMPS dynamical_matrix (PHONON package; central differences), times sqrt(m_i m_j)'
                    self.out('hessian', self._hessian_node(hessian, displacement, frame, method))
                    continue
                frames, dump_units = parse_lammps_dump(retrieved.base.repository.get_object_content(filename))
                if not frames:
                    raise QdotsInputError('no frames')
                if (dump_units or units) != 'metal':
                    self.logger.warning(f'{filename}: units {dump_units or units} are not converted; skipped')
                    continue
                if filename == TRAJECTORY_FILENAME and self._declares('trajectory'):
                    self.out('trajectory', self._trajectory_node(frames, frame, structure))
                elif filename == FINAL_FILENAME:
                    self._final_outputs(frames[-1], frame, structure)
            except (QdotsInputError, KeyError, ValueError) as exc:
                return self._exit('ERROR_DUMP_INVALID', filename=filename, error=str(exc))
        return None

    @staticmethod
    def _hessian_node(hessian: np.ndarray, displacement: float, frame, method: str) -> orm.ArrayData:
        """The Hessian output, rotated from the LAMMPS frame back to the input frame."""
        n_atoms = hessian.shape[0] // 3
        rotation = frame.rotation if frame is not None else np.eye(3)
        blocks = hessian.reshape(n_atoms, 3, n_atoms, 3)
        hessian = np.einsum('ab,ibjc,dc->iajd', rotation, blocks, rotation).reshape(3 * n_atoms, 3 * n_atoms)
        node = orm.ArrayData()
        node.set_array('hessian', hessian)
        scale = np.abs(hessian).max()
        node.base.attributes.set_many(
            {
                'units': {'hessian': 'eV/angstrom^2'},
                'displacement_angstrom': float(displacement),
                'method': method,
                'convention': 'hessian[3i+a, 3j+b] = d2E / dx_ia dx_jb, atoms in input order; not symmetrised',
                'asymmetry': float(np.abs(hessian - hessian.T).max() / scale) if scale else 0.0,
            }
        )
        return node

    def _declares(self, name: str) -> bool:
        return name in self.node.process_class.spec().outputs

    def _exit(self, name: str, **kwargs):
        """Exit code ``name`` of the CalcJob, or lammps.raw's generic parsing failure if it lacks it."""
        if name in self.exit_codes:
            return getattr(self.exit_codes, name).format(**kwargs)
        self.logger.error(f'{name}: {kwargs}')
        return self.exit_codes.ERROR_PARSING_OUTFILE

    def _units(self) -> str:
        """The ``units`` style of the input script (LAMMPS' default is lj)."""
        script = self.node.inputs.script.get_content() if 'script' in self.node.inputs else ''
        found = re.findall(r'^\s*units\s+(\w+)', script, flags=re.MULTILINE)
        return found[-1] if found else 'lj'

    @staticmethod
    def _results(log: LammpsLog, units: str, phases: list[str]) -> dict:
        blocks = []
        for k, block in enumerate(log.blocks):
            info = {
                'kind': block.kind,
                'columns': block.columns,
                'num_rows': len(block.rows),
                'complete': block.complete,
                'loop_time_seconds': block.loop_time,
                'num_procs': block.num_procs,
                'num_steps': block.num_steps,
                'num_atoms': block.num_atoms,
            }
            if len(phases) == len(log.blocks):
                info['phase'] = phases[k]
            if block.loop_time and block.num_steps and block.num_atoms:
                info['atom_steps_per_second'] = block.num_steps * block.num_atoms / block.loop_time
            if block.rows and 'Step' in block.columns:
                column = block.columns.index('Step')
                info['first_step'], info['last_step'] = int(block.rows[0][column]), int(block.rows[-1][column])
            info.update(block.minimization)
            blocks.append(info)
        results = {
            'lammps_version': log.version,
            'units': units,
            'units_note': UNITS_NOTE,
            'num_atoms': log.num_atoms,
            'num_blocks': len(log.blocks),
            'blocks': blocks,
            'total_wall_time': log.total_wall_time,
            'wall_time_seconds': log.wall_time_seconds,
            'finished': log.finished,
            'warnings': log.warnings,
            'errors': log.errors,
        }
        last = next((b for b in reversed(log.blocks) if b.rows), None)
        if last is not None:
            final = {_sanitize(c): v for c, v in zip(last.columns, last.rows[-1], strict=True)}
            results['final_thermo'] = final
            if units == 'metal' and 'PotEng' in final:
                results['energy'] = final['PotEng']
                if log.num_atoms:
                    results['energy_per_atom'] = final['PotEng'] / log.num_atoms
            if units == 'metal':
                for key in ('Fmax', 'Fnorm'):
                    if key in final:
                        results[key.lower()] = final[key]
        return results

    @staticmethod
    def _thermo_node(log: LammpsLog, units: str, phases: list[str]) -> orm.ArrayData:
        arrays, names = thermo_arrays(log.blocks)
        node = orm.ArrayData()
        for key, array in arrays.items():
            node.set_array(key, array)
        node.base.attributes.set('columns', names)
        node.base.attributes.set('lammps_units', units)
        if units == 'metal':
            units_map = {k: THERMO_UNITS_METAL[v] for k, v in names.items() if v in THERMO_UNITS_METAL}
            node.base.attributes.set('units', units_map)
        node.base.attributes.set(
            'blocks',
            [
                {
                    'kind': b.kind,
                    'phase': phases[k] if len(phases) == len(log.blocks) else None,
                    'num_rows': len(b.rows),
                }
                for k, b in enumerate(log.blocks)
            ],
        )
        return node

    @staticmethod
    def _vectors(dump: DumpFrame, names: tuple[str, str, str], frame) -> np.ndarray | None:
        if not all(n in dump.columns for n in names):
            return None
        vectors = np.stack([dump.columns[n] for n in names], axis=1)
        return frame.to_input_frame(vectors) if frame is not None else vectors

    def _positions(self, dump: DumpFrame, frame) -> np.ndarray:
        for names in (('xu', 'yu', 'zu'), ('x', 'y', 'z')):
            positions = self._vectors(dump, names, frame)
            if positions is not None:
                return positions
        raise QdotsInputError('the dump has neither x y z nor xu yu zu columns')

    def _cell(self, dump: DumpFrame, frame, structure) -> np.ndarray:
        if frame is None:
            return dump.box
        if not frame.periodic:
            return np.array(structure.cell, dtype=float)
        return frame.cell_to_input_frame(dump.box)

    def _symbols(self, dump: DumpFrame, structure) -> list[str]:
        if structure is not None:
            return [site.kind_name for site in structure.sites]
        if 'element' in dump.columns:
            return list(dump.columns['element'])
        raise QdotsInputError('no structure input and no element column: cannot name the atoms')

    def _trajectory_node(self, frames: list[DumpFrame], frame, structure) -> orm.TrajectoryData:
        natoms = {len(f.columns['id']) for f in frames}
        if len(natoms) != 1:
            raise QdotsInputError(f'the number of atoms changes between frames: {sorted(natoms)}')
        positions = np.array([self._positions(f, frame) for f in frames])
        velocities = [self._vectors(f, ('vx', 'vy', 'vz'), frame) for f in frames]
        velocities = None if velocities[0] is None else np.array(velocities) / FS_PER_PS
        times = None if frames[0].time is None else np.array([f.time for f in frames]) * FS_PER_PS
        pbc = tuple(structure.pbc) if structure is not None else tuple(b == 'pp' for b in frames[0].boundary)
        node = orm.TrajectoryData()
        node.set_trajectory(
            symbols=self._symbols(frames[0], structure),
            positions=positions,
            stepids=np.array([f.timestep for f in frames], dtype=np.int64),
            cells=np.array([self._cell(f, frame, structure) for f in frames]),
            times=times,
            velocities=velocities,
            pbc=pbc,
        )
        coordinates = 'unwrapped' if 'xu' in frames[0].columns else 'wrapped'
        node.base.attributes.set(
            'units', {'positions': 'angstrom', 'velocities': 'angstrom/fs', 'times': 'fs', 'cells': 'angstrom'}
        )
        node.base.attributes.set('source', f'{TRAJECTORY_FILENAME} (LAMMPS units metal, velocities / 1000)')
        node.base.attributes.set('coordinates', coordinates)
        return node

    def _final_outputs(self, dump: DumpFrame, frame, structure) -> None:
        forces = self._vectors(dump, ('fx', 'fy', 'fz'), frame)
        if forces is not None and self._declares('forces'):
            node = orm.ArrayData()
            node.set_array('forces', forces)
            node.base.attributes.set('units', {'forces': 'eV/angstrom'})
            self.out('forces', node)
        if structure is None or not self._declares('structure'):
            return
        final = structure.clone()
        final.reset_cell(self._cell(dump, frame, structure).tolist())
        final.reset_sites_positions(self._positions(dump, frame).tolist())
        self.out('structure', final)
