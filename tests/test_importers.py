"""Trajectory and orbital-level import into AiiDA (Python API and `aiida-qdots import`), on the real data."""

import gzip
import hashlib
import re
import time
from collections import Counter

import numpy as np
import pytest
from aiida import orm
from click.testing import CliRunner
from trajectory_files import SYMBOLS, cp2k_text, extxyz_text, frames, write

from aiida_qdots.cli import cli
from aiida_qdots.common.errors import QdotsInputError, TrajectoryFormatError
from aiida_qdots.common.units import AU_TIME_FS, BOHR_ANGSTROM
from aiida_qdots.structures.importers import import_levels, import_trajectory

EXTXYZ = 'cl_aimd_frames_1-15000.extxyz.gz'
LEVELS_1 = 'Cl_QD_elec_1-10k.csv'
LEVELS_2 = 'Cl_QD_elec_10k-15k_step_10.csv'


def node_count() -> int:
    return orm.QueryBuilder().append(orm.Node).count()


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def printed_pk(output: str) -> int:
    match = re.search(r'PK (\d+) \(', output)
    assert match, output
    return int(match.group(1))


@pytest.fixture(scope='module')
def real_trajectory(aiida_profile, shared_data_dir):
    """The 15 000-frame Cd28Se17Cl22 trajectory imported through the Python API, with its wall time."""
    start = time.perf_counter()
    node = import_trajectory(shared_data_dir / EXTXYZ, timestep_fs=1.0, label='cd28se17cl22 aimd')
    return node, time.perf_counter() - start


@pytest.fixture
def small_trajectory(tmp_path):
    """A 20-frame labelled trajectory (st1..st20), 0.5 fs apart."""
    return import_trajectory(write(tmp_path / 'small.extxyz', extxyz_text(frames(20))), timestep_fs=0.5)


def test_import_real_trajectory(real_trajectory, shared_data_dir):
    node, seconds = real_trajectory
    path = shared_data_dir / EXTXYZ
    assert seconds < 30
    assert node.is_stored and isinstance(node, orm.TrajectoryData)
    assert node.numsteps == 15000 and node.get_positions().shape == (15000, 67, 3)
    assert Counter(node.symbols) == {'Cd': 28, 'Se': 17, 'Cl': 22}
    with gzip.open(path, 'rt') as handle:
        handle.readline()
        handle.readline()
        first = np.array([[float(x) for x in handle.readline().split()[1:]] for _ in range(67)])
    np.testing.assert_array_equal(node.get_positions()[0], first)
    attributes = node.base.attributes.all
    assert attributes['source_filename'] == EXTXYZ
    assert attributes['source_sha256'] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert attributes['source_format'] == 'extxyz'
    assert attributes['timestep_fs'] == 1.0
    assert attributes['units'] == {
        'positions': 'angstrom',
        'cells': 'angstrom',
        'velocities': 'angstrom/fs',
        'time': 'fs',
    }
    assert attributes['n_frames'] == 15000 and attributes['n_atoms'] == 67 and not attributes['has_velocities']
    assert node.label == 'cd28se17cl22 aimd'
    np.testing.assert_allclose(node.get_times()[[0, 1, -1]], [0.0, 1.0, 14999.0])
    labels = node.get_array('frame_labels')
    assert labels[0] == 'st1' and labels[-1] == 'st15000'
    assert node.get_velocities() is None
    assert tuple(node.pbc) == (False, False, False)
    np.testing.assert_allclose(node.get_cells()[0], np.diag([22.0] * 3))


def test_import_real_trajectory_cli(aiida_profile, shared_data_dir):
    start = time.perf_counter()
    result = invoke('import', 'trajectory', shared_data_dir / EXTXYZ, '--timestep', 1.0, '--label', 'via cli')
    assert time.perf_counter() - start < 30
    assert result.exit_code == 0, result.output
    assert result.output.startswith('TrajectoryData: PK ')
    node = orm.load_node(printed_pk(result.output))
    assert node.label == 'via cli' and node.numsteps == 15000 and node.get_positions().shape[1] == 67
    sha = hashlib.sha256((shared_data_dir / EXTXYZ).read_bytes()).hexdigest()
    assert node.base.attributes.get('source_sha256') == sha


