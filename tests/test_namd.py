"""qdots.namd on real frames: chunked CP2K REFTRAJ + MOLDEN -> overlaps -> NACs, dephasing, DISH."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_qdots.functions.namd import namd_analysis
from aiida_qdots.plots.namd import namd_figure
from aiida_qdots.workchains.namd import NamdWorkChain, namd_chunks


def test_chunks_compute_every_frame_once():
    """Disjoint consecutive chunks: the boundary pair comes from the previous chunk's last MOLDEN file."""
    assert namd_chunks(0, 10, 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    chunks = namd_chunks(3, 11, 5)
    assert [frame for chunk in chunks for frame in chunk] == list(range(3, 14))


def test_namd_on_real_frames(cp2k_code, python_code, import_real_frames):
    """The whole chain, with the recombination analysis as a ``qdots.dish`` job: same numbers as in process."""
    ten_frames = import_real_frames(10)
    overrides = {
        'window': {'n_frames': 10, 'first_frame': 0},
        'chunk_frames': 5,
        'namd': {'duration_fs': 2.0e4, 'n_realisations': 100, 'initial_frames': 2, 'n_bootstrap': 100},
    }
    builder = NamdWorkChain.get_builder_from_protocol(cp2k_code, python_code, ten_frames, 'fast', overrides)
    builder.dish_code = python_code
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    dish_job = node.base.links.get_outgoing(link_label_filter='dish').one().node
    assert dish_job.process_type == 'aiida.calculations:qdots.dish' and dish_job.is_finished_ok
    assert node.outputs.summary.creator.pk == dish_job.pk
    in_process = namd_analysis(node.outputs.hamiltonian, node.inputs.namd)
    assert in_process['summary'].get_dict() == node.outputs.summary.get_dict()
    for name in in_process['arrays'].get_arraynames():
        np.testing.assert_array_equal(in_process['arrays'].get_array(name), node.outputs.arrays.get_array(name))
    hamiltonian = node.outputs.hamiltonian
    assert hamiltonian.get_array('frame_index').tolist() == list(range(10))
    from aiida_qdots.workchains.cp2k_runs import cp2k_calcs

    chunks = [c for c in node.called if c.process_label == 'Cp2kBaseWorkChain']
    computed = sum(len(calc.outputs.mo_energies.get_array('gap')) for c in chunks for calc in cp2k_calcs(c))
    assert len(chunks) == 2 and computed == 10  # every frame once; the boundary pair from the first chunk's files
    overlaps = hamiltonian.get_array('overlaps')
    assert overlaps.shape == (9, 4, 4)
    assert np.all(np.abs(np.diagonal(overlaps, axis1=1, axis2=2)) > 0.8)
    summary = node.outputs.summary
    assert 0 < summary['mean_abs_nac_mev'] < 100
    assert summary['decoherence_time_fs'] > 0
    if summary['recombination_tau_ns'] is not None:  # None: no hop within the simulated time
        low, high = summary['recombination_ci_ns']
        assert low <= summary['recombination_tau_ns'] <= high
    assert summary['population_conservation']['max_norm_error'] < 1e-8
    gap = node.outputs.arrays.get_array('gap_ev')
    assert np.all((gap > 0.5) & (gap < 3.0))
    # Fig. 5a-c from the stored nodes: the plotted population is the stored one
    figure = namd_figure([node])
    population_line = figure.axes[1].get_lines()[0]
    np.testing.assert_array_equal(population_line.get_ydata(), node.outputs.arrays.get_array('excited_population'))
    assert f'mean {summary["mean_abs_nac_mev"]:.3f} meV' in figure.axes[2].get_legend().get_texts()[0].get_text()


def test_dish_job_rejects_incomplete_inputs():
    from aiida_qdots.calculations.dish import DishCalculation

    hamiltonian = orm.ArrayData()
    hamiltonian.set_array('energies', np.zeros((4, 2)))
    builder = DishCalculation.get_builder()
    with pytest.raises(ValueError, match=r'hamiltonian lacks the array\(s\) homo_index, overlaps'):
        builder.hamiltonian = hamiltonian
    with pytest.raises(ValueError, match='n_realisations must be a positive integer'):
        builder.parameters = orm.Dict(
            {'timestep_fs': 1.0, 'duration_fs': 10.0, 'n_realisations': 0, 'initial_frames': 1}
        )
    with pytest.raises(ValueError, match='parameters lack duration_fs'):
        builder.parameters = orm.Dict({'timestep_fs': 1.0, 'n_realisations': 5, 'initial_frames': 1})


def test_builder_shares_the_cp2k_method_of_qdots_electronic_without_building_it(
    cp2k_code, python_code, real_trajectory
):
    from aiida_qdots.workchains.electronic import ElectronicWorkChain

    overrides = {'method': {'kinds': {'basis_set': 'SZV-MOLOPT-SR-GTH', 'potential': 'GTH-PBE'}}}
    namd = NamdWorkChain.get_builder_from_protocol(cp2k_code, python_code, real_trajectory, 'moderate', overrides)
    electronic = ElectronicWorkChain.get_builder_from_protocol(
        cp2k_code, real_trajectory, 'moderate', {**overrides, 'selection': {'stride_fs': 1.0}}
    )
    assert namd.parameters.get_dict() == electronic.parameters.get_dict()
    assert namd.options.get_dict() == electronic.options.get_dict()
    assert {kind['BASIS_SET'] for kind in namd.parameters['FORCE_EVAL']['SUBSYS']['KIND']} == {'SZV-MOLOPT-SR-GTH'}
    n_frames = real_trajectory.numsteps
    assert namd.window.get_dict() == {'n_frames': n_frames, 'first_frame': 0}  # the window is cut to the frames
    with pytest.raises(ValueError, match='at least 4 frames'):
        NamdWorkChain.get_builder_from_protocol(
            cp2k_code, python_code, real_trajectory, 'fast', {'window': {'n_frames': 3}}
        )
