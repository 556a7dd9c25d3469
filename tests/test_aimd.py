"""qdots.aimd: segment planning, CP2K MD parsing, and real GFN1-xTB MD runs with fault injection."""

import os
import pathlib
import signal
import threading
import time

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_qdots.functions.aimd import md_checks
from aiida_qdots.parsers.cp2k import parse_md_output
from aiida_qdots.workchains.aimd import AimdWorkChain, md_parameters, plan_segments

STAGES = [
    {'name': 'heating', 'ensemble': 'NVT', 'temperatures': [100.0, 200.0], 'steps_per_temperature': 5},
    {'name': 'production', 'ensemble': 'NVE', 'temperature': 300.0, 'steps': 12},
]


def test_segments_cover_every_step_once():
    plan = plan_segments(STAGES, segment_steps=5)
    assert [(s['first_step'], s['last_step']) for s in plan] == [(1, 5), (6, 10), (11, 15), (16, 20), (21, 22)]
    assert [s['temperature'] for s in plan] == [100.0, 200.0, 300.0, 300.0, 300.0]
    assert {s['ensemble'] for s in plan[2:]} == {'NVE'}


def test_md_parameters_restart_from_previous_segment():
    plan = plan_segments(STAGES, segment_steps=5)
    base = {'GLOBAL': {'PRINT_LEVEL': 'LOW'}, 'FORCE_EVAL': {'DFT': {'SCF': {'SCF_GUESS': 'MOPAC'}}}}
    thermostat = {'type': 'CSVR', 'timecon_fs': 50.0}
    first = md_parameters(base, plan[0], 1.0, thermostat, None)
    assert 'EXT_RESTART' not in first
    assert first['MOTION']['MD']['THERMOSTAT']['CSVR']['TIMECON'] == 50.0
    assert first['MOTION']['MD']['MAX_STEPS'] == 6  # CP2K's last step is MAX_STEPS - 1
    second = md_parameters(base, plan[1], 1.0, thermostat, plan[0])
    assert second['EXT_RESTART']['RESTART_THERMOSTAT'] is True
    assert second['FORCE_EVAL']['DFT']['SCF']['SCF_GUESS'] == 'RESTART'
    nve = md_parameters(base, plan[2], 1.0, thermostat, plan[1])
    assert 'THERMOSTAT' not in nve['MOTION']['MD']
    assert nve['EXT_RESTART']['RESTART_THERMOSTAT'] is False
    assert nve['MOTION']['MD']['STEPS'] == 5
    assert base['FORCE_EVAL']['DFT']['SCF']['SCF_GUESS'] == 'MOPAC'  # the input is not modified


def _xyz(steps, coords):
    frames = []
    for step, frame in zip(steps, coords, strict=True):
        frames.append(f'{len(frame)}\n i = {step:8d}, time = {float(step):8.3f}, E = -1.0\n')
        frames.append(''.join(f' Cd {x:18.10f} {y:18.10f} {z:18.10f}\n' for x, y, z in frame))
    return ''.join(frames)


def _segment(steps, temperature):
    """A TrajectoryData as ``qdots.cp2k`` stores it (2 atoms, 1 fs steps) with the given temperatures (K)."""
    n = len(steps)
    node = orm.TrajectoryData()
    node.set_trajectory(
        symbols=['Cd', 'Se'],
        positions=np.zeros((n, 2, 3)),
        stepids=np.asarray(steps),
        times=np.asarray(steps, dtype=float),
        velocities=np.zeros((n, 2, 3)),
    )
    for name in ('kinetic_energy', 'potential_energy', 'conserved_energy'):
        node.set_array(name, np.full(n, -100.0))
    node.set_array('temperature', np.asarray(temperature, dtype=float))
    return node.store()


