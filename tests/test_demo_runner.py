"""``aiida-qdots demo`` runs its two studies in this process without a broker, together or one after the other."""

import pytest
from aiida import orm
from aiida.engine import ToContext, WorkChain

from aiida_qdots.cli.demo import run_here


class Leaf(WorkChain):
    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.output('value', valid_type=orm.Int)
        spec.outline(cls.finish)

    def finish(self):
        self.out('value', orm.Int(1).store())


class Tree(WorkChain):
    """Two levels of children, so ending needs the no-broker polling at each level."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.outline(cls.launch, cls.launch, cls.finish)
        spec.output('count', valid_type=orm.Int)

    def launch(self):
        return ToContext(children=self.submit(Leaf))

    def finish(self):
        self.out('count', orm.Int(len(self.node.called)).store())


@pytest.mark.parametrize('together', [True, False])
def test_run_here_runs_both_without_a_broker(aiida_profile, together):
    first, second = run_here([Tree.get_builder(), Tree.get_builder()], together)
    assert first.is_finished_ok and second.is_finished_ok
    assert first.outputs.count.value == second.outputs.count.value == 2
    overlapped = second.ctime < first.mtime
    assert overlapped == together


def test_demo_runs_every_job_on_one_rank(cp2k_code, python_code, lammps_code):
    """The demo's overrides reach every CP2K job (relaxation, MD, snapshots) and the LAMMPS jobs: one MPI rank each,
    both Study A configurations at once."""
    from aiida_qdots.cli.demo import STUDY_A_OVERRIDES
    from aiida_qdots.workchains.lattice_study import LatticeStudyWorkChain
    from aiida_qdots.workchains.study import StudyWorkChain

    study = StudyWorkChain.get_builder_from_protocol(
        cp2k_code, python_code, 'ranks', ['se-rich', 'cd-rich'], [0], 'fast', STUDY_A_OVERRIDES
    )
    config = study.configuration
    options = [
        config.aimd.options.get_dict(),
        config.aimd.relax.cp2k.cp2k.metadata.options,
        config.electronic.options.get_dict(),
        config.namd.options.get_dict(),
    ]
    assert [option['resources']['num_mpiprocs_per_machine'] for option in options] == [1, 1, 1, 1]
    assert study.max_concurrent.value == 2
    lattice = LatticeStudyWorkChain.get_builder_from_protocol(
        lammps_code,
        'ranks',
        [{'diameter': 20.0, 'shell_monolayers': 1}],
        protocol='fast',
        phonon_overrides={'num_mpiprocs': 1},
    )
    assert lattice.phonons.parameters['num_mpiprocs'] == 1
