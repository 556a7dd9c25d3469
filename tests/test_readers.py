"""The pure readers (aiida_qdots.readers) alone, without a profile: round trips through the test writers of every
trajectory format, single POSCAR files, UED tables and levels CSV edge cases."""

import json
import subprocess
import sys

import numpy as np
import pytest
from trajectory_files import CELL, SYMBOLS, cp2k_text, extxyz_text, frames, poscar_text, write, xdatcar_text

from aiida_qdots.common.errors import QdotsInputError, TrajectoryFormatError
from aiida_qdots.readers.levels import parse_levels_csv
from aiida_qdots.readers.trajectory import FORMATS, read_trajectory
from aiida_qdots.readers.ued import COLUMNS, read_ued_table
from aiida_qdots.readers.vasp import read_poscar


def test_readers_import_without_aiida():
    """Every module of aiida_qdots.readers imports in a fresh interpreter without loading aiida."""
    code = (
        'import importlib, pkgutil, sys\n'
        'import aiida_qdots.readers as package\n'
        'names = [m.name for m in pkgutil.iter_modules(package.__path__, package.__name__ + ".")]\n'
        'for name in names:\n'
        '    importlib.import_module(name)\n'
        'print(len(names), any(m == "aiida" or m.startswith("aiida.") for m in sys.modules))\n'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True, timeout=60)
    count, loaded = out.stdout.split()
    assert int(count) >= 8 and loaded == 'False'


def write_format(fmt, folder, positions):
    """``positions`` (T, N, 3) in ``fmt`` with the test writers; returns the path to read."""
    if fmt == 'extxyz':
        return write(folder / 'traj.extxyz', extxyz_text(positions))
    if fmt == 'poscar-folder':
        for k, frame in enumerate(positions):
            write(folder / f'st{k + 1}.vasp', poscar_text(SYMBOLS, CELL, frame))
        return folder
    if fmt == 'xdatcar':
        return write(folder / 'XDATCAR', xdatcar_text(SYMBOLS, np.repeat(CELL[None], len(positions), 0), positions))
    return write(folder / 'run-pos-1.xyz', cp2k_text(SYMBOLS, positions, range(0, 2 * len(positions), 2)))


@pytest.mark.parametrize('fmt', FORMATS)
def test_round_trip_every_format(tmp_path, fmt):
    positions = frames(n_frames=3)
    parsed = read_trajectory(write_format(fmt, tmp_path, positions), fmt=fmt)
    assert parsed.fmt == fmt and parsed.symbols == SYMBOLS and parsed.n_frames == 3 and parsed.n_atoms == 4
    np.testing.assert_allclose(parsed.positions, positions, atol=1e-7)
    if parsed.cells is not None:
        np.testing.assert_allclose(parsed.cells, np.repeat(CELL[None], 3, 0), atol=1e-6)
    assert len(parsed.sha256) == 64


def test_poscar_volume_scale_and_vasp4(tmp_path):
    """A negative scaling factor is the cell volume (angstrom^3); a file without species names is refused."""
    raw = np.diag([1.0, 2.0, 4.0])
    text = poscar_text(['Cd', 'Se'], raw, np.array([[0.0, 0.0, 0.0], [0.5, 1.0, 2.0]])).replace(
        '1.0000000000', '-64.0000000000', 1
    )
    symbols, positions, cell = read_poscar(write(tmp_path / 'POSCAR', text))
    assert symbols == ['Cd', 'Se']
    np.testing.assert_allclose(cell, raw * 2.0)
    np.testing.assert_allclose(positions[1], [1.0, 2.0, 4.0])
    lines = text.splitlines()
    del lines[5]
    with pytest.raises(TrajectoryFormatError, match=r'^P4, frame 0, line 6: no species-names line'):
        read_poscar(write(tmp_path / 'P4', '\n'.join(lines) + '\n'))


UED_ROWS = [
    (2.1, 400, 0.0, '100', 1.687, 1.0, 1e-3),
    (2.1, 400, 0.0, '002', 1.793, 1.0, 1e-3),
    (2.1, 400, 10.0, '100', 1.687, 0.99, 1e-3),
    (2.1, 400, 10.0, '002', 1.793, 0.98, 1e-3),
]


