"""Trajectory and orbital-level readers (pure Python): real Cd28Se17Cl22 data and small files in each format."""

import gzip
import hashlib
import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from trajectory_files import CELL, SYMBOLS, cp2k_text, extxyz_text, frames, poscar_text, write, xdatcar_text

from aiida_qdots.common.errors import QdotsInputError, TrajectoryFormatError
from aiida_qdots.common.units import AU_TIME_FS, BOHR_ANGSTROM
from aiida_qdots.readers.levels import levels_frame_indices, parse_levels_csv
from aiida_qdots.readers.trajectory import check_frame_times, detect_format, read_trajectory

EXTXYZ = 'cl_aimd_frames_1-15000.extxyz.gz'


@pytest.fixture(scope='module')
def real(shared_data_dir):
    return read_trajectory(shared_data_dir / EXTXYZ)


def first_frame_from_text(path):
    """Symbols and positions of the first frame, straight from the file text."""
    with gzip.open(path, 'rt') as handle:
        n = int(handle.readline())
        handle.readline()
        rows = [handle.readline().split() for _ in range(n)]
    return [r[0] for r in rows], np.array([[float(x) for x in r[1:4]] for r in rows])


# ------------------------------------------------------------------------------------------- real data


def test_real_extxyz(real, shared_data_dir):
    path = shared_data_dir / EXTXYZ
    assert real.fmt == 'extxyz'
    assert real.positions.shape == (15000, 67, 3)
    assert real.positions.dtype == np.float64
    assert Counter(real.symbols) == {'Cd': 28, 'Se': 17, 'Cl': 22}
    symbols, first = first_frame_from_text(path)
    assert real.symbols == symbols
    np.testing.assert_array_equal(real.positions[0], first)
    assert real.frame_labels[:3] == ['st1', 'st2', 'st3'] and real.frame_labels[-1] == 'st15000'
    assert real.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert real.pbc == (False, False, False)
    np.testing.assert_allclose(real.cells[123], np.diag([22.0, 22.0, 22.0]))
    assert real.velocities is None
    # an AIMD trajectory at 300 K: atoms move by a fraction of an angstrom between frames 1 fs apart
    assert np.abs(np.diff(real.positions[:100], axis=0)).max() < 0.2


