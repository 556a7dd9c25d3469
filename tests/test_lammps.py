"""LAMMPS stage: force-field nodes, script generation, the qdots.lammps CalcJob and parser, real runs."""

import hashlib
import io
import pathlib

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from aiida_qdots.calculations.lammps import get_lammps_builder
from aiida_qdots.calculations.lammps.force_fields import (
    file_elements,
    find_potential_file,
    get_force_field,
    get_force_field_node,
)
from aiida_qdots.calculations.lammps.inputs import (
    MDSettings,
    MinimizeSettings,
    lammps_frame,
    md_script,
    settings_from_dict,
    write_lammps_data,
)
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.units import AMU_KG, EV_J
from aiida_qdots.structures.nanocrystals import build_nanocrystal

AMU_A2_FS2_EV = AMU_KG * 1e10 / EV_J
"""Kinetic energy unit amu angstrom^2 / fs^2 in eV (103.64)."""

SW_KEYS = ('eps', 'sigma', 'a', 'lam', 'gamma', 'cos0', 'A', 'B', 'p', 'q', 'tol')


def sw_energy(atoms: Atoms, potential: str) -> float:
    """Stillinger-Weber energy (eV) in numpy, with LAMMPS' parameter conventions: pair ij from the
    ijj line, triplet j-i-k with radial factors from the ijj/ikk lines and lambda*eps, cos0 from ijk."""
    params = {}
    for line in potential.splitlines():
        tokens = line.split('#')[0].split()
        if len(tokens) == 14:
            params[tuple(tokens[:3])] = dict(zip(SW_KEYS, map(float, tokens[3:]), strict=True))
    sym = atoms.get_chemical_symbols()
    first, second, dist, vec = neighbor_list('ijdD', atoms, 5.0)
    energy = 0.0
    for centre in range(len(atoms)):
        near = []
        for j, r, d in zip(second[first == centre], dist[first == centre], vec[first == centre], strict=True):
            p = params[(sym[centre], sym[j], sym[j])]
            cut = p['a'] * p['sigma']
            if r < cut:
                s = p['sigma'] / r
                radial = np.exp(p['sigma'] / (r - cut))
                energy += 0.5 * p['A'] * p['eps'] * (p['B'] * s ** p['p'] - s ** p['q']) * radial
                near.append((j, r, d, np.exp(p['gamma'] * p['sigma'] / (r - cut))))
        for n, (j, rj, dj, gj) in enumerate(near):
            for k, rk, dk, gk in near[n + 1 :]:
                p = params[(sym[centre], sym[j], sym[k])]
                energy += p['lam'] * p['eps'] * (dj @ dk / (rj * rk) - p['cos0']) ** 2 * gj * gk
    return energy


def wurtzite(repeat=(3, 3, 2)) -> Atoms:
    return bulk('CdSe', 'wurtzite', a=4.30, c=7.01).repeat(repeat)


@pytest.fixture
def force_field(aiida_profile):
    return get_force_field_node('sw_zhou2013')


def test_force_field_node_is_stored_once(force_field):
    path = find_potential_file('CdTeZnSeHgS0.sw')
    assert force_field.is_stored
    assert get_force_field_node('sw_zhou2013').pk == force_field.pk
    attrs = force_field.base.attributes
    assert attrs.get('sha256') == hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
    assert attrs.get('pair_style') == 'sw'
    assert set(attrs.get('elements')) == {'Cd', 'Te', 'Zn', 'Se', 'Hg', 'S'} == file_elements(path)
    assert 'Phys. Rev. B 88, 085309 (2013)' in attrs.get('citation')
    assert force_field.get_content() == path.read_text()


def test_force_field_errors(monkeypatch, tmp_path):
    with pytest.raises(QdotsInputError, match='unknown force field'):
        get_force_field('lj_nonexistent')
    monkeypatch.setenv('LAMMPS_POTENTIALS', str(tmp_path))
    with pytest.raises(QdotsInputError, match=f'not found in {tmp_path}'):
        find_potential_file('NoSuchFile.sw')
    (tmp_path / 'CdTeZnSeHgS0.sw').write_text('# an empty potential file\n')
    assert find_potential_file('CdTeZnSeHgS0.sw') == (tmp_path / 'CdTeZnSeHgS0.sw').resolve()