def test_import_real_levels(real_trajectory, shared_data_dir):
    trajectory, _ = real_trajectory
    levels = import_levels(shared_data_dir / LEVELS_1, trajectory, stride=2)
    assert isinstance(levels, orm.ArrayData) and levels.is_stored
    assert sorted(levels.get_arraynames()) == sorted(
        ['homo', 'lumo', 'lumo_plus1', 'gap', 'lumo_lumo_plus1_gap', 'frame_index', 'time_fs', 'frame_labels']
    )
    index = levels.get_array('frame_index')
    assert index.size == 5000 and index[:3].tolist() == [0, 2, 4] and index[-1] == 9998
    np.testing.assert_allclose(levels.get_array('time_fs'), index * 1.0)
    assert levels.get_array('frame_labels')[-1] == 'st9999'
    assert levels.get_array('homo')[0] == -5.084968 and levels.get_array('lumo')[0] == -3.420679
    np.testing.assert_allclose(levels.get_array('gap'), levels.get_array('lumo') - levels.get_array('homo'), atol=1e-9)
    attributes = levels.base.attributes.all
    assert attributes['units'] == {'energy': 'eV', 'time': 'fs'}
    assert attributes['stride'] == 2 and attributes['first_frame'] == 1
    assert attributes['source_filename'] == LEVELS_1
    assert attributes['source_sha256'] == hashlib.sha256((shared_data_dir / LEVELS_1).read_bytes()).hexdigest()
    assert attributes['trajectory_uuid'] == trajectory.uuid
    # provenance: csv + trajectory (+ stride, first frame) -> calcfunction -> levels
    creator = levels.creator
    assert isinstance(creator, orm.CalcFunctionNode) and creator.process_label == 'levels_from_csv'
    inputs = {link.link_label: link.node for link in creator.base.links.get_incoming().all()}
    assert inputs['trajectory'].uuid == trajectory.uuid
    assert isinstance(inputs['csv'], orm.SinglefileData) and inputs['csv'].filename == LEVELS_1
    assert inputs['csv'].get_content('rb') == (shared_data_dir / LEVELS_1).read_bytes()
    assert inputs['stride'].value == 2

    result = invoke(
        'import',
        'levels',
        shared_data_dir / LEVELS_2,
        '--trajectory',
        trajectory.pk,
        '--stride',
        10,
        '--first-frame',
        10001,
    )
    assert result.exit_code == 0, result.output
    second = orm.load_node(printed_pk(result.output))
    index = second.get_array('frame_index')
    assert index.size == 500 and index[0] == 10000 and index[-1] == 14990 and np.all(np.diff(index) == 10)
    np.testing.assert_allclose(second.get_array('time_fs')[:2], [10000.0, 10010.0])
    assert second.base.attributes.get('first_frame') == 10001 and second.base.attributes.get('stride') == 10


def test_cp2k_import_with_velocities(aiida_profile, tmp_path):
    pos, vel = frames(4), 1e-4 * frames(4, seed=3)
    write(tmp_path / 'qd-pos-1.xyz', cp2k_text(SYMBOLS, pos, [0, 10, 20, 30], dt_fs=0.5))
    write(tmp_path / 'qd-vel-1.xyz', cp2k_text(SYMBOLS, vel, [0, 10, 20, 30], dt_fs=0.5))
    result = invoke('import', 'trajectory', tmp_path / 'qd-pos-1.xyz', '--timestep', 5)
    assert result.exit_code == 0, result.output
    node = orm.load_node(printed_pk(result.output))
    np.testing.assert_allclose(node.get_velocities(), np.round(vel, 10) * BOHR_ANGSTROM / AU_TIME_FS)
    assert node.get_stepids().tolist() == [0, 10, 20, 30]
    np.testing.assert_allclose(node.get_array('source_times_fs'), [0, 5, 10, 15])
    np.testing.assert_allclose(node.get_times(), [0, 5, 10, 15])
    attributes = node.base.attributes.all
    assert attributes['source_format'] == 'cp2k' and attributes['has_velocities']
    assert attributes['velocity_source_filename'] == 'qd-vel-1.xyz'
    assert attributes['velocity_source_sha256'] == hashlib.sha256((tmp_path / 'qd-vel-1.xyz').read_bytes()).hexdigest()