@pytest.mark.parametrize('rise_k', [0.0, 80.0])
def test_md_checks_judge_whether_the_nve_window_is_stationary(aiida_profile, rise_k):
    """NVE production of 2000 steps in two segments, temperature = 337 K + a ramp of ``rise_k`` + white noise of
    30 K: the flat one is stationary, the one heating by 80 K (the Cd-rich workstation run's 4 ps) is not, and the
    checks store the whole-block and half means with the verdict's reason."""
    plan = plan_segments(
        [
            {'name': 'equilibration', 'ensemble': 'NVT', 'temperature': 300.0, 'steps': 200},
            {'name': 'production', 'ensemble': 'NVE', 'temperature': 300.0, 'steps': 2000},
        ],
        segment_steps=1000,
    )
    rng = np.random.default_rng(7)
    steps = np.arange(1, 2201)
    temperature = np.where(steps <= 200, 300.0, 337.0 + rise_k * (steps - 201) / 1999) + 30 * rng.standard_normal(2200)
    segments = {
        f'segment_{i:03d}_run_0': _segment(
            steps[s['first_step'] - 1 : s['last_step']], temperature[s['first_step'] - 1 : s['last_step']]
        )
        for i, s in enumerate(plan)
    }
    checks = md_checks(orm.List(plan), **segments)
    nve = next(b for b in checks['blocks'] if b['ensemble'] == 'NVE')
    production = temperature[200:]
    assert nve['n_frames'] == 2000
    assert nve['block_mean_temperature_K'] == pytest.approx(production.mean())
    assert nve['first_half_mean_temperature_K'] == pytest.approx(production[:1000].mean())
    assert nve['second_half_mean_temperature_K'] == pytest.approx(production[1000:].mean())
    assert nve['mean_temperature_K'] == pytest.approx(production[1000:].mean())  # unchanged meaning: second half
    assert nve['temperature_trend_K_per_ps'] == pytest.approx(rise_k / 1.999, abs=5.0)
    assert checks['production_stationarity'] == nve['stationarity']
    assert nve['stationarity']['converged'] is (rise_k == 0.0)
    if rise_k:
        assert nve['stationarity']['reason'].startswith('T rises')
    assert 'stationarity' not in checks['blocks'][0]  # NVT: the thermostat holds it


def test_parse_md_output_keeps_complete_common_frames():
    rng = np.random.default_rng(1)
    pos, vel = rng.normal(size=(4, 2, 3)), rng.normal(size=(4, 2, 3)) * 1e-3
    ener = '#  Step Nr. Time[fs] Kin.[a.u.] Temp[K] Pot.[a.u.] Cons Qty[a.u.] UsedTime[s]\n' + ''.join(
        f'{s} {float(s)} 0.01 300.0 -10.0 -9.99 1.0\n' for s in range(4)
    )
    pos_text = _xyz(range(4), pos)
    frames = parse_md_output(pos_text[:-30], _xyz(range(4), vel), ener)  # last position frame cut short
    assert frames['steps'].tolist() == [0, 1, 2]
    np.testing.assert_allclose(frames['positions'], pos[:3], atol=1e-9)
    np.testing.assert_allclose(frames['velocities'], vel[:3] * 0.529177210903 / 2.4188843265857e-2, atol=1e-8)
    assert frames['temperature'].tolist() == [300.0] * 3
    np.testing.assert_allclose(frames['conserved_energy'], -9.99 * 27.211386245988)


@pytest.fixture
def start_structure(real_first_frame):
    """Frame st1 of the public Cd28Se17Cl22 AIMD run: a relaxed DFT geometry, fine to start GFN1 MD from."""
    atoms = real_first_frame.copy()
    atoms.set_cell([30.0, 30.0, 30.0])
    atoms.center()
    atoms.pbc = False
    return orm.StructureData(ase=atoms)


def _builder(code, structure, stages, segment_steps, **overrides):
    overrides = {'relax': False, 'stages': stages, 'segment_steps': segment_steps, **overrides}
    return AimdWorkChain.get_builder_from_protocol(code, structure, 'fast', overrides)


