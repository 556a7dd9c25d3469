"""LAMMPS inputs for the ``qdots.lammps`` CalcJob: the structure as a data file, and generated scripts.

Everything is in LAMMPS ``units metal`` (eV, angstrom, ps, bar, K); the user-facing settings take
time steps and damping times in fs and are converted here. Three kinds of run:

* molecular dynamics (:class:`MDSettings`): velocities seeded at the target temperature, an NVT
  stage (Nose-Hoover or Langevin), then an NVE stage; optional dump of positions and velocities;
* minimisation (:class:`MinimizeSettings`): conjugate gradients, optionally with the cell relaxed;
* single point (``settings=None``): energy and forces of the structure as given;
* Hessian (:class:`HessianSettings`): central finite differences of the forces, every atom displaced by
  +-h along x, y and z (``run 0`` each), the forces of all 6N configurations written to one dump file; or, with
  a LAMMPS that has the PHONON package, its ``dynamical_matrix`` command (the same differences done inside
  LAMMPS, written as the mass-weighted matrix).

Every script ends by writing ``final.dump`` (positions, velocities, forces of the last configuration),
which the parser turns into the ``structure`` and ``forces`` outputs.

Boundaries follow ``structure.pbc``: periodic crystals get ``boundary p p p`` and a (triclinic)
box from the cell; non-periodic nanocrystals get ``boundary s s s``. Shrink-wrapping was chosen over
fixed ``f`` walls because the box then follows the atoms (an evaporating surface atom is never
lost, no vacuum size to guess) and there are no periodic images of the cluster at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
from aiida import orm

from aiida_qdots import __version__
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.units import FS_PER_PS

STRUCTURE_FILENAME = 'structure.data'
TRAJECTORY_FILENAME = 'trajectory.dump'
FINAL_FILENAME = 'final.dump'
HESSIAN_FILENAME = 'hessian_forces.dump'
DYNMAT_FILENAME = 'dynmat.dat'
RAW_DUMPS = (TRAJECTORY_FILENAME, HESSIAN_FILENAME, DYNMAT_FILENAME)
"""Dumps that grow with frames x atoms or atoms^2 (tens of MB for a 300-atom MD run or Hessian): parsed to arrays,
not kept in the repository unless the settings say ``keep_raw_dumps``. ``final.dump`` (one frame) is always kept."""
HESSIAN_METHODS = ('finite_differences', 'dynamical_matrix')
NONPERIODIC_MARGIN = 1.0
"""Padding (angstrom) of the initial box around a non-periodic structure; shrink-wrapping then takes over."""

THERMOSTATS = ('nose-hoover', 'langevin')
CELL_RELAXATIONS = ('iso', 'aniso', 'tri')


@dataclasses.dataclass(frozen=True)
class MDSettings:
    """Seed velocities, thermalise (NVT), then run microcanonically (NVE). Times in fs, temperatures in K."""

    temperature: float = 300.0
    timestep: float = 1.0
    nvt_steps: int = 1000
    nve_steps: int = 1000
    thermostat: str = 'nose-hoover'
    damping: float = 100.0  # fs, thermostat relaxation time (Tdamp / Langevin damp)
    seed_temperature: float | None = None  # K, of the seeded velocities; default: ``temperature``
    seed: int = 4928459
    thermo_every: int = 10
    dump_every: int = 0  # steps between trajectory frames (positions + velocities); 0: no trajectory
    dump_from: int = 0  # first step dumped (LAMMPS `dump_modify delay`): nvt_steps keeps only the NVE frames
    dump_velocities: bool = True  # false: positions only, half the trajectory, for runs whose velocities go unused

    def __post_init__(self):
        _check_positive('temperature (K)', self.temperature)
        _check_positive('time step (fs)', self.timestep)
        _check_positive('thermostat damping (fs)', self.damping)
        if self.seed_temperature is not None:
            _check_positive('seed temperature (K)', self.seed_temperature)
        for name in ('nvt_steps', 'nve_steps', 'dump_every', 'dump_from'):
            if not isinstance(getattr(self, name), int | np.integer) or getattr(self, name) < 0:
                raise QdotsInputError(f'{name} must be a non-negative integer, got {getattr(self, name)!r}')
        if not isinstance(self.dump_velocities, bool):
            raise QdotsInputError(f'dump_velocities must be true or false, got {self.dump_velocities!r}')
        if self.nvt_steps + self.nve_steps <= 0:
            raise QdotsInputError('number of MD steps must be positive (nvt_steps + nve_steps is 0)')
        if not isinstance(self.thermo_every, int | np.integer) or self.thermo_every <= 0:
            raise QdotsInputError(f'thermo_every must be a positive integer, got {self.thermo_every!r}')
        if not isinstance(self.seed, int | np.integer) or not 0 < self.seed < 2**31:
            raise QdotsInputError(f'random seed must be an integer in 1..2^31-1, got {self.seed!r}')
        if self.thermostat not in THERMOSTATS:
            raise QdotsInputError(f'unknown thermostat {self.thermostat!r}; known: {", ".join(THERMOSTATS)}')

    @property
    def phases(self) -> list[str]:
        """Names of the LAMMPS ``run`` blocks in order (one thermo block each)."""
        return [p for p, n in (('nvt', self.nvt_steps), ('nve', self.nve_steps)) if n > 0]


@dataclasses.dataclass(frozen=True)
class MinimizeSettings:
    """Conjugate-gradient minimisation. ``force_tolerance`` (eV/angstrom) bounds the 2-norm of the
    global force vector; ``relax_cell`` (periodic only) also relaxes the cell to zero pressure."""

    energy_tolerance: float = 0.0
    force_tolerance: float = 1e-6
    max_iterations: int = 10000
    max_evaluations: int = 100000
    relax_cell: str | None = None  # None, 'iso', 'aniso' or 'tri'
    thermo_every: int = 10

    def __post_init__(self):
        if self.energy_tolerance < 0 or self.force_tolerance < 0:
            raise QdotsInputError('minimisation tolerances must be non-negative')
        if self.energy_tolerance == 0 and self.force_tolerance == 0:
            raise QdotsInputError('set an energy or a force tolerance; both are 0')
        for name in ('max_iterations', 'max_evaluations', 'thermo_every'):
            if not isinstance(getattr(self, name), int | np.integer) or getattr(self, name) <= 0:
                raise QdotsInputError(f'{name} must be a positive integer, got {getattr(self, name)!r}')
        if self.relax_cell is not None and self.relax_cell not in CELL_RELAXATIONS:
            raise QdotsInputError(f'relax_cell must be None or one of {", ".join(CELL_RELAXATIONS)}')

    @property
    def phases(self) -> list[str]:
        return ['minimize']


@dataclasses.dataclass(frozen=True)
class HessianSettings:
    """Hessian by central differences of forces: H[3i+a, :] = -(F(x_ia + h) - F(x_ia - h)) / (2h), with the
    displacement ``h`` in angstrom (errors O(h^2) from anharmonicity, O(eps/h) from force round-off).

    ``method``: ``finite_differences`` (6N ``run 0`` in the script; any LAMMPS) or ``dynamical_matrix`` (LAMMPS'
    PHONON package does the same differences and writes H / sqrt(m_i m_j)).
    """

    displacement: float = 0.005
    method: str = 'finite_differences'

    def __post_init__(self):
        _check_positive('finite-difference displacement (angstrom)', self.displacement)
        if self.displacement > 0.05:
            raise QdotsInputError(
                f'displacement {self.displacement} angstrom is too large for a harmonic Hessian (use <= 0.05)'
            )
        if self.method not in HESSIAN_METHODS:
            raise QdotsInputError(f'Hessian method must be one of {", ".join(HESSIAN_METHODS)}, got {self.method!r}')

    @property
    def phases(self) -> list[str]:
        return ['hessian']

    @property
    def filename(self) -> str:
        """The file the run writes its Hessian data to."""
        return DYNMAT_FILENAME if self.method == 'dynamical_matrix' else HESSIAN_FILENAME


def _check_positive(what: str, value) -> None:
    if not isinstance(value, int | float | np.number) or not np.isfinite(value) or value <= 0:
        raise QdotsInputError(f'{what} must be positive, got {value!r}')


@dataclasses.dataclass(frozen=True)
class LammpsFrame:
    """How a StructureData maps onto a LAMMPS box.

    Atom type ``t`` (1-based) is kind ``kinds[t - 1]``. LAMMPS-frame vectors are
    ``v @ rotation`` of input-frame ones; the LAMMPS box rows (``box``, tilts reduced to LAMMPS'
    limits) equal ``lattice_map @ cell @ rotation`` with an integer unimodular ``lattice_map``.
    """

    kinds: tuple[str, ...]
    symbols: tuple[str, ...]
    masses: tuple[float, ...]
    periodic: bool
    rotation: np.ndarray
    box: np.ndarray
    lattice_map: np.ndarray
    origin: np.ndarray  # (xlo, ylo, zlo) of the initial box, angstrom

    def to_input_frame(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate LAMMPS-frame vectors (positions, velocities, forces; any leading shape) back."""
        return np.asarray(vectors) @ self.rotation.T

    def cell_to_input_frame(self, box: np.ndarray) -> np.ndarray:
        """Lattice vectors (rows) of a LAMMPS box in the input frame and the input's choice of vectors."""
        return np.linalg.solve(self.lattice_map, box) @ self.rotation.T