def test_poscar_folder_import_with_format_option(aiida_profile, tmp_path):
    folder = tmp_path / 'frames'
    folder.mkdir()
    for k in (1, 2, 10):
        write(folder / f'st{k}.vasp', f'st{k}\n1.0\n9 0 0\n0 9 0\n0 0 9\nCd Se\n1 1\nDirect\n0 0 0\n0.{k} 0.25 0.25\n')
    result = invoke('import', 'trajectory', folder, '--timestep', 2, '--format', 'poscar-folder')
    assert result.exit_code == 0, result.output
    node = orm.load_node(printed_pk(result.output))
    assert node.get_array('frame_labels').tolist() == ['st1', 'st2', 'st10']
    np.testing.assert_allclose(node.get_positions()[:, 1, 0], [0.9, 1.8, 0.9])
    assert tuple(node.pbc) == (True, True, True)


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize('timestep', [0, -1.0, float('nan'), 'abc'])
def test_non_positive_timestep(aiida_profile, tmp_path, timestep):
    path = write(tmp_path / 'small.extxyz', extxyz_text(frames(3)))
    before = node_count()
    with pytest.raises(QdotsInputError, match=r'time step must be a (positive )?number of fs'):
        import_trajectory(path, timestep)
    assert node_count() == before


def test_cli_errors_without_traceback(aiida_profile, tmp_path):
    path = write(tmp_path / 'small.extxyz', extxyz_text(frames(3)))
    before = node_count()
    result = CliRunner().invoke(cli, ['import', 'trajectory', str(path), '--timestep', '-0.5'])
    assert result.exit_code == 1
    assert '--timestep: time step must be a positive number of fs, got -0.5' in result.output
    assert 'Traceback' not in result.output
    text = extxyz_text(frames(3)).split('\n')
    text[8] = 'Se 1.0 2.0'
    write(path, '\n'.join(text))
    result = CliRunner().invoke(cli, ['import', 'trajectory', str(path), '--timestep', '1'])
    assert result.exit_code == 1
    assert 'Error: small.extxyz, frame 1, line 9: expected 4 columns, got 3' in result.output
    assert node_count() == before


@pytest.mark.parametrize(
    'edit, message',
    [
        (lambda lines: lines.__setitem__(6, '3'), r'frame 1, line 7: frame has 3 atoms, frame 0 has 4'),
        (lambda lines: lines.__setitem__(14, 'Cd 1.0 2.0 x'), r"frame 2, line 15: column 4: 'x' is not a finite"),
        (
            lambda lines: lines.__setitem__(11, lines[11].replace('Cl', 'Se')),
            r'frame 1, line 12: species changed: atom 3 is Se, in frame 0 it is Cl',
        ),
        (lambda lines: lines.clear(), r'file is empty'),
    ],
)
def test_bad_trajectory_stores_nothing(aiida_profile, tmp_path, edit, message):
    lines = extxyz_text(frames(3)).split('\n')  # frames of 4 atoms start on lines 1, 7, 13
    edit(lines)
    path = write(tmp_path / 'bad.extxyz', '\n'.join(lines))
    before = node_count()
    with pytest.raises(TrajectoryFormatError, match=f'^bad.extxyz, {message}' if 'frame' in message else message):
        import_trajectory(path, 1.0)
    assert node_count() == before


def test_cp2k_timestep_must_match_file(aiida_profile, tmp_path):
    write(tmp_path / 'qd-pos-1.xyz', cp2k_text(SYMBOLS, frames(3), [0, 10, 20], dt_fs=0.5))
    before = node_count()
    with pytest.raises(
        QdotsInputError,
        match=r'frame 1 is at 5 fs and frame 0 at 0 fs \(5 fs apart\), but the time '
        r'step is 1 fs',
    ):
        import_trajectory(tmp_path / 'qd-pos-1.xyz', 1.0)
    write(tmp_path / 'qd-vel-1.xyz', cp2k_text(SYMBOLS, frames(2), [0, 10], dt_fs=0.5))
    with pytest.raises(TrajectoryFormatError, match=r'qd-vel-1.xyz: velocity file has 2 frames, qd-pos-1.xyz has 3'):
        import_trajectory(tmp_path / 'qd-pos-1.xyz', 5.0)
    assert node_count() == before