class JobWatcher(threading.Thread):
    """Watches the local scratch for a CP2K job whose input contains ``marker`` and acts on it once."""

    def __init__(self, workdir: pathlib.Path, marker: str, ready, action):
        super().__init__(daemon=True)
        self.workdir, self.marker, self.ready, self.action = workdir, marker, ready, action
        self.done = threading.Event()
        self.start_time = time.time()

    def run(self):
        while not self.done.is_set() and time.time() - self.start_time < 600:
            for inp in self.workdir.glob('*/*/*/aiida.inp'):
                if inp.stat().st_mtime < self.start_time or self.marker not in inp.read_text():
                    continue
                if self.ready(inp.parent):
                    self.action(inp.parent)
                    self.done.set()
                    return
            time.sleep(0.2)


def _frames_written(folder: pathlib.Path) -> int:
    path = folder / 'aiida-pos-1.xyz'
    return path.read_text().count(' i = ') if path.exists() else 0


def _kill_cp2k_in(folder: pathlib.Path) -> None:
    for proc in pathlib.Path('/proc').iterdir():
        if proc.name.isdigit():
            try:
                if os.readlink(proc / 'cwd') == str(folder) and b'cp2k' in (proc / 'cmdline').read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)
            except OSError:
                continue


def test_killed_segment_continues_from_restart_and_keeps_frames(cp2k_code, localhost, start_structure, tmp_path):
    """Kill CP2K mid-way through the production segment; cp2k.base restarts it from the restart file,
    the production trajectory is complete and contiguous, and the killed run's frames are in it."""
    stages = [
        {'name': 'equilibration', 'ensemble': 'NVT', 'temperature': 300.0, 'steps': 6},
        {'name': 'production', 'ensemble': 'NVE', 'temperature': 300.0, 'steps': 24},
    ]
    watcher = JobWatcher(
        pathlib.Path(localhost.get_workdir()),
        'ENSEMBLE NVE',
        lambda folder: _frames_written(folder) >= 8,
        _kill_cp2k_in,
    )
    watcher.start()
    _, node = run_get_node(_builder(cp2k_code, start_structure, stages, segment_steps=24))
    watcher.done.set()
    assert node.is_finished_ok, node.exit_message

    trajectory = node.outputs.trajectory
    assert trajectory.get_stepids().tolist() == list(range(7, 31))
    np.testing.assert_allclose(trajectory.get_array('times'), np.arange(7, 31) * 1.0)
    assert trajectory.get_array('velocities').shape == (24, 67, 3)

    production = max((c for c in node.called if c.process_label == 'Cp2kBaseWorkChain'), key=lambda c: c.ctime)
    calcs = sorted((c for c in production.called if isinstance(c, orm.CalcJobNode)), key=lambda c: c.ctime)
    assert len(calcs) == 2, 'the kill should have forced exactly one restart'
    killed = calcs[0]
    assert not killed.is_finished_ok
    kept = killed.outputs.md_trajectory
    assert len(kept.get_stepids()) >= 7
    index = np.searchsorted(trajectory.get_stepids(), kept.get_stepids())
    np.testing.assert_array_equal(trajectory.get_positions()[index], kept.get_positions())

    summary = node.outputs.analysis.summary  # the RMSF/spectra analysis ran on the merged production trajectory
    assert set(summary['rmsf_by_element']) == {'Cd', 'Se', 'Cl'}
    from aiida_qdots.plots.aimd import plot_rmsf

    assert plot_rmsf(node, output=tmp_path / 'rmsf.png').stat().st_size > 1000

    checks = node.outputs.checks
    nve = next(b for b in checks['blocks'] if b['ensemble'] == 'NVE')
    assert abs(nve['drift_ev_per_atom_ps']) < 0.05
    # kinetic energy from the parsed velocities matches CP2K's own (a check of the unit conversion)
    from ase.data import atomic_masses, atomic_numbers

    masses = np.array([atomic_masses[atomic_numbers[s]] for s in trajectory.symbols])
    amu_a2_fs2_ev = 103.6426965
    kinetic = 0.5 * (masses[None, :, None] * trajectory.get_array('velocities') ** 2).sum(axis=(1, 2)) * amu_a2_fs2_ev
    np.testing.assert_allclose(kinetic, trajectory.get_array('kinetic_energy'), rtol=1e-4)