def ued_csv(path, rows=UED_ROWS, columns=COLUMNS):
    path.write_text(','.join(columns) + '\n' + '\n'.join(','.join(map(str, row)) for row in rows) + '\n')
    return path


def test_ued_table_csv_and_json(tmp_path):
    table = read_ued_table(ued_csv(tmp_path / 'ued.csv'))
    assert list(table.columns) == list(COLUMNS) and len(table) == 4
    assert table['peak'].tolist() == ['100', '002', '100', '002'] and table['delay_ps'].dtype == float
    records = [dict(zip(COLUMNS, row, strict=True)) for row in UED_ROWS]
    (tmp_path / 'ued.json').write_text(json.dumps(records))
    assert read_ued_table(tmp_path / 'ued.json').equals(table)


@pytest.mark.parametrize(
    'rows, columns, message',
    [
        (UED_ROWS, COLUMNS[1:], r'missing column.s. fluence_mj_cm2'),
        ([], COLUMNS, 'no data rows'),
        ([*UED_ROWS[:3], (2.1, 400, 10.0, '002', 'x', 0.98, 1e-3)], COLUMNS, "row 4, column 'q_inv_angstrom': not a"),
        ([(0, *UED_ROWS[0][1:]), *UED_ROWS[1:]], COLUMNS, "row 1, column 'fluence_mj_cm2': must be > 0"),
        ([*UED_ROWS[:2], UED_ROWS[0], UED_ROWS[3]], COLUMNS, "row 3, column 'delay_ps': duplicate"),
    ],
)
def test_bad_ued_tables(tmp_path, rows, columns, message):
    with pytest.raises(QdotsInputError, match=message):
        read_ued_table(ued_csv(tmp_path / 'bad.csv', rows, columns))


def test_ued_unreadable_files(tmp_path):
    with pytest.raises(QdotsInputError, match='no such file'):
        read_ued_table(tmp_path / 'absent.csv')
    (tmp_path / 'bad.json').write_text('[{"fluence_mj_cm2": 2.1,')
    with pytest.raises(QdotsInputError, match=r'bad.json: not a valid .json table'):
        read_ued_table(tmp_path / 'bad.json')


def test_levels_csv_units_and_byte_order_mark():
    """A UTF-8 byte-order mark is accepted; energies in another unit than eV, or non-UTF-8 bytes, are refused."""
    text = 'Files,HOMO (eV),LUMO (eV)\nst1,-5.0,-3.4\nst3,-5.1,-3.3\n'
    levels = parse_levels_csv(b'\xef\xbb\xbf' + text.encode(), 'x.csv', stride=2)
    assert levels.frame_labels == ['st1', 'st3'] and levels.columns['homo'] == 'HOMO (eV)'
    np.testing.assert_allclose(levels.energies['gap'], [1.6, 1.8])
    with pytest.raises(TrajectoryFormatError, match=r"x.csv: column 'LUMO \(meV\)' is in meV"):
        parse_levels_csv(text.replace('LUMO (eV)', 'LUMO (meV)').encode(), 'x.csv', stride=2)
    with pytest.raises(QdotsInputError, match=r'x\.csv: not a UTF-8 text file'):
        parse_levels_csv(b'\xff\xfe' + text.encode('utf-16-le'), 'x.csv', stride=2)


def test_levels_csv_with_missing_rows():
    """Missing frames leave holes in the grid of the labels; the frame numbers carry the true times."""
    text = 'Files,HOMO,LUMO\n' + ''.join(f'st{n},-5.0,-3.{n}\n' for n in (1, 3, 9, 11))
    levels = parse_levels_csv(text.encode(), 'x.csv', stride=2)
    assert levels.frame_numbers.tolist() == [1, 3, 9, 11] and levels.n_missing == 2 and levels.n_rows == 4
    with pytest.raises(TrajectoryFormatError, match="frame 'st10' follows 'st3', but with stride 2 it should be 'st5'"):
        parse_levels_csv(text.replace('st9', 'st10').encode(), 'x.csv', stride=2)