def lammps_frame(structure: orm.StructureData) -> LammpsFrame:
    """Atom types and box geometry of ``structure`` in LAMMPS' conventions."""
    if not structure.sites:
        raise QdotsInputError('the structure has no atoms')
    kinds = structure.kinds
    for kind in kinds:
        if kind.is_alloy or kind.has_vacancies:
            raise QdotsInputError(f'kind {kind.name!r} is an alloy or has vacancies; LAMMPS needs one element per site')
    pbc = tuple(bool(p) for p in structure.pbc)
    if len(set(pbc)) != 1:
        raise QdotsInputError(f'mixed periodicity {pbc} is not supported; make the structure fully periodic or not')
    positions = np.array([site.position for site in structure.sites], dtype=float)
    names = tuple(k.name for k in kinds)
    symbols = tuple(k.symbol for k in kinds)
    masses = tuple(float(k.mass) for k in kinds)
    if not pbc[0]:
        lo = positions.min(axis=0) - NONPERIODIC_MARGIN
        hi = positions.max(axis=0) + NONPERIODIC_MARGIN
        return LammpsFrame(names, symbols, masses, False, np.eye(3), np.diag(hi - lo), np.eye(3, dtype=int), lo)

    cell = np.array(structure.cell, dtype=float)
    volume = np.linalg.det(cell)
    if abs(volume) < 1e-6:
        raise QdotsInputError('the cell of the periodic structure is degenerate (zero volume)')
    if volume < 0:
        raise QdotsInputError('the cell is left-handed; LAMMPS needs a right-handed cell (swap two lattice vectors)')
    a, b, c = cell
    lx = np.linalg.norm(a)
    xy = b @ a / lx
    ly = np.sqrt(b @ b - xy**2)
    xz = c @ a / lx
    yz = (b @ c - xy * xz) / ly
    lz = np.sqrt(c @ c - xz**2 - yz**2)
    box = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])
    rotation = np.linalg.solve(cell, box)
    # LAMMPS wants |xy|, |xz| <= lx/2 and |yz| <= ly/2: replace b, c by equivalent lattice vectors.
    lattice_map = np.eye(3, dtype=int)
    for row, col, ref in ((2, 1, 1), (2, 0, 0), (1, 0, 0)):
        shift = int(np.round(box[row, col] / box[ref, ref]))
        if shift:
            box[row] -= shift * box[ref]
            lattice_map[row] -= shift * lattice_map[ref]
    return LammpsFrame(names, symbols, masses, True, rotation, box, lattice_map, np.zeros(3))


