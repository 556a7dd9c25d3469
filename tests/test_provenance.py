"""Inputs resolved at build time, provenance without holes: a small Study B (qdots.lattice_study) runs with every
protocol file made unreadable once its builder exists, and every node any workchain in it returns has a creator.
The same walk over the Study A and Study B runs of the demo-sized study is in ``test_study.py``."""

import pytest
from aiida.engine import run_get_node
from provenance_support import returned_without_creator

import aiida_qdots.protocols
from aiida_qdots.workchains.lattice_study import LatticeStudyWorkChain


def unreadable_protocols(*_args, **_kwargs):
    raise AssertionError('a protocol file was read while a process ran: inputs must be resolved by the builders')


@pytest.fixture(scope='module')
def lattice_node(aiida_profile):
    """One 1.2 nm nanocrystal (phonons at the fast protocol) and the synthetic UED set."""
    from aiida_qdots.provisioning.codes import get_or_create_code, get_or_create_localhost

    lammps = get_or_create_code('lammps', get_or_create_localhost()[0])[0]
    builder = LatticeStudyWorkChain.get_builder_from_protocol(
        lammps, 'provenance-lattice', [{'diameter': 12.0}], protocol='fast', ued_synthetic={'n_trajectories': 2000}
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiida_qdots.protocols, 'load_protocol_file', unreadable_protocols)
        return run_get_node(builder)[1]


def test_the_study_finishes_without_reading_a_protocol_file(lattice_node):
    assert lattice_node.is_finished_ok, f'{lattice_node.process_label}<{lattice_node.pk}>: {lattice_node.exit_message}'


def test_every_returned_node_has_a_creator(lattice_node):
    checked, orphans = returned_without_creator([lattice_node])
    assert checked > 10
    assert not orphans, 'returned without a creator:\n' + '\n'.join(orphans)


def test_summary_and_nanocrystal_name_their_calcfunctions(lattice_node):
    assert lattice_node.outputs.summary.creator.process_label == 'lattice_summary'
    nanocrystal = lattice_node.inputs.structures['d12A_shell0']
    assert nanocrystal.creator.process_label == 'build_nanocrystal_structure'
    assert nanocrystal.creator.inputs.recipe.get_dict() == {'diameter': 12.0}
