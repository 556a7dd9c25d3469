"""The LAMMPS readers alone: screen/log text, ``dump custom`` files and Hessian dumps, on small hand-made files."""

import subprocess
import sys

import numpy as np
import pytest

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.readers.lammps import (
    parse_dynamical_matrix,
    parse_hessian_dump,
    parse_lammps_dump,
    parse_lammps_log,
    sanitize_column,
    thermo_arrays,
)

MINIMIZE_THEN_RUN = """LAMMPS (2 Aug 2023 - Update 1)
Reading data file ...
  orthogonal box = (0 0 0) to (10 10 10)
  2 atoms
Setting up cg style minimization ...
  Unit style    : metal
WARNING: Using 'neigh_modify every 1 delay 0 check yes' setting during minimization (src/min.cpp:187)
Per MPI rank memory allocation (min/avg/max) = 4.1 | 4.1 | 4.1 Mbytes
   Step         PotEng          Fmax          Fnorm
         0  -6.5              0.5            0.7
         3  -6.75             1e-07          2e-07
Loop time of 0.00125 on 1 procs for 3 steps with 2 atoms

Minimization stats:
  Stopping criterion = energy tolerance
  Energy initial, next-to-last, final =
        -6.5              -6.74             -6.75
  Iterations, force evaluations = 3 6
  Force two-norm initial, final = 0.7 2e-07
  Force max component initial, final = 0.5 1e-07

WARNING: Using 'neigh_modify every 1 delay 0 check yes' setting during minimization (src/min.cpp:187)
Setting up Verlet run ...
Per MPI rank memory allocation (min/avg/max) = 3.0 | 3.0 | 3.0 Mbytes
   Step          Temp          PotEng
         3   300            -6.75
        13   290.5          -6.73
Loop time of 0.5 on 2 procs for 10 steps with 2 atoms

Total wall time: 0:01:02.5
"""


def test_log_minimize_then_run():
    """Two thermo blocks with different columns, the minimisation statistics, one copy of a repeated warning."""
    log = parse_lammps_log(MINIMIZE_THEN_RUN)
    assert log.version == '2 Aug 2023 - Update 1' and log.num_atoms == 2 and not log.errors
    assert log.finished and log.wall_time_seconds == pytest.approx(62.5)
    assert len(log.warnings) == 1
    minimize, run = log.blocks
    assert minimize.kind == 'minimize' and run.kind == 'run' and minimize.complete and run.complete
    assert minimize.columns == ['Step', 'PotEng', 'Fmax', 'Fnorm'] and run.columns == ['Step', 'Temp', 'PotEng']
    assert (run.num_procs, run.num_steps, run.num_atoms, run.loop_time) == (2, 10, 2, 0.5)
    assert minimize.minimization == {
        'stopping_criterion': 'energy tolerance',
        'energy_initial': -6.5,
        'energy_next_to_last': -6.74,
        'energy_final': -6.75,
        'iterations': 3,
        'force_evaluations': 6,
        'fnorm_initial': 0.7,
        'fnorm_final': 2e-7,
        'fmax_initial': 0.5,
        'fmax_final': 1e-7,
    }

    arrays, names = thermo_arrays(log.blocks)
    assert arrays['Step'].dtype == np.int64 and arrays['Step'].tolist() == [0, 3, 3, 13]
    assert arrays['block'].tolist() == [0, 0, 1, 1]
    assert np.allclose(arrays['PotEng'], [-6.5, -6.75, -6.75, -6.73])
    assert np.isnan(arrays['Temp'][:2]).all() and arrays['Temp'][2:].tolist() == [300.0, 290.5]
    assert np.isnan(arrays['Fmax'][2:]).all()
    assert names == {'Step': 'Step', 'PotEng': 'PotEng', 'Fmax': 'Fmax', 'Fnorm': 'Fnorm', 'Temp': 'Temp'}


