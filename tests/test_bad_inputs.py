"""A catalogue of bad inputs across every door: the CLI importers and launch commands, builders, importers and
workchain validators.

Each case must be refused with a message naming what is wrong (CLI: exit status 1 or 2, no traceback, one
``Error:`` line naming the file and the rule) and must leave the database exactly as it was: same node count, and
the same fingerprint of nodes, links and groups. Most file cases are generated: mutations (truncation, NaN/inf/huge
values, wrong units, wrong elements, duplicated or unsorted frames and rows, wrong encodings, empty files, binary
garbage) of good files in every format ``aiida-qdots import`` reads, the real Cd28Se17Cl22 data among them.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import shlex
import zipfile
from collections.abc import Callable

import numpy as np
import pytest
import yaml
from aiida import orm
from aiida.engine import run_get_node
from click.testing import CliRunner
from profile_state import node_count, profile_fingerprint
from trajectory_files import CELL, SYMBOLS, cp2k_text, extxyz_text, frames, poscar_text, write, xdatcar_text

from aiida_qdots.calculations.lammps.force_fields import get_force_field_node
from aiida_qdots.cli import cli
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.data.ued import COLUMNS
from aiida_qdots.functions.nanocrystals import nanocrystal_structure
from aiida_qdots.provisioning.codes import get_or_create_code, get_or_create_localhost
from aiida_qdots.readers.ued_patterns import PATTERN_COLUMNS
from aiida_qdots.structures.clusters import build_magic_cluster
from aiida_qdots.structures.importers import import_levels, import_trajectory
from aiida_qdots.workchains.aimd import AimdWorkChain
from aiida_qdots.workchains.aimd_analysis import AimdAnalysisWorkChain
from aiida_qdots.workchains.cluster_energy import ClusterEnergyWorkChain
from aiida_qdots.workchains.electronic import ElectronicWorkChain
from aiida_qdots.workchains.ligand_ranking import LigandRankingWorkChain
from aiida_qdots.workchains.namd import NamdWorkChain
from aiida_qdots.workchains.phonons import PhononsWorkChain

CLUSTER_CONFIG = {
    'label': 'faraway',
    'hostname': 'login.cluster.example.org',
    'workdir': '/scratch/{username}/aiida',
    'codes': {'cp2k': '/opt/cp2k/bin/cp2k.psmp'},
    'transport': {'username': 'alice'},
}

# ------------------------------------------------------------------------ good files, which the cases mutate
XYZ = extxyz_text(frames(3))
"""Three frames of Cd Cd Se Cl (labels st1..st3); frame k starts on line 6k (0-based)."""
CP2K = cp2k_text(SYMBOLS, frames(3), [0, 1, 2], dt_fs=0.5)
XDATCAR = xdatcar_text(SYMBOLS, np.repeat(CELL[None], 3, axis=0), frames(3))
LEVELS_ROWS = 6
"""The header and the first 5 rows (st1, st3, ..., st9) of the real levels file, imported with stride 2."""
UED_GRID = [
    (2.1, 400.0, delay, peak, q, round(1.0 - 0.001 * delay * q, 4), 1e-3)
    for delay in (0.0, 10.0, 20.0)
    for peak, q in (('100', 1.687), ('002', 1.793), ('101', 1.912))
]
"""The smallest UED set `launch ued` can fit: 3 delays x 3 peaks (rows 1-9)."""


def ued_csv(rows=UED_GRID, columns=COLUMNS) -> str:
    return ','.join(columns) + '\n' + ''.join(','.join(map(str, row)) + '\n' for row in rows)


UED = ued_csv()
UED_JSON = json.dumps([dict(zip(COLUMNS, row, strict=True)) for row in UED_GRID])


PATTERN_Q = [round(1.0 + 0.2 * k, 2) for k in range(20)]
PATTERN_GRID = [
    (2.1, 510.0, delay, q, round(100.0 + 10.0 * np.sin(3 * q) - 0.1 * max(delay, 0), 4), 0.1)
    for delay in (-1.0, 0.0, 1.0, 2.0)
    for q in PATTERN_Q
]
"""The smallest pattern set `launch ued` takes: one pre-pump and 3 later delays x 20 Q points (rows 1-80)."""


def pattern_csv(rows=PATTERN_GRID, columns=PATTERN_COLUMNS) -> str:
    return ','.join(columns) + '\n' + ''.join(','.join(map(str, row)) + '\n' for row in rows)


def pattern_with(row: int, column: str, value) -> str:
    """PATTERN_GRID with ``column`` of row ``row`` (1-based) set to ``value``."""
    rows = [list(r) for r in PATTERN_GRID]
    rows[row - 1][PATTERN_COLUMNS.index(column)] = value
    return pattern_csv(rows)


def pattern_npz(**changes) -> bytes:
    """The pattern grid as NPZ bytes, arrays replaced (or dropped, with None) by ``changes``."""
    arrays = {
        'fluence_mj_cm2': np.array([2.1]),
        'wavelength_nm': np.array([510.0]),
        'delay_ps': np.array([-1.0, 0.0, 1.0, 2.0]),
        'q_inv_angstrom': np.array(PATTERN_Q),
        'intensity': np.array([r[4] for r in PATTERN_GRID]).reshape(1, 4, 20),
        'intensity_err': np.full((1, 4, 20), 0.1),
    }
    arrays.update(changes)
    buffer = io.BytesIO()
    np.savez(buffer, **{k: v for k, v in arrays.items() if v is not None})
    return buffer.getvalue()


def ued_with(row: int, column: str, value) -> str:
    """UED_GRID with ``column`` of row ``row`` (1-based) set to ``value``."""
    rows = [list(r) for r in UED_GRID]
    rows[row - 1][COLUMNS.index(column)] = value
    return ued_csv(rows)


def line_replaced(text: str, line: int, old: str, new: str) -> str:
    """``text`` with the first ``old`` on line ``line`` (0-based) replaced by ``new``."""
    lines = text.split('\n')
    lines[line] = lines[line].replace(old, new, 1)
    return '\n'.join(lines)


def atom_line(text: str, line: int, values) -> str:
    """``text`` with the coordinates of the extended-XYZ atom line ``line`` (0-based) set to ``values``."""
    lines = text.split('\n')
    lines[line] = ' '.join([lines[line].split()[0], *map(str, values)])
    return '\n'.join(lines)


def relabelled(text: str, labels) -> str:
    """Extended XYZ ``text`` with its frames' ``source_frame`` labels replaced by ``labels``."""
    for k, label in enumerate(labels):
        text = text.replace(f'source_frame=st{k + 1}\n', f'source_frame=@{label}\n', 1)
    return text.replace('source_frame=@', 'source_frame=')


@dataclasses.dataclass
class Env:
    """What the cases act on; everything here is stored before the database is fingerprinted."""

    tmp: object
    cp2k: orm.AbstractCode
    lammps: orm.AbstractCode
    python: orm.AbstractCode
    structure: orm.StructureData
    nanocrystal: orm.StructureData
    trajectory: orm.TrajectoryData
    levels_trajectory: orm.TrajectoryData
    dictionary: orm.Dict
    real_xyz: str
    real_levels: str
    bad: dict
    """Stored nodes that break a rule (built directly, as no importer would store them)."""
    dir: object = None
    """The current case's own folder (files written by one case never meet another's)."""

    def file(self, name: str, content: str | bytes):
        path = self.dir / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def folder(self, name: str, files: dict):
        path = self.dir / name
        path.mkdir()
        for file, text in files.items():
            (path / file).write_text(text)
        return path

    def config(self, **changes) -> str:
        data = {k: v for k, v in {**CLUSTER_CONFIG, **changes}.items() if v is not None}
        return str(self.file('cluster.yaml', yaml.safe_dump(data)))


def _structure(symbols, positions) -> orm.StructureData:
    node = orm.StructureData(cell=np.eye(3) * 30.0)
    node.pbc = (False, False, False)
    for symbol, position in zip(symbols, positions, strict=True):
        node.append_atom(position=tuple(position), symbols=symbol)
    return node.store()


def _trajectory(symbols, positions, times=None) -> orm.TrajectoryData:
    node = orm.TrajectoryData()
    positions = np.asarray(positions, dtype=float)
    node.set_trajectory(
        symbols=symbols,
        positions=positions,
        times=np.arange(len(positions), dtype=float) if times is None else np.asarray(times, dtype=float),
    )
    node.base.attributes.set('timestep_fs', 1.0)
    return node.store()