def write_lammps_data(structure: orm.StructureData, charges: Mapping[str, float] | None = None) -> str:
    """LAMMPS data file (types as in :func:`lammps_frame`) of ``structure``: ``atom_style atomic``, or
    ``atom_style charge`` with each atom's charge (e) from ``charges`` (element -> charge) when given."""
    frame = lammps_frame(structure)
    kind_index = {name: i + 1 for i, name in enumerate(frame.kinds)}
    positions = np.array([site.position for site in structure.sites], dtype=float) @ frame.rotation
    lo = [float(x) for x in frame.origin]
    box = frame.box.tolist()
    style = 'atomic' if charges is None else 'charge'
    lines = [
        f'LAMMPS data file written by aiida-qdots {__version__} (atom_style {style}, units metal)',
        '',
        f'{len(positions)} atoms',
        f'{len(frame.kinds)} atom types',
        '',
        f'{lo[0]!r} {lo[0] + box[0][0]!r} xlo xhi',
        f'{lo[1]!r} {lo[1] + box[1][1]!r} ylo yhi',
        f'{lo[2]!r} {lo[2] + box[2][2]!r} zlo zhi',
    ]
    tilts = (box[1][0], box[2][0], box[2][1])
    if frame.periodic and any(t != 0.0 for t in tilts):
        lines.append('{!r} {!r} {!r} xy xz yz'.format(*tilts))
    lines += ['', 'Masses', '']
    lines += [
        f'{i + 1} {float(mass)!r}  # {name} ({symbol})'
        for i, (name, symbol, mass) in enumerate(zip(frame.kinds, frame.symbols, frame.masses, strict=True))
    ]
    lines += ['', f'Atoms  # {style}', '']
    kind_symbol = {kind.name: kind.symbol for kind in structure.kinds}
    for i, (site, pos) in enumerate(zip(structure.sites, positions, strict=True)):
        charge = '' if charges is None else f' {charges[kind_symbol[site.kind_name]]!r}'
        lines.append(f'{i + 1} {kind_index[site.kind_name]}{charge} {pos[0]:.12f} {pos[1]:.12f} {pos[2]:.12f}')
    return '\n'.join(lines) + '\n'