def test_real_extxyz_time_and_memory(shared_data_dir):
    """15 000 frames x 67 atoms in well under 30 s and 1 GiB (peak RSS of a fresh interpreter: VmHWM, since
    getrusage's maxrss carries the forking parent's peak across exec)."""
    code = (
        'import json, re, time\n'
        'from aiida_qdots.readers.trajectory import read_trajectory\n'
        't = time.perf_counter()\n'
        f'p = read_trajectory({str(shared_data_dir / EXTXYZ)!r})\n'
        'peak = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))\n'
        'print(json.dumps({"seconds": time.perf_counter() - t, "frames": p.n_frames, "rss_mib": peak / 1024}))\n'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(out.stdout)
    assert result['frames'] == 15000
    assert result['seconds'] < 30
    assert result['rss_mib'] < 1024


# ----------------------------------------------------------------------------------------------- extxyz


def test_extxyz_plain_gz_and_extra_columns(tmp_path):
    pos = frames(6)
    plain = write(tmp_path / 'traj.extxyz', extxyz_text(pos))
    packed = tmp_path / 'traj.xyz.gz'
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        parsed = read_trajectory(path)
        assert parsed.symbols == SYMBOLS
        np.testing.assert_allclose(parsed.positions, pos, atol=1e-12)
        np.testing.assert_allclose(parsed.cells, np.broadcast_to(CELL, (6, 3, 3)))
        assert parsed.frame_labels == [f'st{k}' for k in range(1, 7)]
    assert read_trajectory(packed).sha256 == hashlib.sha256(packed.read_bytes()).hexdigest()
    # extra per-atom columns are skipped; plain XYZ (no Properties) works; trailing blank lines are fine
    text = '2\nProperties=species:S:1:forces:R:3:pos:R:3 energy=-1.0\nH 9 9 9 0.0 0.1 0.2\nH 9 9 9 0.7 0.8 0.9\n'
    parsed = read_trajectory(write(tmp_path / 'f.extxyz', text + '\n\n'))
    np.testing.assert_allclose(parsed.positions[0], [[0.0, 0.1, 0.2], [0.7, 0.8, 0.9]])
    assert parsed.cells is None and parsed.frame_labels is None
    parsed = read_trajectory(write(tmp_path / 'p.xyz', '1\nwater?\nO 1 2 3\r\n1\n\nO 1 2 4\n'))
    np.testing.assert_allclose(parsed.positions[:, 0, 2], [3, 4])


def three_frames(frame: int | None = None, old: str = '', new: str = '') -> str:
    """Three frames of three atoms; frame k starts on line 5k + 1, its atoms are on lines 5k + 3 .. 5k + 5."""
    blocks = []
    for k in range(3):
        block = (
            f'3\nLattice="9 0 0 0 9 0 0 0 9" pbc="F F F" source_frame=st{k + 1}\n'
            f'Cd {k}.5 1.0 1.0\nCd 2.0 2.0 2.0\nSe 3.{k} 3.0 3.0\n'
        )
        blocks.append(block.replace(old, new, 1) if k == frame else block)
    return ''.join(blocks)


@pytest.mark.parametrize(
    'frame, old, new, message',
    [
        (1, 'Cd 1.5', 'Cd 1.5.0', r'frame 1, line 8: column 2: \'1.5.0\' is not a finite number'),
        (1, 'Cd 1.5', 'Cd nan', r'frame 1, line 8: column 2: \'nan\' is not a finite number'),
        (0, 'Se 3.0 3.0 3.0', 'Se 3.0 3.0', r'frame 0, line 5: expected 4 columns, got 3'),
        (2, 'Se 3.2', 'Cl 3.2', r'frame 2, line 15: species changed: atom 2 is Cl, in frame 0 it is Se'),
        (1, '3\n', '2\n', r'frame 1, line 6: frame has 2 atoms, frame 0 has 3'),
        (1, '3\n', 'three\n', r'frame 1, line 6: expected the atom count, got \'three\''),
        (2, 'Lattice="9 0 0 0 9 0 0 0 9" ', '', r'frame 2: no Lattice on this frame, while frame 0 has one'),
        (1, 'source_frame=st2', '', r'frame 1: no source_frame= on this frame'),
        (0, 'pbc=', 'Properties=species:S:1:velo:R:3 pbc=', r'frame 0, line 2: Properties=.* lacks species:S:1 or'),
        (2, '9 0 0 0 9"', '9 0 0 0"', r'frame 2, line 12: Lattice=.* is not 9 numbers'),
        (1, 'pbc="F F F"', 'pbc="T T T"', r'frame 1: pbc \(True, True, True\) differs from frame 0'),
    ],
)
def test_extxyz_errors_name_file_frame_line(tmp_path, frame, old, new, message):
    path = write(tmp_path / 'f.extxyz', three_frames(frame, old, new))
    with pytest.raises(TrajectoryFormatError, match=f'^f.extxyz, {message}'):
        read_trajectory(path)


def test_extxyz_truncated_and_empty(tmp_path):
    text = three_frames()
    path = write(tmp_path / 'f.extxyz', text[: text.index('Cd 2.0 2.0 2.0', text.index('Cd 2.5'))])
    with pytest.raises(
        TrajectoryFormatError,
        match=r'^f.extxyz, frame 2, line 14: file ends inside the frame: '
        r'expected 3 atom lines, found 1',
    ):
        read_trajectory(path)
    with pytest.raises(TrajectoryFormatError, match=r'^e.extxyz: file is empty'):
        read_trajectory(write(tmp_path / 'e.extxyz', ''))
    (tmp_path / 'e.xyz.gz').write_bytes(gzip.compress(b'\n'))
    with pytest.raises(TrajectoryFormatError, match=r'^e.xyz.gz: file is empty'):
        read_trajectory(tmp_path / 'e.xyz.gz')
    (tmp_path / 'bad.xyz.gz').write_bytes(gzip.compress(text.encode())[:-30])
    with pytest.raises(TrajectoryFormatError, match=r'^bad.xyz.gz: cannot read the file after line \d+'):
        read_trajectory(tmp_path / 'bad.xyz.gz')


# ------------------------------------------------------------------------------------------ POSCAR folder


def write_poscar_folder(folder, positions, symbols=SYMBOLS, cartesian=False):
    folder.mkdir()
    for k, pos in enumerate(positions):
        write(folder / f'st{k + 1}.vasp', poscar_text(symbols, CELL, pos, cartesian=cartesian, comment=f'st{k + 1}'))
    return folder


@pytest.mark.parametrize('cartesian', [False, True])
def test_poscar_folder_natural_order(tmp_path, cartesian):
    pos = frames(12)
    folder = write_poscar_folder(tmp_path / 'frames', pos, cartesian=cartesian)
    (folder / 'notes.txt').write_text('not a frame')
    parsed = read_trajectory(folder)
    assert parsed.fmt == 'poscar-folder' and detect_format(folder) == 'poscar-folder'
    assert parsed.frame_labels == [f'st{k}' for k in range(1, 13)]  # st2 before st10
    np.testing.assert_allclose(parsed.positions, pos, atol=1e-8)
    np.testing.assert_allclose(parsed.cells[0], CELL)
    assert parsed.symbols == SYMBOLS and parsed.pbc == (True, True, True)
    manifest = ''.join(
        f'{hashlib.sha256((folder / f"st{k}.vasp").read_bytes()).hexdigest()}  st{k}.vasp\n' for k in range(1, 13)
    )
    assert parsed.sha256 == hashlib.sha256(manifest.encode()).hexdigest()


def test_poscar_scale_and_selective_dynamics(tmp_path):
    folder = tmp_path / 'f'
    folder.mkdir()
    text = poscar_text(['Cd', 'Se'], CELL / 2, np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]), cartesian=True, scale=2.0)
    text = text.replace('Cartesian', 'Selective dynamics\nCartesian').rstrip('\n') + ' T T F\n'
    write(folder / 'POSCAR_1', text)
    parsed = read_trajectory(folder)
    np.testing.assert_allclose(parsed.cells[0], CELL)
    np.testing.assert_allclose(parsed.positions[0], [[2.0, 2.0, 2.0], [4.0, 4.0, 4.0]])