@pytest.mark.parametrize('shear', [0.0, 0.7])
def test_lammps_frame_maps_cells_back(aiida_profile, shear):
    """A rotated, sheared cell goes to a LAMMPS box with legal tilts and comes back unchanged."""
    atoms = wurtzite((2, 2, 1))
    atoms.set_cell(atoms.cell + shear * np.outer([0, 0, 1], atoms.cell[0]), scale_atoms=True)
    atoms.rotate(37, (1, 2, 3), rotate_cell=True)
    structure = orm.StructureData(ase=atoms)
    frame = lammps_frame(structure)
    box = frame.box
    assert np.allclose(np.triu(box, 1), 0)
    assert abs(box[1, 0]) <= box[0, 0] / 2 and abs(box[2, 0]) <= box[0, 0] / 2 and abs(box[2, 1]) <= box[1, 1] / 2
    assert np.allclose(frame.rotation @ frame.rotation.T, np.eye(3))
    assert np.allclose(frame.cell_to_input_frame(box), atoms.cell[:])
    text = write_lammps_data(structure)
    assert f'{len(atoms)} atoms' in text and '2 atom types' in text
    positions = np.array([line.split()[2:] for line in text.split('Atoms  # atomic')[1].strip().splitlines()], float)
    assert np.allclose(frame.to_input_frame(positions), atoms.positions)


def test_invalid_inputs_raise_before_running(lammps_code, force_field):
    """An element the force field lacks, or non-positive MD settings, stop before anything is launched."""
    launched = orm.QueryBuilder().append(orm.CalcJobNode).count()
    gold = orm.StructureData(ase=Atoms('CdAu', positions=[(0, 0, 0), (2.7, 0, 0)], cell=[10, 10, 10]))
    with pytest.raises(QdotsInputError, match='no parameters for Au'):
        get_lammps_builder(lammps_code, gold, force_field, MDSettings())
    for bad in (
        {'timestep': 0.0},
        {'temperature': -5.0},
        {'nvt_steps': 0, 'nve_steps': 0},
        {'nve_steps': -1},
        {'thermostat': 'berendsen'},
    ):
        with pytest.raises(QdotsInputError):
            MDSettings(**bad)
    assert settings_from_dict({'mode': 'md', 'timestep': 2.0}) == MDSettings(timestep=2.0)
    assert settings_from_dict({'mode': 'single_point'}) is None
    with pytest.raises(QdotsInputError, match='invalid minimize settings'):
        settings_from_dict({'mode': 'minimize', 'timestep': 2.0})
    cluster = orm.StructureData(ase=build_nanocrystal(12.0))
    with pytest.raises(QdotsInputError, match='relax_cell needs a periodic'):
        get_lammps_builder(lammps_code, cluster, force_field, MinimizeSettings(relax_cell='iso'))
    assert orm.QueryBuilder().append(orm.CalcJobNode).count() == launched


@pytest.mark.parametrize(
    ('command', 'status', 'message'),
    [
        ('not_a_lammps_command 1', 309, 'Unknown command: not_a_lammps_command'),
        ('quit', 354, 'no "Total wall time" line'),  # LAMMPS stops early with exit status 0, like a killed job
    ],
)
def test_failed_lammps_run_exit_codes(lammps_code, force_field, command, status, message):
    """Real LAMMPS runs that stop on an ERROR line (309, with the error text) or before the script's end (354)."""
    structure = orm.StructureData(ase=build_nanocrystal(12.0))
    builder = get_lammps_builder(lammps_code, structure, force_field, None)
    script = builder.script.get_content().replace('run 0', f'run 0\n{command}')
    builder.script = orm.SinglefileData(io.BytesIO(script.encode()), filename='input.in')
    _, node = run_get_node(builder)
    assert node.exit_status == status
    assert message in node.exit_message
    assert node.outputs.results['finished'] is False
    assert 'structure' not in node.outputs