def _ued_node(delays, n_peaks: int = 3, ratio: float = 0.99, source: dict | None = None) -> orm.ArrayData:
    """A UED set at 400 nm, a pump wavelength the protocol's kinetic model has no cross-section for."""
    node = orm.ArrayData()
    node.set_array('delay_ps', np.asarray(delays, dtype=float))
    node.set_array('q_inv_angstrom', np.linspace(1.7, 3.0, n_peaks))
    node.set_array('intensity_ratio', np.full((1, len(delays), n_peaks), ratio))
    node.set_array('intensity_ratio_err', np.full((1, len(delays), n_peaks), 1e-3))
    node.base.attributes.set_many(
        {'sets': [{'fluence_mj_cm2': 2.1, 'wavelength_nm': 400.0}], 'peaks': [], 'source': source or {}}
    )
    return node.store()


@pytest.fixture(scope='module')
def env(aiida_profile, tmp_path_factory, shared_data_dir):
    """Shared by every case: a refused case changes nothing, which each case proves."""
    tmp = tmp_path_factory.mktemp('bad_inputs')
    localhost, _ = get_or_create_localhost()
    get_force_field_node('sw_zhou2013')  # stored once, by the first phonons builder otherwise
    with gzip.open(shared_data_dir / 'cl_aimd_frames_1-15000.extxyz.gz', 'rt') as handle:
        real_xyz = ''.join(handle.readline() for _ in range(3 * 69))
    with open(shared_data_dir / 'Cl_QD_elec_1-10k.csv') as handle:
        real_levels = ''.join(handle.readline() for _ in range(LEVELS_ROWS))
    good = frames(3)[0]
    return Env(
        tmp,
        get_or_create_code('cp2k', localhost)[0],
        get_or_create_code('lammps', localhost)[0],
        get_or_create_code('python', localhost)[0],
        orm.StructureData(ase=build_magic_cluster('se-rich', 0)).store(),
        nanocrystal_structure(diameter=12.0),
        import_trajectory(write(tmp / 'three.extxyz', XYZ), 1.0),
        import_trajectory(write(tmp / 'ten.extxyz', extxyz_text(frames(10))), 1.0),
        orm.Dict({'not': 'a structure'}).store(),
        real_xyz,
        real_levels,
        {
            'overlapping-structure': _structure(SYMBOLS, [good[0], good[0] + 0.1, good[2], good[3]]),
            'dummy-atom-structure': _structure(['Cd', 'X', 'Se', 'Cl'], good),
            'far-away-structure': _structure(SYMBOLS, [*good[:3], [1e6, 0.0, 0.0]]),
            'nan-trajectory': _trajectory(SYMBOLS, np.where(np.arange(3)[:, None, None] == 1, np.nan, frames(3))),
            'xx-trajectory': _trajectory(['Cd', 'Xx', 'Se', 'Cl'], frames(3)),
            'repeated-times-trajectory': _trajectory(SYMBOLS, frames(3), times=[0.0, 1.0, 1.0]),
            'nm-trajectory': _trajectory(SYMBOLS, frames(3) / 10.0),
            'single-delay-ued': _ued_node([10.0]),
            'two-peak-ued': _ued_node([0.0, 10.0, 20.0], n_peaks=2),
            'nan-ued': _ued_node([0.0, 10.0, 20.0], ratio=np.nan),
            'unsorted-ued': _ued_node([0.0, 20.0, 10.0]),
            'pump-400nm-ued': _ued_node([0.0, 10.0, 20.0], source={'file': 'pump400.csv'}),
        },
    )


@dataclasses.dataclass
class Cli:
    """``aiida-qdots ARGS`` must exit with status ``status`` and print ``message``."""

    args: Callable[[Env], list]
    message: str
    status: int = 1


@dataclasses.dataclass
class Raises:
    """``action(env)`` must raise ``error`` with a message matching ``message``."""

    action: Callable[[Env], object]
    message: str
    error: type[Exception] = QdotsInputError


def cut_gzip(path):
    """A gzip-compressed extended XYZ file that ends 20 bytes early."""
    path.write_bytes(gzip.compress(extxyz_text(frames(3)).encode())[:-20])
    return path


def aimd(env: Env, code=None, **overrides):
    return AimdWorkChain.get_builder_from_protocol(
        code or env.cp2k, env.structure, 'fast', {'relax': False, **overrides}
    )


def phonons(env: Env, **overrides):
    return PhononsWorkChain.get_builder_from_protocol(env.lammps, env.nanocrystal, 'fast', overrides)


@dataclasses.dataclass
class BadFile:
    """``aiida-qdots import COMMAND FILE OPTIONS``, FILE holding ``content(env)`` (text, bytes, or a dict of files
    for a folder), must exit with ``status`` and one ``Error:`` line naming the file and ``message``."""

    command: str
    name: str
    content: Callable[[Env], str | bytes | dict]
    message: str
    options: Callable[[Env], list] = lambda e: []
    status: int = 1
    named: str | None = None
    """The file the message names (default: ``name``); a usage error (status 2) names the option instead."""


def _gz(content: str | bytes) -> bytes:
    return gzip.compress(content if isinstance(content, bytes) else content.encode())