def test_log_with_error_is_unfinished():
    text = (
        'LAMMPS (29 Sep 2021 - Update 2)\n'
        'Per MPI rank memory allocation (min/avg/max) = 3.0 | 3.0 | 3.0 Mbytes\n'
        'Step Temp PotEng \n'
        '       0          300   -259.62305 \n'
        '      10    290.12   -259.5 \n'
        'WARNING: Lost atoms in the box (src/thermo.cpp:480)\n'
        'ERROR: Lost atoms: original 128 current 127 (src/thermo.cpp:481)\n'
        'Last command: run 100\n'
    )
    log = parse_lammps_log(text)
    assert log.version == '29 Sep 2021 - Update 2'
    assert log.errors == ['ERROR: Lost atoms: original 128 current 127 (src/thermo.cpp:481) [Last command: run 100]']
    assert log.warnings == ['WARNING: Lost atoms in the box (src/thermo.cpp:480)']
    assert not log.finished and log.wall_time_seconds is None and not log.blocks[0].complete
    arrays, _ = thermo_arrays(log.blocks)
    assert arrays['Step'].tolist() == [0, 10] and np.allclose(arrays['PotEng'], [-259.62305, -259.5])


def test_sanitize_column():
    """Thermo column names become array names and Dict keys; ``block`` is reserved for the block index."""
    assert sanitize_column('c_msd[4]') == 'c_msd_4_'
    assert sanitize_column('PotEng') == 'PotEng'
    assert sanitize_column('block') == 'col_block'


def test_dump_triclinic_and_sorting():
    text = (
        'ITEM: TIME\n0.5\nITEM: TIMESTEP\n500\nITEM: NUMBER OF ATOMS\n2\n'
        'ITEM: BOX BOUNDS xy xz yz pp pp pp\n-2.0 4.0 -2.0\n0.0 3.0 0.0\n0.0 7.0 0.0\n'
        'ITEM: ATOMS id type element xu yu zu vx vy vz\n2 2 Se 1 1 1 0 0 2\n1 1 Cd 0 0 0 1000 0 0\n'
    )
    frames, units = parse_lammps_dump('ITEM: UNITS\nmetal\n' + text)
    assert units == 'metal' and len(frames) == 1
    frame = frames[0]
    assert frame.timestep == 500 and frame.time == 0.5 and frame.boundary == ['pp', 'pp', 'pp']
    assert np.allclose(frame.box, [[4.0, 0, 0], [-2.0, 3.0, 0], [0, 0, 7.0]]) and np.allclose(frame.origin, 0)
    assert frame.columns['element'].tolist() == ['Cd', 'Se'] and frame.columns['vx'].tolist() == [1000.0, 0.0]
    with pytest.raises(QdotsInputError, match='malformed dump'):
        parse_lammps_dump(text.replace('2\nITEM: BOX', 'two\nITEM: BOX'))


def test_dump_orthogonal_frames_and_repeated_timestep():
    """Shrink-wrapped box, no units/time items, and a frame written twice for one timestep kept once."""

    def frame(step: int, x: float) -> str:
        return (
            f'ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n1\nITEM: BOX BOUNDS ss ss ss\n'
            f'-1 2\n-2 3\n0 5\nITEM: ATOMS id x y z\n1 {x} 0 0\n'
        )

    frames, units = parse_lammps_dump(frame(0, 0.1) + '\n' + frame(10, 0.2) + frame(10, 0.2))
    assert units is None and [f.timestep for f in frames] == [0, 10] and frames[0].time is None
    assert frames[1].columns['x'].tolist() == [0.2] and frames[0].boundary == ['ss', 'ss', 'ss']
    assert np.allclose(frames[0].box, np.diag([3.0, 5.0, 5.0])) and np.allclose(frames[0].origin, [-1, -2, 0])
    with pytest.raises(QdotsInputError, match='unexpected line'):
        parse_lammps_dump('not a dump\n')
    with pytest.raises(QdotsInputError, match='expected 1 atom lines of 4 columns'):
        parse_lammps_dump(frame(0, 0.1).replace('1 0.1 0 0', '1 0.1 0'))