def test_minimize_periodic_wurtzite(lammps_code, force_field):
    """CG minimisation of a rotated 3x3x2 wurtzite supercell at fixed cell, then with the cell relaxed."""
    atoms = wurtzite()
    atoms.rotate(25, (1, -1, 2), rotate_cell=True)  # the parser has to rotate everything back
    structure = orm.StructureData(ase=atoms)
    settings = MinimizeSettings(force_tolerance=1e-8)
    results, node = run_get_node(get_lammps_builder(lammps_code, structure, force_field, settings))
    assert node.is_finished_ok, node.exit_message
    out = results['results'].get_dict()
    assert out['num_atoms'] == 72 and out['units'] == 'metal' and out['blocks'][0]['kind'] == 'minimize'
    final = results['structure'].get_ase()
    assert np.allclose(final.cell[:], atoms.cell[:], atol=1e-8)
    # LAMMPS' energy equals an independent SW evaluation of the returned structure: type mapping,
    # data file and back-rotation are right
    assert out['energy'] == pytest.approx(sw_energy(final, force_field.get_content()), abs=1e-6)
    assert out['energy_per_atom'] == pytest.approx(out['energy'] / 72)
    assert -2.8 < out['energy_per_atom'] < -2.4
    assert out['fmax'] < 1e-6
    forces = results['forces'].get_array('forces')
    assert forces.shape == (72, 3) and np.abs(forces).max() < 1e-6
    thermo = results['thermo']
    assert thermo.get_array('PotEng')[-1] == pytest.approx(out['energy'])
    assert np.all(np.diff(thermo.get_array('PotEng')) <= 1e-9)

    relaxed, node = run_get_node(
        get_lammps_builder(lammps_code, structure, force_field, MinimizeSettings(relax_cell='aniso'))
    )
    assert node.is_finished_ok, node.exit_message
    rel = relaxed['results'].get_dict()
    assert abs(rel['final_thermo']['Press']) < 50.0  # bar
    assert rel['energy_per_atom'] <= out['energy_per_atom'] + 1e-9
    cell = relaxed['structure'].get_ase().cell
    print(
        f'fixed cell: E = {out["energy_per_atom"]:.6f} eV/atom; relaxed: E = {rel["energy_per_atom"]:.6f} eV/atom, '
        f'a = {cell.lengths()[0] / 3:.4f} A, c = {cell.lengths()[2] / 2:.4f} A'
    )


def test_md_nanocrystal_nvt_then_nve(lammps_code, force_field):
    """300 K NVT (Nose-Hoover) then NVE of a CdSe nanocrystal: temperature, energy conservation, and
    velocities in the trajectory whose kinetic energy matches LAMMPS' KinEng (unit conversion)."""
    atoms = build_nanocrystal(24.0)  # wurtzite Cd120Se120 in a vacuum box, non-periodic
    n = len(atoms)
    assert 200 <= n <= 400
    structure = orm.StructureData(ase=atoms)
    settings = MDSettings(
        temperature=300.0, timestep=2.0, nvt_steps=2000, nve_steps=1000, thermo_every=10, dump_every=100
    )
    assert 'boundary s s s' in md_script(structure, force_field, settings)
    results, node = run_get_node(get_lammps_builder(lammps_code, structure, force_field, settings))
    assert node.is_finished_ok, node.exit_message
    out = results['results'].get_dict()
    assert out['num_atoms'] == n
    assert [b['phase'] for b in out['blocks']] == ['nvt', 'nve']

    thermo = results['thermo']
    block, step = thermo.get_array('block'), thermo.get_array('Step')
    temp, total = thermo.get_array('Temp'), thermo.get_array('TotEng')
    time_ps = thermo.get_array('Time')
    nvt, nve = block == 0, block == 1
    assert temp[0] == pytest.approx(300.0)
    late_nvt = nvt & (step >= 1000)  # the last 2 ps of 4 ps NVT
    mean_temp = temp[late_nvt].mean()
    assert abs(mean_temp - 300.0) < 20.0

    # NVE, 2 fs steps. Drift bound: 5e-6 eV/atom/ps is < 1 K of equivalent heating (3 k_B per atom) over a
    # 35 ps production run; measured 1e-8 to 4e-7 over 2 ps windows for several seeds. Fluctuation bound:
    # total-energy fluctuations below 1 % of the kinetic-energy fluctuations (measured ~0.1 %).
    slope, _ = np.polyfit(time_ps[nve], total[nve], 1)
    drift = slope / n  # eV / atom / ps
    ratio = total[nve].std() / thermo.get_array('KinEng')[nve].std()
    assert abs(drift) < 5e-6
    assert ratio < 0.01

    trajectory = results['trajectory']
    assert trajectory.numsteps == 31
    assert np.allclose(trajectory.get_times(), trajectory.get_stepids() * 2.0)
    velocities = trajectory.get_array('velocities')
    masses = np.array([structure.get_kind(k).mass for k in trajectory.symbols])
    kinetic = 0.5 * np.einsum('i,fij,fij->f', masses, velocities, velocities) * AMU_A2_FS2_EV
    ke_thermo = dict(zip(step, thermo.get_array('KinEng'), strict=True))
    assert np.allclose(kinetic, [ke_thermo[s] for s in trajectory.get_stepids()], rtol=1e-6)
    positions = trajectory.get_positions()
    assert np.allclose(positions[0], atoms.positions, atol=1e-6)
    assert trajectory.base.attributes.get('units')['velocities'] == 'angstrom/fs'
    rate = [b['atom_steps_per_second'] for b in out['blocks']]
    print(
        f'N = {n}; <T>(NVT, last 2 ps) = {mean_temp:.1f} K; NVE drift = {drift:.2e} eV/atom/ps, '
        f'std(E_tot)/std(E_kin) = {ratio:.1e}; {rate[0]:.3g}, {rate[1]:.3g} atom-steps/s'
    )