def test_poscar_folder_errors(tmp_path):
    pos = frames(4)
    folder = write_poscar_folder(tmp_path / 'a', pos)
    write(folder / 'st3.vasp', poscar_text(['Cd', 'Cd', 'Cl', 'Se'], CELL, pos[2]))
    with pytest.raises(TrajectoryFormatError, match=r'^st3.vasp, frame 2: species changed: atom 2 is Cl, in frame 0 '):
        read_trajectory(folder)
    write(folder / 'st3.vasp', poscar_text(SYMBOLS[:3], CELL, pos[2, :3]))
    with pytest.raises(TrajectoryFormatError, match=r'^st3.vasp, frame 2: frame has 3 atoms, frame 0 \(st1.vasp\) '):
        read_trajectory(folder)
    lines = poscar_text(SYMBOLS, CELL, pos[2]).splitlines()
    lines[9] = '0.1 0.2 O.3'
    write(folder / 'st3.vasp', '\n'.join(lines))
    with pytest.raises(TrajectoryFormatError, match=r"^st3.vasp, frame 2, line 10: column 3: 'O.3' is not a finite"):
        read_trajectory(folder)
    write(folder / 'st3.vasp', '\n'.join(lines[:9]))
    with pytest.raises(TrajectoryFormatError, match=r'^st3.vasp, frame 2, line 10: file ends inside the coordinates'):
        read_trajectory(folder)
    lines = poscar_text(SYMBOLS, CELL, pos[2]).splitlines()
    write(folder / 'st3.vasp', '\n'.join(lines[:5] + lines[6:]))
    with pytest.raises(TrajectoryFormatError, match=r'^st3.vasp, frame 2, line 6: no species-names line \(VASP 4'):
        read_trajectory(folder)
    write(folder / 'st3.vasp', '')
    with pytest.raises(TrajectoryFormatError, match=r'^st3.vasp, frame 2: file is empty'):
        read_trajectory(folder)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(TrajectoryFormatError, match=r'^empty: no POSCAR frames'):
        read_trajectory(tmp_path / 'empty')


# ------------------------------------------------------------------------------------------------ XDATCAR


@pytest.mark.parametrize('variable, cartesian', [(False, False), (True, False), (False, True), (True, True)])
def test_xdatcar(tmp_path, variable, cartesian):
    pos = frames(5)
    cells = np.stack([CELL * (1 + 0.01 * k if variable else 1.0) for k in range(5)])
    path = write(tmp_path / 'XDATCAR', xdatcar_text(SYMBOLS, cells, pos, variable=variable, cartesian=cartesian))
    parsed = read_trajectory(path)
    assert parsed.fmt == 'xdatcar' and parsed.symbols == SYMBOLS
    np.testing.assert_allclose(parsed.positions, pos, atol=1e-6)
    np.testing.assert_allclose(parsed.cells, cells, atol=1e-6)
    assert parsed.steps.tolist() == [1, 2, 3, 4, 5]