def _cut(text: str) -> str:
    """``text`` ending halfway through its middle line, as a file cut off by a full disk or an interrupted copy."""
    lines = text.splitlines(keepends=True)
    middle = len(lines) // 2
    return ''.join(lines[:middle]) + lines[middle][: len(lines[middle]) // 2]


def _latin1(text: str) -> bytes:
    """``text`` saved as Latin-1 with an accented letter opening its third line."""
    lines = text.split('\n')
    lines[2] = 'é' + lines[2]
    return '\n'.join(lines).encode('latin-1')


GENERIC = {
    'empty': lambda text: b'',
    'blank-lines': lambda text: b'\n   \n\n',
    'binary-garbage': lambda text: bytes(range(256)) * 4,
    'nul-byte': lambda text: (text[: len(text) // 2] + '\x00' + text[len(text) // 2 :]).encode(),
    'utf16': lambda text: text.encode('utf-16'),
    'latin1': _latin1,
    'truncated': lambda text: _cut(text).encode(),
}
"""Mutations of any text file: name -> function of the good text returning the bad file's bytes."""

TEXT_RULE = '[rule: text]'
DOORS = {
    # door: (command, file name, good text, options, expected message of each generic mutation, gzip it)
    'extxyz': (
        'trajectory',
        't.extxyz',
        lambda e: XYZ,
        lambda e: ['--timestep', '1'],
        {
            'empty': 'file is empty',
            'blank-lines': 'file is empty',
            'truncated': 'frame 1, line 11: file ends inside the frame',
        },
        False,
    ),
    'extxyz-gz': (
        'trajectory',
        't.extxyz.gz',
        lambda e: XYZ,
        lambda e: ['--timestep', '1'],
        {
            'empty': 'file is empty',
            'blank-lines': 'file is empty',
            'truncated': 'frame 1, line 11: file ends inside the frame',
        },
        True,
    ),
    'real-extxyz': (
        'trajectory',
        'real.extxyz',
        lambda e: e.real_xyz,
        lambda e: ['--timestep', '1'],
        {
            'empty': 'file is empty',
            'blank-lines': 'file is empty',
            'truncated': 'frame 1, line 105: file ends inside the frame',
        },
        False,
    ),
    'cp2k': (
        'trajectory',
        'qd-pos-1.xyz',
        lambda e: CP2K,
        lambda e: ['--timestep', '0.5'],
        {
            'empty': 'file is empty',
            'blank-lines': 'file is empty',
            'truncated': 'frame 1, line 11: file ends inside the frame',
        },
        False,
    ),
    'xdatcar': (
        'trajectory',
        'XDATCAR',
        lambda e: XDATCAR,
        lambda e: ['--timestep', '1'],
        {
            'empty': 'file is empty',
            'blank-lines': 'file is empty',
            'truncated': "line 12: expected 3 coordinates, got '0.47317251 0.30'",
        },
        False,
    ),
    'levels': (
        'levels',
        'levels.csv',
        lambda e: e.real_levels,
        lambda e: ['--trajectory', e.levels_trajectory.pk, '--stride', '2'],
        {'truncated': 'row 3 (line 4): 5 fields, the header has 6'},
        False,
    ),
    'ued-csv': ('ued', 'ued.csv', lambda e: UED, lambda e: [], {'truncated': '[rule: finite]'}, False),
    'ued-json': ('ued', 'ued.json', lambda e: UED_JSON, lambda e: [], {'truncated': 'not a valid .json table'}, False),
    'ued-patterns-csv': (
        'ued',
        'patterns.csv',
        lambda e: pattern_csv(),
        lambda e: [],
        {'empty': 'file is empty', 'blank-lines': 'file is empty', 'truncated': '[rule: finite]'},
        False,
    ),
}


def _generic_case(door: str, mutation: str) -> BadFile:
    command, name, good, options, messages, compressed = DOORS[door]
    mutate = GENERIC[mutation]
    return BadFile(
        command,
        name,
        (lambda e: _gz(mutate(good(e)))) if compressed else (lambda e: mutate(good(e))),
        messages.get(mutation, TEXT_RULE),
        options,
    )


FILE_CASES = {
    f'{door}-{mutation}': _generic_case(door, mutation)
    for door in DOORS
    for mutation in GENERIC
    if not (door == 'ued-json' and mutation == 'latin1')  # its text has one line
}


def xyz(text, name='t.extxyz', timestep='1'):
    return lambda message: BadFile('trajectory', name, lambda e: text, message, lambda e: ['--timestep', timestep])


def cp2k(text: str, message: str, timestep: str = '0.5', velocities: str | None = None, named: str | None = None):
    """``import trajectory qd-pos-1.xyz`` holding ``text``, with the velocity file ``velocities`` when given."""

    def options(e: Env) -> list:
        extra = ['--velocities', e.file('qd-vel-1.xyz', velocities)] if velocities is not None else []
        return ['--timestep', timestep, *extra]

    return BadFile('trajectory', 'qd-pos-1.xyz', lambda e: text, message, options, named=named)


def levels(text_of, message, stride='2', *more):
    return BadFile(
        'levels',
        'levels.csv',
        text_of,
        message,
        lambda e: ['--trajectory', e.levels_trajectory.pk, '--stride', stride, *more],
    )


def usage(case: BadFile) -> BadFile:
    """``case`` as a usage error of an option (exit status 2)."""
    return dataclasses.replace(case, status=2)


def ued(text, message, name='ued.csv'):
    return BadFile('ued', name, lambda e: text, message)


def real_row(e: Env, row: int, column: int, value: str) -> str:
    """The real levels text with field ``column`` of data row ``row`` (1-based) set to ``value``."""
    lines = e.real_levels.split('\n')
    fields = lines[row].split(',')
    fields[column] = value
    lines[row] = ','.join(fields)
    return '\n'.join(lines)


def real_rows(e: Env, order) -> str:
    """The real levels text with its data rows in ``order`` (1-based indices, repeats allowed)."""
    lines = e.real_levels.rstrip('\n').split('\n')
    return '\n'.join([lines[0], *(lines[k] for k in order)]) + '\n'


def scaled(text: str, factor: float) -> str:
    """Extended XYZ ``text`` with every coordinate multiplied by ``factor`` (coordinates in other units)."""
    out = []
    for line in text.split('\n'):
        parts = line.split()
        out.append(' '.join([parts[0], *(f'{float(x) * factor:.10f}' for x in parts[1:])]) if len(parts) == 4 else line)
    return '\n'.join(out)


FOLDER_FRAMES = {
    f'st{k + 1}.vasp': poscar_text(SYMBOLS, CELL, frame, cartesian=True) for k, frame in enumerate(frames(3))
}
SPECIFIC = {
    # extended XYZ: elements, values, distances, units, frame order, shape
    'extxyz-element-Xx': xyz(XYZ.replace('\nCd ', '\nXx '))("atom 0: 'Xx' is not a chemical element symbol"),
    'extxyz-element-dummy-X': xyz(XYZ.replace('\nSe ', '\nX '))("atom 2: 'X' is not a chemical element symbol"),
    'extxyz-element-lower-case': xyz(XYZ.replace('\nCl ', '\ncl '))("'cl' is not a chemical element symbol"),
    'extxyz-coordinate-1e308': xyz(atom_line(XYZ, 9, [1e308, 0, 0]))('frame 1, atom 1: coordinate 1e+308 angstrom'),
    'extxyz-coordinate-minus-1e308': xyz(atom_line(XYZ, 9, [0, -1e308, 0]))('is beyond +-10000 angstrom'),
    'extxyz-coordinate-1e5': xyz(atom_line(XYZ, 2, [1e5, 0, 0]))('frame 0, atom 0: coordinate 100000 angstrom'),
    'extxyz-coordinate-nan': xyz(atom_line(XYZ, 15, [0, 'nan', 0]))(
        "frame 2, line 16: column 3: 'nan' is not a finite"
    ),
    'extxyz-coordinate-inf': xyz(atom_line(XYZ, 3, ['inf', 0, 0]))("column 2: 'inf' is not a finite number"),
    'extxyz-coordinate-not-a-number': xyz(atom_line(XYZ, 3, ['1.2.3', 0, 0]))("'1.2.3' is not a finite number"),
    'extxyz-overlapping-atoms': xyz(atom_line(XYZ, 15, XYZ.split('\n')[14].split()[1:]))(
        'frame 2 (st3), atoms 0 and 1: 0 angstrom apart, closer than 0.5 angstrom'
    ),
    'extxyz-coordinates-in-nm': xyz(scaled(XYZ, 0.1))('closer than 0.5 angstrom (coordinates must be in angstrom)'),
    'extxyz-real-coordinates-in-nm': BadFile(
        'trajectory',
        'real.extxyz',
        lambda e: scaled(e.real_xyz, 0.1),
        '[rule: distance]',
        lambda e: ['--timestep', '1'],
    ),
    'extxyz-real-huge-coordinate': BadFile(
        'trajectory',
        'real.extxyz',
        lambda e: atom_line(e.real_xyz, 69 + 2, [9.3, 1e308, 12.0]),
        'real.extxyz, frame 1, atom 0: coordinate 1e+308 angstrom is beyond',
        lambda e: ['--timestep', '1'],
    ),
    'extxyz-real-duplicated-frame': BadFile(
        'trajectory',
        'real.extxyz',
        lambda e: e.real_xyz + ''.join(e.real_xyz.splitlines(keepends=True)[2 * 69 :]),
        "frame 3: frame label 'st3' duplicates 'st3' of frame 2",
        lambda e: ['--timestep', '1'],
    ),
    'extxyz-duplicated-frame-label': xyz(relabelled(XYZ, ['st1', 'st2', 'st2']))(
        "frame 2: frame label 'st2' duplicates 'st2' of frame 1: frame labels must strictly increase [rule: order]"
    ),
    'extxyz-unsorted-frames': xyz(relabelled(XYZ, ['st1', 'st3', 'st2']))(
        "frame 2: frame label 'st2' comes after 'st3' of frame 1"
    ),
    'extxyz-repeated-text-label': xyz(relabelled(XYZ, ['a', 'b', 'a']))("frame 2: frame label 'a' repeats frame 0"),
    'extxyz-atom-count-too-big': xyz(line_replaced(XYZ, 6, '4', '5'))('frame 1, line 7: frame has 5 atoms'),
    'extxyz-atom-count-zero': xyz(line_replaced(XYZ, 0, '4', '0'))('atom count must be positive'),
    'extxyz-missing-column': xyz(line_replaced(XYZ, 4, XYZ.split('\n')[4].split()[3], ''))(
        'line 5: expected 4 columns, got 3'
    ),
    'extxyz-lattice-1e308': xyz(XYZ.replace('Lattice="10.0000000000', 'Lattice="1e308'))(
        'frame 0, vector 0: cell component 1e+308 angstrom is beyond'
    ),
    'extxyz-lattice-degenerate': xyz(XYZ.replace('12.0000000000"', '0.0000000000"'))(
        'frame 0: the cell vectors are degenerate'
    ),
    'extxyz-lattice-nan': xyz(XYZ.replace('Lattice="10.0000000000', 'Lattice="nan'))('is not 9 numbers'),
    'extxyz-species-change': xyz(line_replaced(XYZ, 8, 'Cd', 'Se'))('species changed: atom 0 is Se'),
    'extxyz-timestep-zero': xyz(XYZ, timestep='0')('time step must be a positive number of fs, got 0.0'),
    'extxyz-timestep-negative': xyz(XYZ, timestep='-1')('time step must be a positive number of fs'),
    'extxyz-timestep-nan': xyz(XYZ, timestep='nan')(
        'time step must be a positive number of fs, got nan [rule: finite]'
    ),
    'extxyz-timestep-inf': xyz(XYZ, timestep='inf')('[rule: finite]'),
    'extxyz-timestep-in-seconds': xyz(XYZ, timestep='1e-15')('time step 1e-15 fs is outside 0.001..100000 fs'),
    'extxyz-timestep-huge': xyz(XYZ, timestep='1e9')('give it in fs [rule: units]'),
    # CP2K: steps and times, velocities
    'cp2k-repeated-step': cp2k(
        cp2k_text(SYMBOLS, frames(3), [0, 1, 1], dt_fs=0.5), 'qd-pos-1.xyz, frame 2: MD step 1 duplicates 1 of frame 1'
    ),
    'cp2k-unsorted-steps': cp2k(
        cp2k_text(SYMBOLS, frames(3), [0, 2, 1], dt_fs=0.5), 'frame 2: MD step 1 comes after 2 of frame 1'
    ),
    'cp2k-element-Xx': cp2k(
        cp2k_text(['Cd', 'Xx', 'Se', 'Cl'], frames(3), [0, 1, 2], dt_fs=0.5),
        "atom 1: 'Xx' is not a chemical element symbol",
    ),
    'cp2k-timestep-disagrees': cp2k(CP2K, 'but the time step is 1 fs [rule: units]', timestep='1'),
    'cp2k-velocity-nan': cp2k(
        CP2K,
        "qd-vel-1.xyz, frame 1, line 9: column 3: 'nan' is not a finite number",
        velocities=atom_line(cp2k_text(SYMBOLS, 1e-4 * frames(3), [0, 1, 2]), 8, [0, 'nan', 0]),
        named='qd-vel-1.xyz',
    ),
    'cp2k-velocity-huge': cp2k(
        CP2K,
        'qd-pos-1.xyz, frame 0, atom 0: velocity component',
        velocities=cp2k_text(SYMBOLS, 1e3 * frames(3), [0, 1, 2]),
    ),
    'cp2k-velocity-frames-missing': cp2k(
        CP2K,
        'qd-vel-1.xyz: velocity file has 2 frames, qd-pos-1.xyz has 3',
        velocities=cp2k_text(SYMBOLS, 1e-4 * frames(2), [0, 1]),
    ),
    # XDATCAR and POSCAR folders
    'xdatcar-element-Xx': xyz(XDATCAR.replace('Cd   Se   Cl', 'Xx   Se   Cl'), 'XDATCAR')(
        "atom 0: 'Xx' is not a chemical element symbol"
    ),
    'xdatcar-repeated-configuration': xyz(XDATCAR.replace('configuration=      3', 'configuration=      2'), 'XDATCAR')(
        'frame 2: MD step 2 duplicates 2 of frame 1'
    ),
    'xdatcar-unsorted-configurations': xyz(
        XDATCAR.replace('configuration=      2', 'configuration=      9'), 'XDATCAR'
    )('frame 2: MD step 3 comes after 9'),
    'xdatcar-coordinate-nan': xyz(line_replaced(XDATCAR, 8, XDATCAR.split('\n')[8].split()[0], 'nan'), 'XDATCAR')(
        "line 9: column 1: 'nan' is not a finite number"
    ),
    'xdatcar-lattice-1e308': xyz(line_replaced(XDATCAR, 2, '10.000000', '1e308'), 'XDATCAR')(
        'cell component 1e+308 angstrom is beyond'
    ),
    'xdatcar-scale-zero': xyz(line_replaced(XDATCAR, 1, '1', '0'), 'XDATCAR')('bad scaling factor'),
    'poscar-folder-duplicated-frame': BadFile(
        'trajectory',
        'frames',
        lambda e: {**FOLDER_FRAMES, 'st02.vasp': FOLDER_FRAMES['st2.vasp']},
        "frame 2: frame label 'st02' duplicates 'st2' of frame 1",
        lambda e: ['--timestep', '1'],
    ),
    'poscar-folder-element-Xx': BadFile(
        'trajectory',
        'frames',
        lambda e: {k: v.replace('Cd  Se  Cl', 'Xx  Se  Cl') for k, v in FOLDER_FRAMES.items()},
        "'Xx' is not a chemical element symbol",
        lambda e: ['--timestep', '1'],
    ),
    'poscar-folder-overlapping-atoms': BadFile(
        'trajectory',
        'frames',
        lambda e: {
            **FOLDER_FRAMES,
            'st3.vasp': poscar_text(
                SYMBOLS,
                CELL,
                np.repeat(frames(1)[0][:1], 4, axis=0) + [[0, 0, 0.1 * k] for k in range(4)],
                cartesian=True,
            ),
        },
        '0.1 angstrom apart, closer than 0.5 angstrom',
        lambda e: ['--timestep', '1'],
    ),
    'poscar-folder-empty': BadFile(
        'trajectory', 'frames', lambda e: {}, 'no POSCAR frames', lambda e: ['--timestep', '1']
    ),
    # levels: energies, units, row order, shape
    'levels-homo-1e308': levels(lambda e: real_row(e, 2, 1, '1e308'), "row 2 (line 3), column 'HOMO (eV)': 1e+308 eV"),
    'levels-homo-minus-1e308': levels(
        lambda e: real_row(e, 1, 1, '-1e308'), 'is beyond +-100 eV: energies must be in eV'
    ),
    'levels-lumo-1e308': levels(lambda e: real_row(e, 3, 2, '1e308'), "row 3 (line 4), column 'LUMO (eV)'"),
    'levels-lumo-plus1-minus-1e308': levels(lambda e: real_row(e, 4, 3, '-1e308'), "column 'LUMO+1 (eV)'"),
    'levels-homo-nan': levels(lambda e: real_row(e, 1, 1, 'nan'), 'nan is not a finite energy [rule: finite]'),
    'levels-lumo-inf': levels(lambda e: real_row(e, 2, 2, 'inf'), 'inf is not a finite energy'),
    'levels-gap-minus-inf': levels(lambda e: real_row(e, 5, 4, '-inf'), "column 'Bandgap (eV)': -inf is not a finite"),
    'levels-energies-in-meV': levels(
        lambda e: e.real_levels.replace('-5.0', '-5000.').replace('-3.4', '-3400.'), 'energies must be in eV'
    ),
    'levels-header-in-hartree': levels(lambda e: e.real_levels.replace('HOMO (eV)', 'HOMO (Ha)'), 'is in Ha'),
    'levels-header-in-meV': levels(lambda e: e.real_levels.replace('LUMO (eV)', 'LUMO (meV)'), 'is in meV'),
    'levels-duplicated-row': levels(
        lambda e: real_rows(e, [1, 2, 2, 3]),
        "row 3: frame label 'st3' duplicates 'st3' of row 2: frame labels must strictly increase [rule: order]",
    ),
    'levels-unsorted-rows': levels(lambda e: real_rows(e, [1, 3, 2, 4]), "row 3: frame label 'st3' comes after 'st5'"),
    'levels-lumo-below-homo': levels(lambda e: real_row(e, 2, 2, '-6.0'), 'is not above HOMO'),
    'levels-gap-inconsistent': levels(lambda e: real_row(e, 2, 4, '1.9'), 'does not match the orbital energies'),
    'levels-no-lumo-column': levels(lambda e: e.real_levels.replace('LUMO (eV)', 'Energy (eV)'), 'required column'),
    'levels-label-without-number': levels(lambda e: real_row(e, 2, 0, 'last'), 'does not end in a frame number'),
    'levels-extra-field': levels(lambda e: real_row(e, 2, 5, '0.5,0.5'), '7 fields, the header has 6'),
    'levels-beyond-trajectory': levels(
        lambda e: e.real_levels + 'st11,-5.0,-3.4,-2.9,1.6,0.5\n', "frame 'st11' is not in the trajectory"
    ),
    'levels-header-only': levels(lambda e: e.real_levels.split('\n')[0] + '\n', 'no data rows'),
    'levels-stride-zero': usage(levels(lambda e: e.real_levels, "Invalid value for '--stride': 0 is not in", '0')),
    'levels-stride-negative': usage(levels(lambda e: e.real_levels, "Invalid value for '--stride'", '-2')),
    'levels-stride-not-integer': usage(levels(lambda e: e.real_levels, "'two' is not a valid integer", 'two')),
    'levels-first-frame-negative': usage(
        levels(lambda e: e.real_levels, "Invalid value for '--first-frame'", '2', '--first-frame', '-1')
    ),
    'levels-trajectory-is-a-structure': usage(
        BadFile(
            'levels',
            'levels.csv',
            lambda e: e.real_levels,
            'is a StructureData, not a TrajectoryData',
            lambda e: ['--trajectory', e.structure.pk, '--stride', '2'],
        )
    ),
    'levels-first-frame-disagrees': levels(
        lambda e: e.real_levels, "first frame is 'st1' but first_frame=3", '2', '--first-frame', '3'
    ),
    # UED: sizes, values, units, order, shape
    'ued-single-delay': ued(ued_csv(UED_GRID[:3]), '1 delay(s) at or after 0 ps; the kinetic fit needs at least 3'),
    'ued-two-delays': ued(
        ued_csv(UED_GRID[:6]), '2 delay(s) at or after 0 ps; the kinetic fit needs at least 3 [rule: size]'
    ),
    'ued-delays-before-time-zero': ued(
        ued_csv([(*r[:2], r[2] - 15.0, *r[3:]) for r in UED_GRID]), '1 delay(s) at or after 0 ps'
    ),
    'ued-two-peaks': ued(
        ued_csv([r for r in UED_GRID if r[3] != '101']), '2 peak(s); the Debye-Waller fit needs at least 3'
    ),
    'ued-intensity-nan': ued(
        ued_with(4, 'intensity_ratio', 'nan'), "row 4, column 'intensity_ratio': not a finite number"
    ),
    'ued-intensity-inf': ued(ued_with(5, 'intensity_ratio', 'inf'), "row 5, column 'intensity_ratio': not a finite"),
    'ued-intensity-1e308': ued(
        ued_with(6, 'intensity_ratio', '1e308'), "row 6, column 'intensity_ratio': 1e+308 is beyond 10"
    ),
    'ued-intensity-negative': ued(ued_with(2, 'intensity_ratio', -0.5), 'must be > 0, got -0.5 [rule: bounds]'),
    'ued-intensity-zero': ued(ued_with(2, 'intensity_ratio', 0), "column 'intensity_ratio': must be > 0, got 0"),
    'ued-error-zero': ued(ued_with(3, 'intensity_ratio_err', 0), "column 'intensity_ratio_err': must be > 0"),
    'ued-delay-1e308': ued(ued_with(9, 'delay_ps', '1e308'), "row 9, column 'delay_ps': 1e+308 is beyond 1e+06"),
    'ued-delay-minus-1e308': ued(ued_with(1, 'delay_ps', '-1e308'), "row 1, column 'delay_ps': must be > -1e+06"),
    'ued-delay-nan': ued(ued_with(1, 'delay_ps', 'nan'), "row 1, column 'delay_ps': not a finite number"),
    'ued-fluence-zero': ued(ued_with(1, 'fluence_mj_cm2', 0), "row 1, column 'fluence_mj_cm2': must be > 0"),
    'ued-fluence-1e308': ued(ued_with(1, 'fluence_mj_cm2', 1e308), "column 'fluence_mj_cm2': 1e+308 is beyond 1000"),
    'ued-wavelength-in-micrometres': ued(
        ued_csv([(r[0], 0.4, *r[2:]) for r in UED_GRID]), "row 1, column 'wavelength_nm': must be > 100, got 0.4"
    ),
    'ued-q-huge': ued(ued_with(1, 'q_inv_angstrom', 1e3), "column 'q_inv_angstrom': 1000 is beyond 50"),
    'ued-q-text': ued(
        ued_with(1, 'q_inv_angstrom', 'abc'), "row 1, column 'q_inv_angstrom': not a finite number: 'abc'"
    ),
    'ued-duplicated-row': ued(
        ued_csv([*UED_GRID, UED_GRID[4]]), "row 10, column 'delay_ps': duplicate (set, peak, delay)"
    ),
    'ued-unsorted-delays': ued(
        ued_csv(UED_GRID[:3] + UED_GRID[6:] + UED_GRID[3:6]),
        'delays must increase within each (fluence, wavelength, peak) [rule: order]',
    ),
    'ued-missing-grid-row': ued(ued_csv(UED_GRID[:-1]), 'every set needs every delay and peak'),
    'ued-missing-column': ued(
        ued_csv([r[:-1] for r in UED_GRID], COLUMNS[:-1]), 'missing column(s) intensity_ratio_err'
    ),
    'ued-delays-in-fs': ued(
        ued_csv(UED_GRID, tuple(c.replace('delay_ps', 'delay_fs') for c in COLUMNS)),
        "column 'delay_fs': is not in the unit the format names: give delay_ps [rule: units]",
    ),
    'ued-fluence-in-j-m2': ued(
        ued_csv(UED_GRID, tuple(c.replace('fluence_mj_cm2', 'fluence_j_m2') for c in COLUMNS)),
        'give fluence_mj_cm2 [rule: units]',
    ),
    'ued-two-q-for-one-peak': ued(ued_with(4, 'q_inv_angstrom', 1.9), 'peak 100 has more than one Q'),
    'ued-json-object': ued(json.dumps({'fluence_mj_cm2': 2.1}), 'a JSON UED file is a list of objects', 'ued.json'),
    'ued-json-numbers': ued(json.dumps([1, 2, 3]), 'a JSON UED file is a list of objects', 'ued.json'),
    'ued-json-single-delay': ued(json.dumps(json.loads(UED_JSON)[:3]), '1 delay(s) at or after 0 ps', 'ued.json'),
    # UED patterns I(Q, t): CSV rows and NPZ arrays
    'patterns-intensity-nan': ued(
        pattern_with(7, 'intensity', 'nan'), "row 7, column 'intensity': not a finite number", 'p.csv'
    ),
    'patterns-intensity-negative': ued(
        pattern_with(3, 'intensity', -5.0), "row 3, column 'intensity': must be > 0, got -5", 'p.csv'
    ),
    'patterns-error-zero': ued(pattern_with(2, 'intensity_err', 0), "column 'intensity_err': must be > 0", 'p.csv'),
    'patterns-q-in-nm': ued(pattern_with(1, 'q_inv_angstrom', 120.0), '120 is beyond 50: check its unit', 'p.csv'),
    'patterns-no-pre-pump': ued(
        pattern_csv(PATTERN_GRID[20:] + [(*r[:2], 3.0, *r[3:]) for r in PATTERN_GRID[:20]]),
        'no delay before time zero: the pre-pump reference I0(Q) needs one [rule: size]',
        'p.csv',
    ),
    'patterns-few-q': ued(
        pattern_csv([r for r in PATTERN_GRID if r[3] < 3.0]), '10 Q point(s); peak finding and dG(r) need', 'p.csv'
    ),
    'patterns-missing-row': ued(pattern_csv(PATTERN_GRID[:-1]), 'every set needs every delay and Q point', 'p.csv'),
    'patterns-duplicated-row': ued(
        pattern_csv([*PATTERN_GRID, PATTERN_GRID[5]]), 'row 81: duplicate (set, delay, Q) row [rule: order]', 'p.csv'
    ),
    'patterns-missing-column': ued(
        pattern_csv([r[:-1] for r in PATTERN_GRID], PATTERN_COLUMNS[:-1]), 'missing column(s) intensity_err', 'p.csv'
    ),
    'patterns-two-delays-after-zero': ued(
        pattern_csv(PATTERN_GRID[:60]), '2 delay(s) at or after 0 ps; the kinetic fit needs at least 3', 'p.csv'
    ),
    'patterns-npz-garbage': ued(bytes(range(256)) * 4, 'not a readable .npz file', 'p.npz'),
    'patterns-npz-missing-array': ued(pattern_npz(intensity_err=None), 'missing array(s) intensity_err', 'p.npz'),
    'patterns-npz-shape': ued(
        pattern_npz(intensity_err=np.full((1, 4, 19), 0.1)), 'intensity_err (1, 4, 19) differs from intensity', 'p.npz'
    ),
    'patterns-npz-nan': ued(
        pattern_npz(intensity=np.where(np.arange(80).reshape(1, 4, 20) == 45, np.nan, 100.0)),
        'set 0, delay 2, Q 5: intensity is nan [rule: finite]',
        'p.npz',
    ),
    'patterns-npz-unsorted-q': ued(
        pattern_npz(q_inv_angstrom=np.array(PATTERN_Q[::-1])), 'Q 1: Q (1/angstrom) 4.6 comes after 4.8', 'p.npz'
    ),
    'patterns-npz-fluence-zero': ued(
        pattern_npz(fluence_mj_cm2=np.array([0.0])), "array 'fluence_mj_cm2': must be > 0", 'p.npz'
    ),
    'patterns-npz-text-arrays': ued(pattern_npz(delay_ps=np.array(['a', 'b', 'c', 'd'])), 'not numbers', 'p.npz'),
    # archives
    'archive-empty': BadFile('archive', 'study.aiida', lambda e: b'', 'not an AiiDA archive'),
    'archive-binary-garbage': BadFile(
        'archive', 'study.aiida', lambda e: bytes(range(256)) * 4, 'not an AiiDA archive'
    ),
    'archive-text': BadFile(
        'archive', 'study.aiida', lambda e: XYZ, 'not an AiiDA archive (a zip file with metadata.json) [rule: format]'
    ),
    'archive-zip-of-something-else': BadFile(
        'archive', 'study.aiida', lambda e: _zip({'a.txt': 'hello'}), 'without metadata.json'
    ),
    'archive-truncated-zip': BadFile(
        'archive', 'study.aiida', lambda e: _zip({'a.txt': 'hello' * 100})[:60], 'not an AiiDA archive'
    ),
}


def _zip(files: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def reproduce_b(e: Env, overrides: str) -> list:
    """``aiida-qdots reproduce study-b`` on the env's LAMMPS code with ``overrides`` (nothing may be launched)."""
    folder = str(e.tmp / 'study-b-report')
    return [
        'reproduce',
        'study-b',
        '--label',
        'bad',
        '--code',
        e.lammps.full_label,
        '--folder',
        folder,
        '--overrides',
        overrides,
    ]


def launch(command_line: str, message: str, status: int = 1) -> Cli:
    """``aiida-qdots launch COMMAND_LINE`` (split like a shell would); a word that is a key of ``Env.bad`` becomes
    that node's PK, ``{structure}``, ``{trajectory}``, ``{nanocrystal}`` and ``{dict}`` the PKs of the env's nodes."""

    def build(e: Env) -> list:
        named = {'{structure}': e.structure, '{trajectory}': e.trajectory, '{nanocrystal}': e.nanocrystal}
        named |= {'{dict}': e.dictionary, **e.bad}
        return ['launch', *(named[word].pk if word in named else word for word in shlex.split(command_line))]

    return Cli(build, message, status)


LAUNCH_CASES = {
    # aimd: the structure's elements, positions and distances; options
    'launch-aimd-overlapping-atoms': launch(
        'aimd --structure overlapping-structure', 'atoms 0 and 1: 0.173 angstrom apart'
    ),
    'launch-aimd-dummy-atom': launch(
        'aimd --structure dummy-atom-structure', "atom 1: 'X' is not a chemical element symbol"
    ),
    'launch-aimd-far-away-atom': launch(
        'aimd --structure far-away-structure', 'frame 0, atom 3: coordinate 1e+06 angstrom is beyond'
    ),
    'launch-aimd-no-such-structure': launch('aimd --structure 99999999', 'no structure node 99999999'),
    'launch-aimd-trajectory-as-structure': launch(
        "aimd --structure '{trajectory}'", 'is a TrajectoryData, not a StructureData', status=2
    ),
    'launch-aimd-unknown-protocol': launch(
        "aimd --structure '{structure}' --protocol ultra", "'ultra' is not one of", status=2
    ),
    # electronic: the trajectory's values, elements and times; numeric options
    'launch-electronic-nan-positions': launch(
        'electronic --trajectory nan-trajectory', 'frame 1, atom 0: coordinate is nan [rule: finite]'
    ),
    'launch-electronic-element-Xx': launch(
        'electronic --trajectory xx-trajectory', "'Xx' is not a chemical element symbol"
    ),
    'launch-electronic-repeated-times': launch(
        'electronic --trajectory repeated-times-trajectory', 'frame 2: time 1 duplicates 1 of frame 1'
    ),
    'launch-electronic-positions-in-nm': launch(
        'electronic --trajectory nm-trajectory', '(coordinates must be in angstrom) [rule: distance]'
    ),
    'launch-electronic-stride-zero': launch(
        "electronic --trajectory '{trajectory}' --stride-fs 0", "Invalid value for '--stride-fs'", status=2
    ),
    'launch-electronic-stride-negative': launch(
        "electronic --trajectory '{trajectory}' --stride-fs -20", "Invalid value for '--stride-fs'", status=2
    ),
    'launch-electronic-stride-nan': launch(
        "electronic --trajectory '{trajectory}' --stride-fs nan", "Invalid value for '--stride-fs'", status=2
    ),
    'launch-electronic-window-zero': launch(
        "electronic --trajectory '{trajectory}' --window-fs 0", "Invalid value for '--window-fs'", status=2
    ),
    'launch-electronic-chunk-zero': launch(
        "electronic --trajectory '{trajectory}' --chunk-frames 0", "Invalid value for '--chunk-frames'", status=2
    ),
    'launch-electronic-structure-as-trajectory': launch(
        "electronic --trajectory '{structure}'", 'is a StructureData, not a TrajectoryData', status=2
    ),
    # namd
    'launch-namd-three-frames': launch(
        "namd --trajectory '{trajectory}' --frames 3", "Invalid value for '--frames'", status=2
    ),
    'launch-namd-frames-not-integer': launch(
        "namd --trajectory '{trajectory}' --frames ten", "'ten' is not a valid integer", status=2
    ),
    'launch-namd-nan-positions': launch('namd --trajectory nan-trajectory', 'coordinate is nan'),
    'launch-namd-unknown-python-code': launch(
        "namd --trajectory '{trajectory}' --python-code python9@nowhere", 'python9@nowhere'
    ),
    # phonons
    'launch-phonons-diameter-zero': launch('phonons --diameter 0', "Invalid value for '--diameter'", status=2),
    'launch-phonons-diameter-too-big': launch('phonons --diameter 25', "Invalid value for '--diameter'", status=2),
    'launch-phonons-diameter-and-structure': launch(
        "phonons --diameter 1.2 --structure '{nanocrystal}'", 'give either --diameter', status=2
    ),
    'launch-phonons-no-structure': launch('phonons', 'give either --diameter (nm) or --structure PK', status=2),
    'launch-phonons-negative-shell': launch(
        'phonons --diameter 1.2 --shell-monolayers -1', "Invalid value for '--shell-monolayers'", status=2
    ),
    'launch-phonons-unknown-stage': launch('phonons --diameter 1.2 --stages raman', "'raman' is not one of", status=2),
    'launch-phonons-unknown-force-field': launch(
        'phonons --diameter 1.2 --force-field eam', "'eam' is not one of", status=2
    ),
    'launch-phonons-overlapping-atoms': launch('phonons --structure overlapping-structure', '[rule: distance]'),
    'launch-phonons-dummy-atom': launch('phonons --structure dummy-atom-structure', '[rule: element]'),
    'launch-phonons-cp2k-code': launch('phonons --diameter 1.2 --code cp2k@localhost', 'runs cp2k jobs, not lammps'),
    # ued: the data node's size and values; the slope
    'launch-ued-single-delay': launch('ued --data single-delay-ued --slope 1e-4', '1 delay(s) at or after 0 ps'),
    'launch-ued-two-peaks': launch(
        'ued --data two-peak-ued --slope 1e-4', '2 peak(s); the Debye-Waller fit needs at least 3'
    ),
    'launch-ued-nan-intensity': launch(
        'ued --data nan-ued --slope 1e-4', 'set 0, delay 0, peak 0: intensity_ratio is nan'
    ),
    'launch-ued-unsorted-delays': launch(
        'ued --data unsorted-ued --slope 1e-4', 'delay 2: delay (ps) 10 comes after 20'
    ),
    'launch-ued-data-is-a-dict': launch(
        "ued --data '{dict}' --slope 1e-4", 'not an ArrayData of UED intensities', status=2
    ),
    'launch-ued-md-diffraction-is-a-dict': launch(
        "ued --data single-delay-ued --slope 1e-4 --md-diffraction '{dict}'", 'not an ArrayData', status=2
    ),
    'launch-ued-slope-zero': launch('ued --data single-delay-ued --slope 0', "Invalid value for '--slope'", status=2),
    'launch-ued-slope-negative': launch(
        'ued --data single-delay-ued --slope -1e-4', "Invalid value for '--slope'", status=2
    ),
    'launch-ued-slope-error-negative': launch(
        'ued --data single-delay-ued --slope 1e-4 --slope-err -1', "Invalid value for '--slope-err'", status=2
    ),
    'launch-ued-no-slope': launch('ued --data single-delay-ued', 'give either --phonons PK or --slope VALUE', status=2),
    'launch-ued-phonons-is-a-structure': launch(
        "ued --data single-delay-ued --phonons '{structure}'", 'neither a qdots.phonons workchain nor an msd_slope Dict'
    ),
    # ued: a pump wavelength the kinetic model has no absorption cross-section for, and the overrides that give one
    'launch-ued-pump-wavelength-without-cross-section': launch(
        'ued --data pump-400nm-ued --slope 1e-4',
        '(pump400.csv), set 0 (400 nm, 2.1 mJ/cm^2): the kinetic model has no absorption cross-section for 400 nm '
        '(only for 340, 510 nm)',
    ),
    'launch-ued-cross-section-for-another-wavelength': launch(
        'ued --data pump-400nm-ued --slope 1e-4 '
        '--overrides \'{"model": {"by_wavelength_nm": {"405": {"sigma_cm2": 1e-14}}}}\'',
        "only for 340, 405, 510 nm): give model.by_wavelength_nm['400'].sigma_cm2",
    ),
    'launch-ued-wavelength-key-not-as-written': launch(
        'ued --data pump-400nm-ued --slope 1e-4 '
        '--overrides \'{"model": {"by_wavelength_nm": {"400.0": {"sigma_cm2": 1e-14}}}}\'',
        "by_wavelength_nm keys must be wavelengths in nm written like '510', got ['400.0']",
    ),
    'launch-ued-negative-cross-section': launch(
        'ued --data pump-400nm-ued --slope 1e-4 '
        '--overrides \'{"model": {"by_wavelength_nm": {"400": {"sigma_cm2": -1e-14}}}}\'',
        'invalid kinetic model',
    ),
    'launch-ued-negative-cross-section-error': launch(
        'ued --data pump-400nm-ued --slope 1e-4 '
        '--overrides \'{"model": {"by_wavelength_nm": {"400": {"sigma_cm2": 1e-14, "sigma_rel_err": -0.3}}}}\'',
        'sigma_rel_err must be a non-negative number',
    ),
    'launch-ued-unknown-per-wavelength-key': launch(
        'ued --data pump-400nm-ued --slope 1e-4 '
        '--overrides \'{"model": {"by_wavelength_nm": {"400": {"sigma": 1e-14}}}}\'',
        'unknown model parameter(s) sigma',
    ),
    'launch-ued-overrides-not-json': launch(
        "ued --data pump-400nm-ued --slope 1e-4 --overrides '{model:'",
        "Invalid value for '--overrides': not JSON",
        status=2,
    ),
    'launch-ued-overrides-unknown-key': launch(
        'ued --data pump-400nm-ued --slope 1e-4 --overrides \'{"modell": {}}\'', 'unknown override(s) modell'
    ),
    # study
    'launch-study-overrides-not-json': launch(
        "study --label bad --overrides '{stages:'", "Invalid value for '--overrides': not JSON", status=2
    ),
    'launch-study-overrides-a-list': launch("study --label bad --overrides '[1, 2]'", 'is not a JSON object', status=2),
    'launch-study-overrides-unknown-key': launch(
        'study --label bad --overrides \'{"stagez": {}}\'', 'unknown override(s) stagez'
    ),
    'launch-study-arrangements-not-integers': launch(
        'study --label bad --arrangements 0,a', 'expected comma-separated integers', status=2
    ),
    'launch-study-unknown-composition': launch(
        'study --label bad --composition zn-rich', "'zn-rich' is not one of", status=2
    ),
    'launch-study-max-concurrent-zero': launch(
        'study --label bad --max-concurrent 0', "Invalid value for '--max-concurrent'", status=2
    ),
    'launch-study-unknown-protocol': launch('study --label bad --protocol ultra', "'ultra' is not one of", status=2),
    # lattice study
    'launch-lattice-study-nanocrystal-not-a-number': launch(
        'lattice-study --label bad --nanocrystal big', "Invalid value for '--nanocrystal'", status=2
    ),
    'launch-lattice-study-single-delay-ued': launch(
        'lattice-study --label bad --nanocrystal 1.2 --ued-data single-delay-ued', '[rule: size]'
    ),
    'launch-lattice-study-pump-wavelength-without-cross-section': launch(
        'lattice-study --label bad --nanocrystal 1.2 --ued-data pump-400nm-ued',
        'UED data set set_0: UED data node',
    ),
    'launch-lattice-study-patterns-without-synthetic': launch(
        'lattice-study --label bad --nanocrystal 1.2 --synthetic-patterns',
        '--synthetic-patterns goes with --synthetic-ued',
        status=2,
    ),
    'launch-lattice-study-ued-is-a-dict': launch(
        "lattice-study --label bad --nanocrystal 1.2 --ued-data '{dict}'", 'not an ArrayData', status=2
    ),
    'launch-lattice-study-same-nanocrystal-twice': launch(
        'lattice-study --label bad --nanocrystal 1.2 --nanocrystal 1.2', 'name one nanocrystal twice'
    ),
    # ligand ranking
    'launch-ranking-repeated-arrangements': launch(
        'ligand-ranking --composition se-rich --arrangements 1,1', 'indices repeat'
    ),
    'launch-ranking-max-concurrent-zero': launch(
        'ligand-ranking --composition se-rich --max-concurrent 0', "Invalid value for '--max-concurrent'", status=2
    ),
}


CASES = {
    # ------------------------------------------------------------------------------------------------- CLI
    'cli-nanocrystal-zero-diameter': Cli(
        lambda e: ['build', 'nanocrystal', '--diameter', '0'], "Invalid value for '--diameter'", status=2
    ),
    'cli-nanocrystal-stoichiometry': Cli(
        lambda e: ['build', 'nanocrystal', '--diameter', '1.5', '--stoichiometry', 'neutral'],
        'is not stoichiometric, as-cut or an integer',
        2,
    ),
    'cli-nanocrystal-too-small': Cli(lambda e: ['build', 'nanocrystal', '--diameter', '0.1'], 'too small'),
    'cli-import-negative-timestep': Cli(
        lambda e: ['import', 'trajectory', e.tmp / 'three.extxyz', '--timestep', '-1'],
        'time step must be a positive number of fs',
    ),
    'cli-import-missing-file': Cli(
        lambda e: ['import', 'trajectory', e.tmp / 'nowhere.xyz', '--timestep', '1'], 'does not exist', status=2
    ),
    'cli-levels-no-such-trajectory': Cli(
        lambda e: [
            'import',
            'levels',
            e.file('l.csv', 'HOMO,LUMO\n-5,-3\n'),
            '--trajectory',
            '99999999',
            '--stride',
            '1',
        ],
        'no trajectory node 99999999',
    ),
    'cli-aimd-structure-is-a-dict': Cli(
        lambda e: ['launch', 'aimd', '--structure', e.dictionary.pk], 'is a Dict, not a StructureData', status=2
    ),
    'cli-aimd-lammps-code': Cli(
        lambda e: ['launch', 'aimd', '--structure', e.structure.pk, '--no-relax', '--code', e.lammps.full_label],
        'runs lammps.raw jobs, not cp2k',
    ),
    'cli-aimd-unknown-code': Cli(
        lambda e: ['launch', 'aimd', '--structure', e.structure.pk, '--code', 'cp3k@nowhere'], 'cp3k@nowhere'
    ),
    'cli-electronic-one-frame': Cli(
        lambda e: ['launch', 'electronic', '--trajectory', e.trajectory.pk, '--stride-fs', '100', '--window-fs', '100'],
        'keeps 1 frame(s)',
    ),
    'cli-reproduce-study-b-unknown-recipe-key': Cli(
        lambda e: reproduce_b(e, '{"lattice": {"nanocrystal": {"diameterr": 40.0}}}'),
        'unknown nanocrystal recipe key(s) diameterr',
    ),
    'cli-reproduce-study-b-negative-diameter': Cli(
        lambda e: reproduce_b(e, '{"lifetimes": {"nanocrystal": {"diameter": -30.0}}}'),
        'nanocrystal diameter must be a positive number',
    ),
    'cli-reproduce-study-b-negative-nve-steps': Cli(
        lambda e: reproduce_b(e, '{"lattice": {"overrides": {"md": {"nve_steps": -1}}}}'),
        'lattice: invalid settings: nve_steps must be a non-negative integer',
    ),
    'cli-reproduce-study-b-part-without-its-stages': Cli(
        lambda e: reproduce_b(e, '{"lifetimes": {"overrides": {"stages": ["msd"]}}}'),
        'lifetimes: the phonons stages must include lifetimes, modes',
    ),
    'cli-reproduce-study-b-unknown-part': Cli(
        lambda e: reproduce_b(e, '{"lattices": {}}'), 'unknown override(s) lattices'
    ),
    'cli-reproduce-study-b-overrides-not-json': Cli(
        lambda e: reproduce_b(e, '{lattice:'), "Invalid value for '--overrides': not JSON", status=2
    ),
    'cli-ranking-indices-not-integers': Cli(
        lambda e: ['launch', 'ligand-ranking', '--composition', 'se-rich', '--arrangements', '0,x'],
        'expected comma-separated integers',
        status=2,
    ),
    'cli-setup-config-missing-hostname': Cli(
        lambda e: ['setup', '--computer-config', e.config(hostname=None)], 'missing key(s) hostname'
    ),
    'cli-setup-config-relative-code': Cli(
        lambda e: ['setup', '--computer-config', e.config(codes={'cp2k': 'cp2k'})], 'code paths must be absolute'
    ),
    'cli-setup-config-unknown-transport-option': Cli(
        lambda e: ['setup', '--computer-config', e.config(transport={'user': 'alice'})],
        'invalid transport options user for core.ssh',
    ),
    'cli-setup-computer-and-config': Cli(
        lambda e: ['setup', '--computer', 'slurm', '--computer-config', e.config()],
        'give --computer or --computer-config, not both',
        status=2,
    ),
    # ---------------------------------------------------------------------------------- builders, structures
    'builder-unknown-protocol': Raises(
        lambda e: ClusterEnergyWorkChain.get_builder_from_protocol(e.cp2k, e.structure, 'ultra'),
        "unknown protocol 'ultra'",
    ),
    'builder-misspelt-override': Raises(lambda e: aimd(e, segment_step=5), r'unknown override\(s\) segment_step'),
    'builder-ranking-no-arrangements': Raises(
        lambda e: LigandRankingWorkChain.get_builder_from_protocol(e.cp2k, 'se-rich', []),
        'at least one ligand arrangement',
    ),
    'builder-ranking-repeated-arrangements': Raises(
        lambda e: LigandRankingWorkChain.get_builder_from_protocol(e.cp2k, 'se-rich', [1, 1]), 'indices repeat'
    ),
    'builder-unknown-composition': Raises(
        lambda e: LigandRankingWorkChain.get_builder_from_protocol(e.cp2k, 'zn-rich'),
        "unknown cluster composition 'zn-rich'",
    ),
    'builder-electronic-given-a-structure': Raises(
        lambda e: ElectronicWorkChain.get_builder_from_protocol(e.cp2k, e.structure, 'fast'),
        'is not of the right type',
        ValueError,
    ),
    'builder-unknown-force-field': Raises(
        lambda e: phonons(e, force_field='lj_nowhere'), "unknown force field 'lj_nowhere'"
    ),
    'structure-charged-cluster': Raises(
        lambda e: build_magic_cluster('cd-rich', n_ligands=20), 'carries a formal charge'
    ),
    'structure-negative-shell': Raises(
        lambda e: nanocrystal_structure(diameter=15.0, shell_monolayers=-1), 'shell_monolayers must be >= 0'
    ),
    'structure-unknown-lattice': Raises(
        lambda e: nanocrystal_structure(diameter=15.0, lattice='rocksalt'), "unknown lattice 'rocksalt'"
    ),
    # ---------------------------------------------------------------------------------------------- importers
    'import-unknown-format': Raises(
        lambda e: import_trajectory(e.tmp / 'three.extxyz', 1.0, fmt='pdb'), "unknown trajectory format 'pdb'"
    ),
    'import-velocity-file-as-positions': Raises(
        lambda e: import_trajectory(e.file('qd-vel-1.xyz', cp2k_text(['Cd'], np.zeros((2, 1, 3)), [0, 1])), 0.5),
        'is a CP2K velocity file',
    ),
    'import-corrupt-gzip': Raises(lambda e: import_trajectory(cut_gzip(e.dir / 'cut.extxyz.gz'), 1.0), 'cut.extxyz.gz'),
    'import-nan-timestep': Raises(
        lambda e: import_trajectory(e.tmp / 'three.extxyz', float('nan')), 'time step must be a positive number of fs'
    ),
    'levels-on-a-structure': Raises(
        lambda e: import_levels(e.file('l.csv', 'HOMO,LUMO\n-5,-3\n'), e.structure, 1),
        'is a StructureData, not a TrajectoryData',
    ),
    'levels-more-rows-than-frames': Raises(
        lambda e: import_levels(e.file('l.csv', 'HOMO,LUMO\n' + '-5,-3\n' * 4), e.trajectory, 1),
        'not in the trajectory',
    ),
    # ----------------------------------------------------------------------------- workchain input validators
    'aimd-no-production-stage': Raises(
        lambda e: run_get_node(
            aimd(e, stages=[{'name': 'heating', 'ensemble': 'NVT', 'temperature': 300.0, 'steps': 5}])
        ),
        'named "production"',
        ValueError,
    ),
    'aimd-zero-segment-steps': Raises(
        lambda e: run_get_node(aimd(e, segment_steps=0)), 'segment_steps must be positive', ValueError
    ),
    'aimd-lammps-code': Raises(
        lambda e: run_get_node(aimd(e, code=e.lammps)), 'runs lammps.raw jobs, not cp2k', ValueError
    ),
    'cluster-energy-python-code': Raises(
        lambda e: run_get_node(ClusterEnergyWorkChain.get_builder_from_protocol(e.python, e.structure, 'fast')),
        'runs qdots.overlaps jobs, not cp2k',
        ValueError,
    ),
    'electronic-zero-chunk': Raises(
        lambda e: run_get_node(
            ElectronicWorkChain.get_builder_from_protocol(e.cp2k, e.trajectory, 'fast', {'chunk_frames': 0})
        ),
        'chunk_frames must be positive',
        ValueError,
    ),
    'analysis-too-few-frames': Raises(
        lambda e: run_get_node(AimdAnalysisWorkChain, trajectory=e.trajectory),
        'the analysis needs at least',
        ValueError,
    ),
    'namd-short-chunks': Raises(
        lambda e: run_get_node(
            NamdWorkChain.get_builder_from_protocol(e.cp2k, e.python, e.trajectory, 'fast', {'chunk_frames': 2})
        ),
        'chunk_frames must be at least 3',
        ValueError,
    ),
    'phonons-three-pdf-temperatures': Raises(
        lambda e: run_get_node(phonons(e, pdf={'temperatures': [300.0, 314.0, 330.0]})),
        'exactly 2 temperatures',
        ValueError,
    ),
}


CATALOGUE = {
    **CASES,
    **LAUNCH_CASES,
    **{f'import-{name}': case for name, case in {**FILE_CASES, **SPECIFIC}.items()},
}


@pytest.fixture
def launch_refused(monkeypatch):
    """A case that reaches ``launch_process`` fails at once instead of running a workchain."""

    def reached(*_args, **_kwargs):
        raise AssertionError('the input reached launch_process: it was not refused')

    monkeypatch.setattr('aiida_qdots.cli.launch.launch_process', reached)


def _import_args(env: Env, case: BadFile) -> list:
    content = case.content(env)
    path = env.folder(case.name, content) if isinstance(content, dict) else env.file(case.name, content)
    return ['import', case.command, path, *case.options(env)]


def test_the_catalogue_covers_every_door():
    """At least 100 generated bad inputs; every import subcommand and every launch command is tried."""
    import_commands = {case.command for case in CATALOGUE.values() if isinstance(case, BadFile)}
    launched = {name.split('-')[1] for name in LAUNCH_CASES}
    assert len(CATALOGUE) >= 100 and len(FILE_CASES) + len(SPECIFIC) >= 100
    assert import_commands == set(cli.commands['import'].commands)
    assert {'aimd', 'electronic', 'namd', 'phonons', 'ued', 'study', 'lattice', 'ranking'} <= launched
    assert len(launched) >= len(cli.commands['launch'].commands)


def test_the_robustness_page_counts_the_catalogue():
    """docs/robustness.md states the catalogue's size, and its table of groups adds up to it (launch cases apart),
    so that page and catalogue cannot drift apart."""
    import pathlib
    import re

    page = (pathlib.Path(__file__).resolve().parents[1] / 'docs' / 'robustness.md').read_text(encoding='utf-8')
    assert f'{len(CATALOGUE)} cases in one parametrised test' in page
    table = page.split('| group | cases | ids |')[1].split('\n\n')[0]
    groups = dict(re.findall(r'^\| ([^|]+?) \| (\d+) \|', table, re.M))
    assert int(groups['launch']) == len(LAUNCH_CASES)
    assert sum(map(int, groups.values())) == len(CATALOGUE), groups


@pytest.mark.parametrize('case', CATALOGUE.values(), ids=CATALOGUE.keys())
def test_bad_input_is_refused_and_database_unchanged(env, tmp_path, launch_refused, case):
    env.dir = tmp_path
    count, fingerprint = node_count(), profile_fingerprint()
    if isinstance(case, Raises):
        with pytest.raises(case.error, match=case.message):
            case.action(env)
    else:
        file_case = isinstance(case, BadFile)
        args = _import_args(env, case) if file_case else case.args(env)
        result = CliRunner().invoke(cli, [str(arg) for arg in args])
        status = case.status
        assert result.exit_code == status, result.output
        assert isinstance(result.exception, SystemExit), 'a traceback instead of a message'
        errors = [line for line in result.output.splitlines() if line.startswith('Error:')]
        assert len(errors) == 1, result.output
        if status == 1:
            assert result.output.strip() == errors[0], 'more than the one line'
        if file_case and status == 1:
            assert (case.named or case.name) in errors[0], 'the message does not name the file'
            assert '[rule: ' in errors[0], 'the message does not name the rule'
        assert case.message in ' '.join(result.output.split()), result.output
    assert node_count() == count
    assert profile_fingerprint() == fingerprint