def test_md_periodic_langevin_rotated_frame(lammps_code, force_field):
    """Langevin NVT then NVE of a rotated periodic crystal: cells, positions and velocities come back in the
    input frame, and the dumped velocities (angstrom/fs) equal central differences of the dumped positions."""
    atoms = wurtzite()
    atoms.rotate(40, (2, 1, -1), rotate_cell=True)
    structure = orm.StructureData(ase=atoms)
    settings = MDSettings(
        temperature=300.0,
        timestep=2.0,
        nvt_steps=200,
        nve_steps=20,
        thermostat='langevin',
        thermo_every=1,
        dump_every=1,
    )
    results, node = run_get_node(get_lammps_builder(lammps_code, structure, force_field, settings, num_mpiprocs=2))
    assert node.is_finished_ok, node.exit_message
    out = results['results'].get_dict()
    assert [b['phase'] for b in out['blocks']] == ['nvt', 'nve'] and out['blocks'][0]['num_procs'] == 2
    assert {'Press', 'Volume'} <= set(results['thermo'].base.attributes.get('columns'))

    trajectory = results['trajectory']
    assert trajectory.numsteps == 221 and tuple(trajectory.pbc) == (True, True, True)
    assert np.allclose(trajectory.get_cells(), atoms.cell[:])
    positions, velocities = trajectory.get_positions(), trajectory.get_array('velocities')
    assert np.allclose(positions[0], atoms.positions, atol=1e-6)
    # velocity Verlet: v(t) = (x(t + dt) - x(t - dt)) / 2dt holds exactly, up to the dump's 10 digits
    nve = np.flatnonzero(trajectory.get_stepids() >= 200)
    finite = (positions[nve[2:]] - positions[nve[:-2]]) / (2 * 2.0)
    error = np.abs(finite - velocities[nve[1:-1]]).max() / np.abs(velocities).max()
    print(f'finite-difference velocities vs dumped: max error {error:.1e} of the largest component')
    assert error < 1e-5
    # the final configuration is the last frame, wrapped into the cell
    final = results['structure'].get_ase()
    shift = np.linalg.solve(atoms.cell[:].T, (positions[-1] - final.positions).T).T
    assert np.allclose(shift, np.round(shift), atol=1e-6)


def test_parser_on_plain_lammps_raw(lammps_code):
    """The parser also serves aiida-lammps' own `lammps.raw` (no structure input): only `results` is attached."""
    from aiida.plugins import CalculationFactory

    potential = get_force_field_node('sw_zhou2013')
    script = (
        'units metal\nboundary p p p\nlattice diamond 6.08\nregion box block 0 2 0 2 0 2\ncreate_box 2 box\n'
        'create_atoms 1 box basis 1 1 basis 2 1 basis 3 1 basis 4 1 basis 5 2 basis 6 2 basis 7 2 basis 8 2\n'
        'mass 1 112.414\nmass 2 78.971\npair_style sw\npair_coeff * * CdTeZnSeHgS0.sw Cd Se\n'
        'thermo_style custom step pe press\nrun 0\n'
    )
    builder = CalculationFactory('lammps.raw').get_builder()
    builder.code = lammps_code
    builder.script = orm.SinglefileData(io.BytesIO(script.encode()), filename='input.in')
    builder.files = {'potential': potential}
    builder.metadata.options.resources = {'num_machines': 1}
    builder.metadata.options.parser_name = 'qdots.lammps'
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    assert set(results) == {'results', 'retrieved', 'remote_folder'}
    out = results['results'].get_dict()
    # zinc-blende CdSe at its near-equilibrium bond length: same SW energy scale as wurtzite
    assert out['num_atoms'] == 64 and -2.6 < out['energy_per_atom'] < -2.4