def test_xdatcar_errors(tmp_path):
    pos = frames(3)
    text = xdatcar_text(SYMBOLS, np.stack([CELL] * 3), pos)
    lines = text.splitlines()  # header 7 lines, then 5 lines per configuration
    bad = [*lines[:14], '  0.1 0.2', *lines[15:]]
    with pytest.raises(TrajectoryFormatError, match=r'^XDATCAR, frame 1, line 15: expected 3 coordinates'):
        read_trajectory(write(tmp_path / 'XDATCAR', '\n'.join(bad)))
    bad = [*lines[:12], '  0.1 0.2 0.3', *lines[12:]]
    with pytest.raises(TrajectoryFormatError, match=r'^XDATCAR, frame 0, line 13: more coordinate lines than the 4'):
        read_trajectory(write(tmp_path / 'XDATCAR', '\n'.join(bad)))
    with pytest.raises(TrajectoryFormatError, match=r'^XDATCAR, frame 2, line 20: file ends inside the coordinates'):
        read_trajectory(write(tmp_path / 'XDATCAR', '\n'.join(lines[:-3])))
    lines = xdatcar_text(SYMBOLS, np.stack([CELL] * 3), pos, variable=True).splitlines()
    assert lines[18].split() == ['2', '1', '1']  # counts line of the second header (line 19)
    lines[18] = '   2   2   1'
    with pytest.raises(TrajectoryFormatError, match=r'^XDATCAR, frame 1, line 19: species/counts changed'):
        read_trajectory(write(tmp_path / 'XDATCAR', '\n'.join(lines)))
    with pytest.raises(TrajectoryFormatError, match=r'^XDATCAR: file is empty'):
        read_trajectory(write(tmp_path / 'XDATCAR', '\n\n'))


# --------------------------------------------------------------------------------------------------- CP2K


def write_cp2k(folder, n_frames=4, vel_frames=None, vel_steps=None):
    pos = frames(n_frames)
    vel = 1e-4 * frames(n_frames, seed=3)
    steps = [10 * k for k in range(n_frames)]
    write(folder / 'qd-pos-1.xyz', cp2k_text(SYMBOLS, pos, steps))
    if vel_frames is not False:
        n = n_frames if vel_frames is None else vel_frames
        write(folder / 'qd-vel-1.xyz', cp2k_text(SYMBOLS, vel[:n], (vel_steps or steps)[:n]))
    return pos, vel


def test_cp2k_positions_and_velocities(tmp_path):
    pos, vel = write_cp2k(tmp_path)
    path = tmp_path / 'qd-pos-1.xyz'
    assert detect_format(path) == 'cp2k'
    parsed = read_trajectory(path)  # picks up qd-vel-1.xyz beside it
    assert parsed.fmt == 'cp2k' and parsed.symbols == SYMBOLS
    np.testing.assert_allclose(parsed.positions, pos, atol=1e-9)
    np.testing.assert_allclose(parsed.velocities, np.round(vel, 10) * BOHR_ANGSTROM / AU_TIME_FS, rtol=1e-12)
    assert parsed.steps.tolist() == [0, 10, 20, 30]
    np.testing.assert_allclose(parsed.times_fs, [0.0, 5.0, 10.0, 15.0])
    assert parsed.velocity_source.name == 'qd-vel-1.xyz'
    assert parsed.velocity_sha256 == hashlib.sha256((tmp_path / 'qd-vel-1.xyz').read_bytes()).hexdigest()
    check_frame_times(parsed, 5.0)
    with pytest.raises(
        QdotsInputError,
        match=r'qd-pos-1.xyz: frame 1 is at 5 fs and frame 0 at 0 fs \(5 fs apart\), '
        r'but the time step is 0.5 fs',
    ):
        check_frame_times(parsed, 0.5)
    (tmp_path / 'qd-vel-1.xyz').unlink()
    assert read_trajectory(path).velocities is None


