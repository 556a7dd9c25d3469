"""Provenance without holes: run a small Study A (qdots.study) and Study B (qdots.lattice_study) at the fast
protocol, with every protocol file made unreadable once the builders exist, and walk the graph: every node any
workchain in them returns has a creator (a calcfunction or a CalcJob)."""

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node

import aiida_qdots.protocols
from aiida_qdots.data.ued import synthetic_ued_node
from aiida_qdots.workchains.lattice_study import LatticeStudyWorkChain
from aiida_qdots.workchains.study import StudyWorkChain


def unreadable_protocols(*_args, **_kwargs):
    raise AssertionError('a protocol file was read while a process ran: inputs must be resolved by the builders')


@pytest.fixture(scope='module')
def study_nodes(aiida_profile):
    """A Se-rich configuration (relax, AIMD, electronic, NAMD) and one 1.2 nm nanocrystal with the UED demo set."""
    from aiida_qdots.provisioning.codes import get_or_create_code, get_or_create_localhost

    computer, _ = get_or_create_localhost()
    cp2k, lammps, python = (get_or_create_code(kind, computer)[0] for kind in ('cp2k', 'lammps', 'python'))
    builders = [
        StudyWorkChain.get_builder_from_protocol(cp2k, python, 'provenance', ['se-rich'], [0], 'fast'),
        LatticeStudyWorkChain.get_builder_from_protocol(
            lammps, 'provenance-lattice', [{'diameter': 12.0}], {'synthetic': synthetic_ued_node()}, 'fast'
        ),
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiida_qdots.protocols, 'load_protocol_file', unreadable_protocols)
        return [run_get_node(builder)[1] for builder in builders]


def workflows(root: orm.WorkflowNode) -> list[orm.WorkflowNode]:
    """``root`` and every workflow it called, directly or not."""
    found, todo = [], [root]
    while todo:
        node = todo.pop()
        found.append(node)
        todo.extend(link.node for link in node.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all())
    return found


def test_the_studies_finish_with_inputs_resolved_at_build_time(study_nodes):
    for node in study_nodes:
        assert node.is_finished_ok, f'{node.process_label}<{node.pk}>: {node.exit_message}'


def test_every_returned_node_has_a_creator(study_nodes):
    checked, orphans = 0, []
    for root in study_nodes:
        for workflow in workflows(root):
            for link in workflow.base.links.get_outgoing(link_type=LinkType.RETURN).all():
                checked += 1
                if link.node.creator is None:
                    orphans.append(f'{workflow.process_label}<{workflow.pk}> {link.link_label}: {link.node!r}')
    assert checked > 40
    assert not orphans, 'returned without a creator:\n' + '\n'.join(orphans)


def test_summaries_and_nanocrystals_name_their_calcfunctions(study_nodes):
    study, lattice = study_nodes
    summary = study.outputs.summary
    assert summary.creator.process_label == 'configuration_summary'
    states = summary.creator.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()
    assert {link.link_label for link in states} == {'study', 'se_rich_arrangement_0'}
    assert summary['configurations']['se_rich_arrangement_0']['ok']
    assert lattice.outputs.summary.creator.process_label == 'lattice_summary'
    nanocrystal = lattice.inputs.structures['d12A_shell0']
    assert nanocrystal.creator.process_label == 'build_nanocrystal_structure'
    assert nanocrystal.creator.inputs.recipe.get_dict() == {'diameter': 12.0}