def levels_text(numbers, homo=-5.0, lumo=-3.4):
    header = 'Files,HOMO (eV),LUMO (eV),LUMO+1 (eV),Bandgap (eV),LUMO-lumo+1 gap (eV)\n'
    return header + ''.join(f'st{n},{homo},{lumo},-2.9,{lumo - homo},{-2.9 - lumo}\n' for n in numbers)


@pytest.mark.parametrize(
    'text, stride, first, message',
    [
        ('Files,HOMO (eV),gap\nst1,-5.0,1.0\n', 2, None, r'required column\(s\) LUMO not found'),
        (
            levels_text([1, 3, 5]).replace('-3.4', '-3.4eV', 1),
            2,
            None,
            r"row 1 \(line 2\), column 'LUMO \(eV\)': '-3.4eV' is not a number",
        ),
        (levels_text([1, 3, 5]).replace('-3.4', 'nan', 1), 2, None, r"row 1 \(line 2\), column 'LUMO \(eV\)': nan"),
        (levels_text([1, 3]) + 'st5,-3.0,-3.5,-2.9,-0.5,0.6\n', 2, None, r'row 3 \(line 4\), .*LUMO -3.5 eV is not'),
        (levels_text([1, 3, 6]), 2, None, r"row 3 \(line 4\), column 'Files': frame 'st6' follows 'st3'"),
        (levels_text([1, 3, 3, 5]), 2, None, r"row 3: frame label 'st3' duplicates 'st3' of row 2"),
        (levels_text([1, 5, 3]), 2, None, r"row 3: frame label 'st3' .*must strictly increase"),
        (
            levels_text([1, 3, 5]),
            3,
            None,
            r"row 2 \(line 3\), column 'Files': frame 'st3' follows 'st1', but with "
            r"stride 3 it should be 'st4'",
        ),
        (levels_text([15, 17, 19, 21]), 2, None, r"row 4: frame 'st21' is not in the trajectory \(its 20 frames"),
        (levels_text([1, 3]), 2, 3, r"first frame is 'st1' but first_frame=3"),
        ('HOMO,LUMO\n-5,-3\n-5,-3\n', 5, 17, r'row 2: frame 22 is not in the trajectory'),
    ],
)
def test_bad_levels_store_nothing(small_trajectory, tmp_path, text, stride, first, message):
    path = write(tmp_path / 'levels.csv', text)
    before = node_count()
    with pytest.raises(QdotsInputError, match=message):
        import_levels(path, small_trajectory, stride, first_frame=first)
    assert node_count() == before
    result = CliRunner().invoke(
        cli,
        ['import', 'levels', str(path), '--trajectory', str(small_trajectory.pk), '--stride', str(stride)]
        + (['--first-frame', str(first)] if first else []),
    )
    assert result.exit_code == 1 and 'Traceback' not in result.output
    assert re.search(message, result.output.replace('\n', ' ')), result.output
    assert node_count() == before


def test_levels_need_a_trajectory(aiida_profile, tmp_path):
    path = write(tmp_path / 'levels.csv', levels_text([1, 3]))
    other = orm.Int(5).store()
    before = node_count()
    with pytest.raises(QdotsInputError, match=f'node {other.pk} is a Int, not a TrajectoryData'):
        import_levels(path, other.pk, 2)
    result = CliRunner().invoke(cli, ['import', 'levels', str(path), '--trajectory', '999999', '--stride', '2'])
    assert result.exit_code == 1 and 'Error: no trajectory node 999999' in result.output
    assert node_count() == before


def test_levels_on_unlabelled_trajectory(aiida_profile, tmp_path):
    write(tmp_path / 'qd-pos-1.xyz', cp2k_text(SYMBOLS, frames(10), range(10), dt_fs=0.5))
    trajectory = import_trajectory(tmp_path / 'qd-pos-1.xyz', 0.5)
    levels = import_levels(write(tmp_path / 'l.csv', 'HOMO,LUMO\n-5,-3\n-5.1,-3.1\n-5.2,-3.2\n'), trajectory, 4, 2)
    assert levels.get_array('frame_index').tolist() == [1, 5, 9]
    np.testing.assert_allclose(levels.get_array('time_fs'), [0.5, 2.5, 4.5])
    assert 'frame_labels' not in levels.get_arraynames()
    assert levels.base.attributes.get('gap_source') == 'lumo - homo'
    assert levels.base.attributes.get('frame_mapping') == 'frame number K is trajectory index K - 1'