def test_single_point_energy_and_forces(lammps_code, force_field):
    """`run 0` on a distorted, rotated crystal: energy and forces (input frame) agree with the numpy SW model."""
    atoms = wurtzite()
    atoms.rotate(-30, (0.3, 1, 0.5), rotate_cell=True)
    atoms.positions += np.random.default_rng(7).normal(scale=0.08, size=atoms.positions.shape)
    results, node = run_get_node(get_lammps_builder(lammps_code, orm.StructureData(ase=atoms), force_field))
    assert node.is_finished_ok, node.exit_message
    potential = force_field.get_content()
    assert results['results']['energy'] == pytest.approx(sw_energy(atoms, potential), abs=1e-6)
    forces = results['forces'].get_array('forces')
    step = 1e-4
    for atom in (0, 1, 37):
        for axis in range(3):
            moved = [atoms.copy(), atoms.copy()]
            moved[0].positions[atom, axis] += step
            moved[1].positions[atom, axis] -= step
            numeric = -(sw_energy(moved[0], potential) - sw_energy(moved[1], potential)) / (2 * step)
            assert forces[atom, axis] == pytest.approx(numeric, abs=1e-5)
    shift = results['structure'].get_ase().get_scaled_positions(wrap=False) - atoms.get_scaled_positions(wrap=False)
    assert np.allclose(shift, np.round(shift), atol=1e-8)  # same atoms, at most wrapped into the cell


def test_raw_dumps_are_parsed_not_stored_unless_asked(lammps_code, force_field):
    """By default the trajectory dump goes through the temporary retrieve list: parsed to the same TrajectoryData
    as with ``keep_raw_dumps`` (which also stores it in ``retrieved``), and absent from the repository."""
    structure = orm.StructureData(ase=build_nanocrystal(12.0))
    settings = MDSettings(temperature=300.0, timestep=2.0, nvt_steps=40, nve_steps=20, dump_every=5)
    runs = {}
    for keep in (False, True):
        builder = get_lammps_builder(lammps_code, structure, force_field, settings, num_mpiprocs=1, keep_raw_dumps=keep)
        runs[keep] = run_get_node(builder)
        assert runs[keep][1].is_finished_ok, runs[keep][1].exit_message
    (lean, lean_node), (kept, kept_node) = runs[False], runs[True]
    assert lean_node.get_retrieve_temporary_list() == ['trajectory.dump']
    assert 'trajectory.dump' not in lean['retrieved'].base.repository.list_object_names()
    assert 'final.dump' in lean['retrieved'].base.repository.list_object_names()
    assert not kept_node.get_retrieve_temporary_list()
    dump = kept['retrieved'].base.repository.get_object_content('trajectory.dump')
    assert dump.count('ITEM: TIMESTEP') == 13 == lean['trajectory'].numsteps
    for name in ('positions', 'velocities', 'cells', 'times', 'steps'):
        assert np.array_equal(lean['trajectory'].get_array(name), kept['trajectory'].get_array(name)), name
    assert lean['trajectory'].symbols == kept['trajectory'].symbols
    assert np.array_equal(lean['forces'].get_array('forces'), kept['forces'].get_array('forces'))


def test_nve_only_positions_only_dump_is_the_full_dump_cut(lammps_code, force_field):
    """``dump_from`` = nvt_steps and ``dump_velocities=False`` store exactly the NVE frames' positions of the full
    dump of the same run (same seed, one rank): the frames the phonon analyses read, a third of the size."""
    structure = orm.StructureData(ase=build_nanocrystal(12.0))
    common = {'temperature': 300.0, 'timestep': 2.0, 'nvt_steps': 40, 'nve_steps': 20, 'dump_every': 5}
    lean = MDSettings(**common, dump_from=40, dump_velocities=False)
    script = md_script(structure, force_field, lean)
    assert 'xu yu zu\n' in script and ' delay 40\n' in script
    runs = []
    for settings in (MDSettings(**common), lean):
        builder = get_lammps_builder(lammps_code, structure, force_field, settings, num_mpiprocs=1)
        results, node = run_get_node(builder)
        assert node.is_finished_ok, node.exit_message
        runs.append(results['trajectory'])
    full, cut = runs
    nve = full.get_stepids() >= 40
    assert cut.get_stepids().tolist() == full.get_stepids()[nve].tolist() == [40, 45, 50, 55, 60]
    assert np.array_equal(cut.get_positions(), full.get_positions()[nve])
    assert np.array_equal(cut.get_times(), full.get_times()[nve])
    assert 'velocities' not in cut.get_arraynames() and 'velocities' in full.get_arraynames()


def test_keep_raw_dumps_must_be_a_boolean(lammps_code, force_field):
    builder = get_lammps_builder(lammps_code, orm.StructureData(ase=build_nanocrystal(12.0)), force_field)
    builder.settings = orm.Dict({**builder.settings.get_dict(), 'keep_raw_dumps': 'yes'})
    with pytest.raises(ValueError, match='keep_raw_dumps` must be true or false'):
        run_get_node(builder)