def _float(value: float) -> str:
    return f'{float(value):.10g}'


def _pair_lines(force_field: orm.SinglefileData, symbols: tuple[str, ...]) -> list[str]:
    """``pair_style`` / ``pair_coeff`` of ``force_field`` for atom types of ``symbols``: the many-body file, or
    per-type Lennard-Jones parameters with Lorentz-Berthelot mixing (charges are in the data file)."""
    attributes = force_field.base.attributes
    style = f'{attributes.get("pair_style")} {attributes.get("pair_args", "")}'.strip()
    lj = attributes.get('lj', None)
    if lj is None:
        return [f'pair_style {style}', f'pair_coeff * * {force_field.filename} {" ".join(symbols)}']
    lines = [f'pair_style {style}', 'pair_modify mix arithmetic']
    lines += [
        f'pair_coeff {i} {i} {_float(lj[symbol][0])} {_float(lj[symbol][1])}  # {symbol}'
        for i, symbol in enumerate(symbols, 1)
    ]
    return lines


def _setup_lines(structure: orm.StructureData, force_field: orm.SinglefileData, title: str) -> list[str]:
    frame = lammps_frame(structure)
    boundary = 'p p p' if frame.periodic else 's s s'
    charged = force_field.base.attributes.get('charges', None) is not None
    return [
        f'# {title}: generated by aiida-qdots {__version__}',
        f'# force field: {force_field.base.attributes.get("force_field", force_field.filename)} '
        f'({force_field.base.attributes.get("citation", "no citation recorded")})',
        'units metal',
        f'atom_style {"charge" if charged else "atomic"}',
        f'boundary {boundary}',
        f'read_data {STRUCTURE_FILENAME}',
        *_pair_lines(force_field, frame.symbols),
        'neighbor 2.0 bin',
        'neigh_modify every 1 delay 0 check yes',
    ]


def _thermo_lines(columns: list[str], every: int) -> list[str]:
    return [
        f'thermo_style custom {" ".join(columns)}',
        'thermo_modify flush yes format float %20.12g',
        f'thermo {every}',
    ]


def _final_dump_lines(structure: orm.StructureData) -> list[str]:
    symbols = ' '.join(lammps_frame(structure).symbols)
    return [
        f'write_dump all custom {FINAL_FILENAME} id type element x y z vx vy vz fx fy fz '
        f'modify sort id element {symbols} time yes units yes format float %.15g',
    ]