def test_dump_many_frames_match_a_line_by_line_reading():
    """The bulk conversion equals a plain per-line reading of each frame (ids shuffled, an element column, and the
    columns changing once in the file), and a short atom line is named by its frame."""
    rng = np.random.default_rng(3)
    n_atoms, expected, parts = 7, [], []
    for step in range(12):
        names = ['id', 'element', 'xu', 'yu', 'zu'] + (['vx', 'vy', 'vz'] if step < 8 else [])
        values = rng.normal(size=(n_atoms, len(names) - 2))
        ids = rng.permutation(n_atoms) + 1
        rows = [
            ' '.join([str(i), 'Se' if i % 2 else 'Cd', *(f'{v:.10g}' for v in row)])
            for i, row in zip(ids, values, strict=True)
        ]
        parts.append(
            f'ITEM: TIME\n{0.002 * step}\nITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n_atoms}\n'
            f'ITEM: BOX BOUNDS ss ss ss\n0 1\n0 1\n0 1\nITEM: ATOMS {" ".join(names)}\n' + '\n'.join(rows)
        )
        order = np.argsort(ids)
        columns = {'id': ids[order].astype(float), 'element': np.where(ids[order] % 2, 'Se', 'Cd')}
        columns.update({n: np.array([float(f'{v:.10g}') for v in values[order, k]]) for k, n in enumerate(names[2:])})
        expected.append(columns)
    text = 'ITEM: UNITS\nmetal\n' + '\n'.join(parts) + '\n'
    frames, units = parse_lammps_dump(text)
    assert units == 'metal' and [f.timestep for f in frames] == list(range(12))
    for frame, columns in zip(frames, expected, strict=True):
        assert sorted(frame.columns) == sorted(columns)
        for name, values in columns.items():
            assert np.array_equal(frame.columns[name], values), name
    broken = text.replace(parts[9].splitlines()[-1], ' '.join(parts[9].splitlines()[-1].split()[:-1]))
    with pytest.raises(QdotsInputError, match=r'frame 9\): expected 7 atom lines of 5 columns'):
        parse_lammps_dump(broken)


def harmonic_hessian_dump(hessian: np.ndarray, h: float) -> str:
    """What the finite-difference script dumps for E = x H x / 2: forces -H x at x = +-h e_k, k = 3i + a."""
    n_atoms = len(hessian) // 3
    frames = []
    for k in range(3 * n_atoms):
        for sign in (1.0, -1.0):
            forces = (-hessian[:, k] * sign * h).reshape(n_atoms, 3)
            rows = '\n'.join(f'{i + 1} {f[0]:.17g} {f[1]:.17g} {f[2]:.17g}' for i, f in enumerate(forces))
            frames.append(
                f'ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n{n_atoms}\nITEM: BOX BOUNDS ss ss ss\n'
                f'0 1\n0 1\n0 1\nITEM: ATOMS id fx fy fz\n{rows}'
            )
    return '\n'.join(frames) + '\n'


def test_hessian_dump_and_dynamical_matrix():
    """Both Hessian formats give back the Hessian of a harmonic model, in atom-id order (eV/angstrom^2)."""
    rng = np.random.default_rng(7)
    a = rng.normal(size=(6, 6))
    hessian = a @ a.T
    h = 0.005
    dump = harmonic_hessian_dump(hessian, h)
    assert np.allclose(parse_hessian_dump(dump, h), hessian, rtol=1e-12)
    half = '\n'.join(dump.splitlines()[: 6 * 11])  # 6 of the 12 frames of 2 atoms (11 lines each)
    with pytest.raises(QdotsInputError, match='6 force frames for 2 atoms; expected 6 N = 12'):
        parse_hessian_dump(half, h)
    with pytest.raises(QdotsInputError, match='not whole frames'):
        parse_hessian_dump(dump + 'extra\n', h)
    for bad in ('\n2 x ', '\n2 1 '):  # a non-number, a fifth column
        with pytest.raises(QdotsInputError, match='malformed Hessian dump'):
            parse_hessian_dump(dump.replace('\n2 ', bad, 1), h)
    with pytest.raises(QdotsInputError, match='atom lines of 4 columns'):  # a missing one
        parse_hessian_dump(dump.replace('\n2 ', '\n', 1), h)

    masses = np.array([112.41, 78.971])
    dof = np.repeat(masses, 3)
    text = '\n'.join(
        ' '.join(f'{v:.17g}' for v in row) for row in (hessian / np.sqrt(np.outer(dof, dof))).reshape(-1, 3)
    )
    assert np.allclose(parse_dynamical_matrix(text, masses), hessian, rtol=1e-12)
    with pytest.raises(QdotsInputError, match=r'expected \(3 N\)\^2 = 36'):
        parse_dynamical_matrix(text + '\n1 2 3', masses)


def test_readers_import_no_aiida():
    """The readers are usable without AiiDA: importing them loads no ``aiida`` module."""
    code = (
        'import sys, aiida_qdots.readers.lammps\n'
        "assert not [m for m in sys.modules if m == 'aiida' or m.startswith('aiida.')], 'aiida imported'\n"
    )
    subprocess.run([sys.executable, '-c', code], check=True)