def test_cp2k_errors(tmp_path):
    write_cp2k(tmp_path, vel_frames=3)
    path = tmp_path / 'qd-pos-1.xyz'
    with pytest.raises(TrajectoryFormatError, match=r'^qd-vel-1.xyz: velocity file has 3 frames, qd-pos-1.xyz has 4'):
        read_trajectory(path)
    write_cp2k(tmp_path, vel_steps=[0, 10, 25, 30])
    with pytest.raises(TrajectoryFormatError, match=r'^qd-vel-1.xyz, frame 2: velocity step 25 does not match step 20'):
        read_trajectory(path)
    write_cp2k(tmp_path)
    text = (tmp_path / 'qd-vel-1.xyz').read_text().replace('Se', 'Cl')
    write(tmp_path / 'qd-vel-1.xyz', text)
    with pytest.raises(TrajectoryFormatError, match=r'^qd-vel-1.xyz, frame 0, line 5: species changed: atom 2 is Cl'):
        read_trajectory(path)
    write(tmp_path / 'qd-pos-1.xyz', (tmp_path / 'qd-pos-1.xyz').read_text().replace(' i =       10', ' j =       10'))
    with pytest.raises(TrajectoryFormatError, match=r'^qd-pos-1.xyz, frame 1, line 8: comment .* is not CP2K'):
        read_trajectory(path, velocity_path=None)
    with pytest.raises(QdotsInputError, match='CP2K velocity file'):
        read_trajectory(tmp_path / 'qd-vel-1.xyz')


def test_format_detection_and_options(tmp_path):
    assert detect_format(tmp_path / 'a.extxyz.gz') == 'extxyz'
    assert detect_format(tmp_path / 'run-XDATCAR') == 'xdatcar'
    assert detect_format(tmp_path / 'md-pos-1.xyz.gz') == 'cp2k'
    with pytest.raises(QdotsInputError, match=r'cannot tell the trajectory format of a.dat; give one of: extxyz'):
        detect_format(tmp_path / 'a.dat')
    path = write(tmp_path / 'a.dat', extxyz_text(frames(2)))
    assert read_trajectory(path, fmt='xyz').n_frames == 2
    with pytest.raises(QdotsInputError, match="unknown trajectory format 'pdb'"):
        read_trajectory(path, fmt='pdb')
    with pytest.raises(QdotsInputError, match='only read with the cp2k format'):
        read_trajectory(path, fmt='extxyz', velocity_path=path)
    with pytest.raises(QdotsInputError, match='no such file or folder'):
        read_trajectory(tmp_path / 'missing.xyz')


# ----------------------------------------------------------------------------------------- orbital levels

HEADER = 'Files,HOMO (eV),LUMO (eV),LUMO+1 (eV),Bandgap (eV),LUMO-lumo+1 gap (eV)\n'


def levels_csv(numbers, homo=-5.0, lumo=-3.4, lumo1=-2.9):
    return HEADER + ''.join(f'st{n},{homo},{lumo},{lumo1},{lumo - homo},{lumo1 - lumo}\n' for n in numbers)


def test_real_levels_csvs(shared_data_dir):
    first = parse_levels_csv((shared_data_dir / 'Cl_QD_elec_1-10k.csv').read_bytes(), 'a.csv', stride=2)
    assert first.n_rows == 5000 and first.first_frame == 1
    assert first.frame_numbers[:3].tolist() == [1, 3, 5] and first.frame_labels[-1] == 'st9999'
    assert sorted(first.energies) == ['gap', 'homo', 'lumo', 'lumo_lumo_plus1_gap', 'lumo_plus1']
    assert first.energies['homo'][0] == -5.084968 and first.energies['lumo_plus1'][0] == -2.915431
    assert first.columns['gap'] == 'Bandgap (eV)' and first.gap_from_csv
    np.testing.assert_array_equal(levels_frame_indices(first, 15000)[:3], [0, 2, 4])
    second = parse_levels_csv((shared_data_dir / 'Cl_QD_elec_10k-15k_step_10.csv').read_bytes(), 'b.csv', 10, 10001)
    assert second.n_rows == 500 and second.frame_numbers[[0, -1]].tolist() == [10001, 14991]
    labels = [f'st{k}' for k in range(1, 15001)]
    np.testing.assert_array_equal(levels_frame_indices(second, 15000, labels)[[0, -1]], [10000, 14990])


def test_levels_without_labels_or_gap():
    parsed = parse_levels_csv(b'HOMO,LUMO\n-5.0,-3.0\n-5.1,-3.2\n', 'x.csv', stride=5, first_frame=11)
    np.testing.assert_allclose(parsed.energies['gap'], [2.0, 1.9])
    assert not parsed.gap_from_csv and parsed.frame_labels is None
    assert parsed.frame_numbers.tolist() == [11, 16]
    assert levels_frame_indices(parsed, 16).tolist() == [10, 15]
    with pytest.raises(QdotsInputError, match=r'x.csv: row 2: frame 16 is beyond the trajectory, which has 15 frames'):
        levels_frame_indices(parsed, 15)


