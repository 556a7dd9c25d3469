"""``qdots.ligand_ranking``: order symmetry-distinct ligand arrangements of a cluster by energy."""

from __future__ import annotations

from aiida import orm
from aiida.engine import WorkChain, while_

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.functions.clusters import build_cluster, cluster_extras, rank_energies
from aiida_qdots.protocols import validated
from aiida_qdots.structures.clusters import COMPOSITIONS, build_magic_cluster, get_composition, ligand_arrangements
from aiida_qdots.workchains.cluster_energy import ClusterEnergyWorkChain
from aiida_qdots.workchains.labelled import LabelledOutputsMixin


def validate_composition(value, _ctx=None):
    try:
        get_composition(value.value)
    except QdotsInputError as exc:
        return str(exc)


def validate_arrangements(value, _ctx=None):
    indices = value.get_list()
    n_options = len(ligand_arrangements(2))
    if not indices:
        return 'give at least one ligand arrangement index'
    if len(set(indices)) != len(indices):
        return f'ligand arrangement indices repeat: {indices}'
    bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < n_options]
    if bad:
        return f'ligand arrangement indices must be integers in 0..{n_options - 1}; got {bad}'


class LigandRankingWorkChain(LabelledOutputsMixin, WorkChain):
    """Build each requested ligand arrangement, compute its (relaxed) CP2K energy, and rank them.

    Arrangements run at most ``max_concurrent`` at a time (``core.direct`` would start them all at
    once). A failed arrangement is reported and left out of the ranking; the others go on.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'composition',
            valid_type=orm.Str,
            validator=validate_composition,
            help=f'Cluster composition: {", ".join(COMPOSITIONS)}.',
        )
        spec.input(
            'arrangements',
            valid_type=orm.List,
            validator=validate_arrangements,
            help='Indices of symmetry-distinct ligand arrangements (see `aiida-qdots build arrangements`).',
        )
        spec.input(
            'max_concurrent',
            valid_type=orm.Int,
            default=lambda: orm.Int(1),
            validator=lambda v, _: None if v.value >= 1 else 'max_concurrent must be >= 1',
            help='How many CP2K jobs may run at once.',
        )
        spec.input('protocol', valid_type=orm.Str, required=False, help='Protocol name, recorded in extras.')
        spec.expose_inputs(ClusterEnergyWorkChain, namespace='energy', exclude=('structure',))
        spec.outline(cls.setup, while_(cls.has_pending)(cls.run_batch, cls.inspect_batch), cls.rank)
        spec.output('ranking', valid_type=orm.Dict, help='Arrangements ordered by energy, lowest = configuration 0.')
        spec.output_namespace(
            'structures',
            valid_type=orm.StructureData,
            dynamic=True,
            help='Final (relaxed) structure per arrangement, key arrangement_<k>.',
        )
        spec.output_namespace(
            'energies',
            valid_type=orm.Float,
            dynamic=True,
            help='Total energy (eV) per arrangement, key arrangement_<k>.',
        )
        spec.exit_code(410, 'ERROR_ALL_ARRANGEMENTS_FAILED', message='every arrangement failed: {failed}')
        spec.exit_code(
            411, 'ERROR_SOME_ARRANGEMENTS_FAILED', message='the ranking leaves out failed arrangements: {failed}'
        )

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.Code,
        composition: str,
        arrangements: list[int] | None = None,
        protocol: str | None = None,
        overrides: dict | None = None,
        relax: bool = True,
        max_concurrent: int = 1,
    ):
        """Builder ranking ``arrangements`` (default: all symmetry-distinct ones) of ``composition``."""
        recipe = get_composition(composition)
        if arrangements is None:
            arrangements = list(range(len(ligand_arrangements(24 - recipe.n_ligands))))
        message = validate_arrangements(orm.List(list(arrangements)))
        if message:
            raise QdotsInputError(message)
        # every arrangement has the same elements, which fix the CP2K kinds
        elements = build_magic_cluster(recipe.name, arrangements[0]).get_chemical_symbols()
        sub = ClusterEnergyWorkChain.get_builder_for_elements(code, elements, protocol, overrides, relax)
        builder = cls.get_builder()
        builder.composition = orm.Str(recipe.name)
        builder.arrangements = orm.List(list(arrangements))
        builder.max_concurrent = orm.Int(max_concurrent)
        builder.protocol = orm.Str(protocol or ClusterEnergyWorkChain.get_default_protocol())
        builder.energy = sub._inputs(prune=True)
        builder.metadata.description = f'ligand-arrangement ranking of {recipe.formula} ({builder.protocol.value})'
        return validated(builder)

    def setup(self):
        self.ctx.pending = list(self.inputs.arrangements.get_list())
        self.ctx.energies = {}
        self.ctx.failed = {}

    def has_pending(self):
        return bool(self.ctx.pending)

    def run_batch(self):
        batch, self.ctx.pending = (
            self.ctx.pending[: self.inputs.max_concurrent.value],
            self.ctx.pending[self.inputs.max_concurrent.value :],
        )
        inputs = self.exposed_inputs(ClusterEnergyWorkChain, namespace='energy')
        composition = self.inputs.composition.value
        protocol = self.inputs.protocol.value if 'protocol' in self.inputs else None
        for arrangement in batch:
            structure = build_cluster(self.inputs.composition, orm.Int(arrangement))
            structure.base.extras.set('qdots', cluster_extras(composition, arrangement, protocol=protocol))
            metadata = {**inputs.get('metadata', {}), 'call_link_label': f'arrangement_{arrangement}'}
            node = self.submit(ClusterEnergyWorkChain, **{**inputs, 'structure': structure, 'metadata': metadata})
            self.report(f'arrangement {arrangement}: launched qdots.cluster_energy<{node.pk}>')
            self.to_context(**{f'arrangement_{arrangement}': node})

    def inspect_batch(self):
        for key in [k for k in self.ctx if k.startswith('arrangement_')]:
            node = self.ctx[key]
            if key in self.ctx.energies or key in self.ctx.failed:
                continue
            if node.is_finished_ok:
                self.ctx.energies[key] = node.outputs.energy
                self.out(f'energies.{key}', node.outputs.energy)
                final = node.outputs.structure if 'structure' in node.outputs else node.inputs.structure
                self.out(f'structures.{key}', final)
            else:
                self.ctx.failed[key] = f'exit status {node.exit_status}: {node.exit_message}'
                self.report(f'{key} failed ({self.ctx.failed[key]}); it is left out of the ranking')

    def rank(self):
        failed = ', '.join(f'{k} ({v})' for k, v in self.ctx.failed.items())
        if not self.ctx.energies:
            return self.exit_codes.ERROR_ALL_ARRANGEMENTS_FAILED.format(failed=failed)
        method = self.inputs.energy.cp2k.cp2k.parameters['FORCE_EVAL']['DFT']['QS'].get('METHOD', 'GPW')
        ranking = rank_energies(self.inputs.composition, orm.Str(method), **self.ctx.energies)
        self.out('ranking', ranking)
        protocol = self.inputs.protocol.value if 'protocol' in self.inputs else None
        for entry in ranking['ranking']:
            key = f'arrangement_{entry["arrangement"]}'
            structure = self.outputs['structures'][key]
            extras = cluster_extras(self.inputs.composition.value, entry['arrangement'], protocol=protocol)
            structure.base.extras.set('qdots', {**extras, 'configuration': entry['configuration']})
        lines = ', '.join(
            f'{e["configuration"]}: arrangement {e["arrangement"]} (+{e["relative_energy_mev"]:.1f} meV)'
            for e in ranking['ranking']
        )
        self.report(f'ranking by energy: {lines}')
        if self.ctx.failed:
            return self.exit_codes.ERROR_SOME_ARRANGEMENTS_FAILED.format(failed=failed)