def validate_lammps_inputs(structure: orm.StructureData, force_field: orm.SinglefileData) -> None:
    """Raise :class:`QdotsInputError` if ``force_field`` lacks an element of ``structure`` or is not usable."""
    if not isinstance(structure, orm.StructureData):
        raise QdotsInputError(f'structure must be a StructureData, got {type(structure).__name__}')
    if not isinstance(force_field, orm.SinglefileData):
        raise QdotsInputError(f'force field must be a SinglefileData node, got {type(force_field).__name__}')
    attributes = force_field.base.attributes
    if not attributes.get('pair_style', None) or attributes.get('elements', None) is None:
        raise QdotsInputError(
            f'force field node {force_field.filename} carries no pair_style/elements attributes; '
            'make it with get_force_field_node'
        )
    if attributes.get('units', 'metal') != 'metal':
        raise QdotsInputError(
            f'force field {force_field.filename} is in LAMMPS units {attributes.get("units")}, '
            'the generated scripts use metal'
        )
    frame = lammps_frame(structure)
    missing = sorted(set(frame.symbols) - set(attributes.get('elements')))
    if missing:
        raise QdotsInputError(
            f'force field {attributes.get("force_field", force_field.filename)} has no parameters for '
            f'{", ".join(missing)} (it covers {", ".join(attributes.get("elements"))})'
        )


def md_script(structure: orm.StructureData, force_field: orm.SinglefileData, settings: MDSettings) -> str:
    """LAMMPS script: seed velocities, NVT then NVE, optional trajectory dump, final configuration."""
    validate_lammps_inputs(structure, force_field)
    frame = lammps_frame(structure)
    dt = settings.timestep / FS_PER_PS
    damp = settings.damping / FS_PER_PS
    temp = settings.temperature
    seed_temp = settings.seed_temperature or temp
    columns = ['step', 'time', 'temp', 'pe', 'ke', 'etotal'] + (['press', 'vol'] if frame.periodic else [])
    lines = _setup_lines(structure, force_field, 'molecular dynamics')
    lines += [f'timestep {_float(dt)}', *_thermo_lines(columns, settings.thermo_every)]
    rot = 'no' if frame.periodic else 'yes'
    lines.append(f'velocity all create {_float(seed_temp)} {settings.seed} dist gaussian mom yes rot {rot} loop all')
    if settings.dump_every:
        velocities = ' vx vy vz' if settings.dump_velocities else ''
        delay = f' delay {settings.dump_from}' if settings.dump_from else ''
        lines += [
            f'dump traj all custom {settings.dump_every} {TRAJECTORY_FILENAME} id type element xu yu zu{velocities}',
            f'dump_modify traj sort id element {" ".join(frame.symbols)} time yes units yes format float %.10g{delay}',
        ]
    if settings.nvt_steps:
        if settings.thermostat == 'nose-hoover':
            lines.append(f'fix integrate all nvt temp {_float(temp)} {_float(temp)} {_float(damp)}')
        else:
            lines += [
                'fix integrate all nve',
                f'fix thermostat all langevin {_float(temp)} {_float(temp)} {_float(damp)} {settings.seed + 1} '
                'zero yes',
            ]
        lines += [f'run {settings.nvt_steps}', 'unfix integrate']
        if settings.thermostat == 'langevin':
            lines.append('unfix thermostat')
    if settings.nve_steps:
        lines.append('velocity all zero linear')
        if not frame.periodic:
            lines.append('velocity all zero angular')
        lines += ['fix integrate all nve', f'run {settings.nve_steps}', 'unfix integrate']
    if settings.dump_every:
        lines.append('undump traj')
    lines += _final_dump_lines(structure)
    return '\n'.join(lines) + '\n'


