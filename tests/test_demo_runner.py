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