def test_missing_restart_file_ends_in_named_exit_code(cp2k_code, localhost, start_structure):
    """The restart file of the first segment disappears before the second starts: exit code 422."""
    stages = [{'name': 'production', 'ensemble': 'NVT', 'temperature': 300.0, 'steps': 6}]

    def finished(folder):
        out = folder / 'aiida.out'
        return out.exists() and 'PROGRAM ENDED' in out.read_text()

    watcher = JobWatcher(
        pathlib.Path(localhost.get_workdir()),
        'MAX_STEPS 4',
        finished,
        lambda folder: (folder / 'aiida-1.restart').unlink(),
    )
    watcher.start()
    _, node = run_get_node(_builder(cp2k_code, start_structure, stages, segment_steps=3, analysis=None))
    watcher.done.set()
    assert watcher.done.is_set()
    assert node.exit_status == AimdWorkChain.exit_codes.ERROR_NO_RESTART_FILE.status
    assert 'segment 0 left no aiida-1.restart' in node.exit_message


def test_invalid_stages_are_rejected(cp2k_code, start_structure):
    for stages, message in [
        (
            [{'name': 'production', 'ensemble': 'NVE', 'temperature': 300.0, 'steps': 6}],
            'the production stage has 6 steps; its analysis needs at least 16 frames',
        ),
        ([{'name': 'heating', 'ensemble': 'NVT', 'temperature': 300.0, 'steps': 5}], 'named "production"'),
        ([{'name': 'production', 'ensemble': 'NPT', 'temperature': 300.0, 'steps': 5}], 'ensemble must be'),
        ([{'name': 'production', 'ensemble': 'NVE', 'temperature': -3.0, 'steps': 5}], 'must be positive'),
        ([{'name': 'production', 'ensemble': 'NVE'}], 'needs `temperature` and `steps`'),
    ]:
        with pytest.raises(ValueError, match=message):
            run_get_node(_builder(cp2k_code, start_structure, stages, segment_steps=5))


def test_builder_relaxes_and_runs_md_with_the_shared_cp2k_method(cp2k_code, start_structure):
    """MD and relaxation take cp2k_method.yaml's method; ``method`` overrides reach both; relaxation-only overrides
    with the relaxation off are refused, naming them."""
    from aiida_qdots.protocols import cp2k_method

    overrides = {'method': {'parameters': {'GLOBAL': {'PRINT_LEVEL': 'MEDIUM'}}, 'geo_opt': {'MOTION': {}}}}
    builder = AimdWorkChain.get_builder_from_protocol(cp2k_code, start_structure, 'fast', overrides)
    method = cp2k_method(['Cd', 'Cl', 'Se'], 'fast', {'parameters': {'GLOBAL': {'PRINT_LEVEL': 'MEDIUM'}}})
    assert builder.parameters.get_dict() == method
    relax = builder.relax.cp2k.cp2k.parameters.get_dict()
    assert relax['GLOBAL'] == {'PRINT_LEVEL': 'MEDIUM', 'RUN_TYPE': 'GEO_OPT'}
    assert relax['MOTION']['GEO_OPT']['OPTIMIZER'] == 'BFGS'
    scf = relax['FORCE_EVAL']['DFT'].pop('SCF')  # the relaxation stops its SCF at 1e-5, the MD at 1e-6
    assert (scf['EPS_SCF'], scf['OUTER_SCF']['EPS_SCF']) == (1e-5, 1e-5)
    method_scf = method['FORCE_EVAL']['DFT'].pop('SCF')
    assert method_scf['EPS_SCF'] == 1e-6 and {**method_scf, 'EPS_SCF': 1e-5, 'OUTER_SCF': scf['OUTER_SCF']} == scf
    assert relax['FORCE_EVAL'] == method['FORCE_EVAL']
    with pytest.raises(ValueError, match='geo_opt set the relaxation, which is off'):
        AimdWorkChain.get_builder_from_protocol(
            cp2k_code, start_structure, 'fast', {'relax': False, 'method': {'geo_opt': {}}}
        )