@pytest.mark.parametrize(
    'text, stride, first, message',
    [
        ('Files,HOMO (eV),Bandgap (eV)\nst1,-5,2\n', 2, None, r'required column\(s\) LUMO not found'),
        (
            levels_csv([1, 3, 5]).replace('-3.4', 'abc', 1),
            2,
            None,
            r"row 1 \(line 2\), column 'LUMO \(eV\)': 'abc' is not a number",
        ),
        (
            levels_csv([1, 3, 5]).replace('-5.0', 'NaN', 1),
            2,
            None,
            r"row 1 \(line 2\), column 'HOMO \(eV\)': NaN is not a finite energy",
        ),
        (levels_csv([1, 3, 5]).replace('-5.0', '', 1), 2, None, r"row 1 \(line 2\), column 'HOMO \(eV\)': empty value"),
        (
            levels_csv([1, 3]) + levels_csv([5], homo=-3.0, lumo=-3.5).split('\n', 1)[1],
            2,
            None,
            r"row 3 \(line 4\), column 'LUMO \(eV\)': LUMO -3.5 eV is not above HOMO -3 eV",
        ),
        (
            levels_csv([1, 3, 6, 8]),  # missing frames are legal (st7 after st3), frames off the stride grid are not
            2,
            None,
            r"row 3 \(line 4\), column 'Files': frame 'st6' follows 'st3', but with stride 2 it should be 'st5'",
        ),
        (levels_csv([1, 3, 3]), 2, None, r"row 3: frame label 'st3' duplicates 'st3' of row 2"),
        (levels_csv([1, 5, 3]), 2, None, r"row 3: frame label 'st3' comes after 'st5'"),
        (levels_csv([1, 3]), 2, 10001, r"row 1, column 'Files': first frame is 'st1' but first_frame=10001"),
        (levels_csv([1, 3]).replace('st3', 'last'), 2, None, r"row 2 \(line 3\), column 'Files': label 'last' does"),
        (levels_csv([1, 3]).replace('1.6', '1.7', 1), 2, None, r"row 1 \(line 2\), column 'Bandgap \(eV\)': 1.7 eV"),
        (levels_csv([1, 3]).replace('(eV),LUMO (eV)', '(Ha),LUMO (eV)'), 2, None, r"'HOMO \(Ha\)' is in Ha"),
        (levels_csv([1, 3]) + 'st5,-5\n', 2, None, r'row 3 \(line 4\): 2 fields, the header has 6'),
        (HEADER, 2, None, r'no data rows'),
        ('', 2, None, r'x.csv: file is empty'),
        (levels_csv([1, 3]), 0, None, r'frame stride must be a positive integer, got 0'),
    ],
)
def test_levels_errors_name_row_and_column(text, stride, first, message):
    with pytest.raises(QdotsInputError, match=message):
        parse_levels_csv(text.encode(), 'x.csv', stride, first)


def test_levels_frames_outside_trajectory():
    parsed = parse_levels_csv(levels_csv([11, 13, 15]).encode(), 'x.csv', 2)
    with pytest.raises(QdotsInputError, match=r"x.csv: row 3: frame 'st15' is beyond the trajectory, which has 14"):
        levels_frame_indices(parsed, 14)
    with pytest.raises(
        QdotsInputError,
        match=r"row 3: frame 'st15' is not in the trajectory \(its 14 frames are "
        r'labelled st1 ... st14\)',
    ):
        levels_frame_indices(parsed, 14, [f'st{k}' for k in range(1, 15)])
    with pytest.raises(
        QdotsInputError,
        match=r"row 3: frame 'st15' is trajectory frame 4, the previous row frame 3: "
        r'not 2 frames apart as their labels are',
    ):
        levels_frame_indices(parsed, 5, ['st9', 'st11', 'st12', 'st13', 'st15'])
    # a missing row: the trajectory frames are as far apart as the labels
    holed = parse_levels_csv(levels_csv([11, 15]).encode(), 'x.csv', 2)
    assert levels_frame_indices(holed, 5, ['st11', 'st12', 'st13', 'st14', 'st15']).tolist() == [0, 4]