def minimize_script(structure: orm.StructureData, force_field: orm.SinglefileData, settings: MinimizeSettings) -> str:
    """LAMMPS script: conjugate-gradient minimisation (optionally with the cell), final configuration."""
    validate_lammps_inputs(structure, force_field)
    frame = lammps_frame(structure)
    if settings.relax_cell and not frame.periodic:
        raise QdotsInputError('relax_cell needs a periodic structure; this one is non-periodic')
    columns = ['step', 'pe', 'fmax', 'fnorm'] + (['press', 'vol', 'lx', 'ly', 'lz'] if frame.periodic else [])
    lines = _setup_lines(structure, force_field, 'minimisation')
    lines += _thermo_lines(columns, settings.thermo_every)
    if settings.relax_cell:
        lines.append(f'fix relax all box/relax {settings.relax_cell} 0.0 vmax 0.001')
    lines += [
        'min_style cg',
        f'minimize {_float(settings.energy_tolerance)} {_float(settings.force_tolerance)} '
        f'{settings.max_iterations} {settings.max_evaluations}',
    ]
    lines += _final_dump_lines(structure)
    return '\n'.join(lines) + '\n'


def single_point_script(structure: orm.StructureData, force_field: orm.SinglefileData) -> str:
    """LAMMPS script: energy and forces of ``structure`` as given (``run 0``)."""
    validate_lammps_inputs(structure, force_field)
    periodic = lammps_frame(structure).periodic
    columns = ['step', 'pe', 'fmax', 'fnorm'] + (['press', 'vol'] if periodic else [])
    lines = _setup_lines(structure, force_field, 'single point')
    lines += [*_thermo_lines(columns, 1), 'run 0', *_final_dump_lines(structure)]
    return '\n'.join(lines) + '\n'


def hessian_script(structure: orm.StructureData, force_field: orm.SinglefileData, settings: HessianSettings) -> str:
    """LAMMPS script: forces at +-h displacements of every atom and direction, appended to one dump file; or the
    PHONON package's ``dynamical_matrix`` with the same displacement."""
    validate_lammps_inputs(structure, force_field)
    h = _float(settings.displacement)
    lines = _setup_lines(structure, force_field, f'Hessian ({settings.method.replace("_", " ")})')
    if settings.method == 'dynamical_matrix':
        lines.insert(lines.index(f'read_data {STRUCTURE_FILENAME}'), 'atom_modify map yes')  # needed by the command
        lines += [
            *_thermo_lines(['step', 'pe'], 1),
            'run 0',
            f'dynamical_matrix all regular {h} file {DYNMAT_FILENAME} binary no',
            *_final_dump_lines(structure),
        ]
        return '\n'.join(lines) + '\n'
    dump = f'write_dump all custom {HESSIAN_FILENAME} id fx fy fz modify sort id append yes format float %.15g'

    def move(scale: str) -> str:
        return 'displace_atoms moved move ' + ' '.join(f'$({scale}(v_d=={d})*v_h)' for d in (1, 2, 3)) + ' units box'

    lines += [
        *_thermo_lines(['step', 'pe'], 1),
        'run 0',
        f'variable h equal {h}',
        'variable natoms equal atoms',
        'variable i loop ${natoms}',
        'label atom_loop',
        'group moved id ${i}',
        'variable d loop 3',
        'label direction_loop',
        move(''),
        'run 0 post no',
        dump,
        move('-2*'),
        'run 0 post no',
        dump,
        move(''),
        'next d',
        'jump SELF direction_loop',
        'group moved delete',
        'next i',
        'jump SELF atom_loop',
        *_final_dump_lines(structure),
    ]
    return '\n'.join(lines) + '\n'


def settings_from_dict(values: Mapping) -> MDSettings | MinimizeSettings | None:
    """Settings object from a protocol mapping with ``mode`` in ``md``, ``minimize``, ``single_point``."""
    values = dict(values)
    mode = values.pop('mode', 'md')
    values.pop('phases', None)
    try:
        if mode == 'md':
            return MDSettings(**values)
        if mode == 'minimize':
            return MinimizeSettings(**values)
        if mode == 'hessian':
            return HessianSettings(**values)
    except TypeError as exc:
        raise QdotsInputError(f'invalid {mode} settings: {exc}') from exc
    if mode == 'single_point':
        return None
    raise QdotsInputError(f'unknown LAMMPS mode {mode!r}; known: md, minimize, hessian, single_point')
