"""Study A as a dataset: ``qdots.configuration`` (one cluster: AIMD -> electronic -> NAMD) and ``qdots.study``
(many configurations, throttled, failures isolated).

Every finished stage is filed at once into ``qdots/<study>/<system>/<configuration>/<stage>`` with ``qdots`` extras
(:mod:`aiida_qdots.common.filing`), so a stopped or partly failed study keeps what it finished.
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, while_

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.filing import (
    EXTRAS_KEY,
    file_stage,
    register_study,
    study_group_label,
    validate_study_label,
)
from aiida_qdots.functions.clusters import build_cluster, cluster_extras
from aiida_qdots.protocols import ProtocolMixin
from aiida_qdots.provisioning.codes import check_code_plugin
from aiida_qdots.structures.clusters import COMPOSITIONS, get_composition
from aiida_qdots.workchains.aimd import AimdWorkChain
from aiida_qdots.workchains.electronic import ElectronicWorkChain
from aiida_qdots.workchains.labelled import LabelledOutputsMixin
from aiida_qdots.workchains.ligand_ranking import validate_arrangements, validate_composition
from aiida_qdots.workchains.namd import NamdWorkChain

STAGES = {'aimd': AimdWorkChain, 'electronic': ElectronicWorkChain, 'namd': NamdWorkChain}
"""The stages of one configuration, in order, and the workchain of each."""


def configuration_label(arrangement: int) -> str:
    """Group-path name of a ligand arrangement (the configuration of the cluster)."""
    return f'arrangement-{arrangement}'


def configuration_key(composition: str, arrangement: int) -> str:
    """Call link label of a configuration in a study (``se_rich_arrangement_0``)."""
    return f'{composition.replace("-", "_")}_arrangement_{arrangement}'


def stage_protocol_inputs(protocol: str, overrides: dict) -> dict[str, dict]:
    """Each stage's full protocol inputs for ``protocol`` with its ``overrides``; QdotsInputError when any is bad."""
    unknown = sorted(set(overrides) - set(STAGES))
    if unknown:
        raise QdotsInputError(f'unknown stage(s) {", ".join(unknown)} in overrides; stages: {", ".join(STAGES)}')
    resolved = {}
    for stage, workchain in STAGES.items():
        stage_overrides = dict(overrides.get(stage, {}))
        stage_overrides.pop('method', None)  # checked by the cluster_energy protocol when the stage is built
        resolved[stage] = workchain.get_protocol_inputs(protocol, stage_overrides)
    return resolved


def validate_stage_inputs(inputs, _ctx=None):
    """``protocol`` must exist for every stage and ``overrides`` may hold only known stages and keys."""
    try:
        stage_protocol_inputs(inputs['protocol'].value, inputs['overrides'].get_dict())
    except (KeyError, QdotsInputError) as exc:
        return str(exc)


def validate_study(value, _ctx=None):
    return validate_study_label(value.value)


class ConfigurationWorkChain(LabelledOutputsMixin, WorkChain):
    """One magic-size cluster configuration: build it, AIMD at 300 K, then levels and NAMD of the trajectory.

    The stage builders come from each stage workchain's ``get_builder_from_protocol`` with ``protocol`` and the
    stage's entry of ``overrides``; electronic and NAMD are built from the AIMD trajectory once it exists.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'composition',
            valid_type=orm.Str,
            validator=validate_composition,
            help="'se-rich' (Cd17Se28H22) or 'cd-rich' (Cd28Se17Cl22).",
        )
        spec.input(
            'arrangement',
            valid_type=orm.Int,
            validator=lambda v, _: validate_arrangements(orm.List([v.value])),
            help='Index of the symmetry-distinct ligand arrangement (aiida-qdots clusters).',
        )
        spec.input('cp2k_code', valid_type=orm.AbstractCode, validator=lambda v, _: check_code_plugin(v, 'cp2k'))
        spec.input('python_code', valid_type=orm.AbstractCode, help='Python with aiida-qdots and PySCF (NAMD).')
        spec.input(
            'dish_code',
            valid_type=orm.AbstractCode,
            required=False,
            help='Run the NAMD recombination analysis as a qdots.dish job with this code.',
        )
        spec.input('protocol', valid_type=orm.Str, help='Protocol of every stage (fast, moderate, precise).')
        spec.input(
            'overrides',
            valid_type=orm.Dict,
            default=lambda: orm.Dict(),
            help='{"aimd": {...}, "electronic": {...}, "namd": {...}}: merged into each stage protocol.',
        )
        spec.input(
            'study',
            valid_type=orm.Str,
            required=False,
            validator=validate_study,
            help='Study label: file every finished stage into qdots/<study>/<system>/<configuration>/<stage>.',
        )
        spec.inputs.validator = validate_stage_inputs
        spec.outline(
            cls.setup,
            cls.run_aimd,
            cls.inspect_aimd,
            cls.run_electronic,
            cls.inspect_electronic,
            cls.run_namd,
            cls.inspect_namd,
        )
        for stage, workchain in STAGES.items():
            spec.expose_outputs(workchain, namespace=stage, namespace_options={'required': False})
        spec.output('structure', valid_type=orm.StructureData, help='The built cluster (before relaxation).')
        spec.exit_code(480, 'ERROR_AIMD_FAILED', message='qdots.aimd<{pk}> failed: {message}')
        spec.exit_code(481, 'ERROR_ELECTRONIC_FAILED', message='qdots.electronic<{pk}> failed: {message}')
        spec.exit_code(482, 'ERROR_NAMD_FAILED', message='qdots.namd<{pk}> failed: {message}')

    def setup(self):
        composition, arrangement = self.inputs.composition.value, self.inputs.arrangement.value
        self.ctx.structure = build_cluster(self.inputs.composition, self.inputs.arrangement)
        self.out('structure', self.ctx.structure)
        recipe = get_composition(composition)
        self.ctx.system = recipe.formula
        self.ctx.configuration = configuration_label(arrangement)
        protocol = self.inputs.protocol.value
        production = stage_protocol_inputs(protocol, self.inputs.overrides.get_dict())['aimd']['stages'][-1]
        self.ctx.extras = cluster_extras(
            composition, arrangement, protocol=protocol, temperature_k=float(production['temperature'])
        )
        self.ctx.structure.base.extras.set(EXTRAS_KEY, self.ctx.extras)
        where = (
            f'qdots/{self.inputs.study.value}/{self.ctx.system}/{self.ctx.configuration}'
            if 'study' in self.inputs
            else 'no study group'
        )
        self.report(f'{self.ctx.system} {self.ctx.configuration} ({protocol}): AIMD -> electronic -> NAMD; {where}')

    def _overrides(self, stage: str) -> dict:
        return self.inputs.overrides.get_dict().get(stage, {})

    def _launch(self, stage: str, builder):
        builder.metadata.call_link_label = stage
        node = self.submit(builder)
        self.report(f'{stage}: launched {node.process_label}<{node.pk}>')
        return ToContext(**{stage: node})

    def _finish_stage(self, stage: str, exit_code):
        """Expose and file a finished stage; return ``exit_code`` formatted when it failed (nothing is filed)."""
        node = self.ctx[stage]
        if not node.is_finished_ok:
            self.report(f'{stage}: {node.process_label}<{node.pk}> failed with exit status {node.exit_status}')
            return exit_code.format(pk=node.pk, message=node.exit_message or f'exit status {node.exit_status}')
        self.out_many(self.exposed_outputs(node, STAGES[stage], namespace=stage))
        if 'study' in self.inputs:
            group = file_stage(
                node, self.inputs.study.value, self.ctx.system, self.ctx.configuration, stage, self.ctx.extras
            )
            self.report(f'{stage}: finished; filed into {group.label}')
        return None

    def run_aimd(self):
        builder = AimdWorkChain.get_builder_from_protocol(
            self.inputs.cp2k_code, self.ctx.structure, self.inputs.protocol.value, self._overrides('aimd')
        )
        return self._launch('aimd', builder)

    def inspect_aimd(self):
        return self._finish_stage('aimd', self.exit_codes.ERROR_AIMD_FAILED)

    def run_electronic(self):
        builder = ElectronicWorkChain.get_builder_from_protocol(
            self.inputs.cp2k_code,
            self.ctx.aimd.outputs.trajectory,
            self.inputs.protocol.value,
            self._overrides('electronic'),
        )
        return self._launch('electronic', builder)

    def inspect_electronic(self):
        return self._finish_stage('electronic', self.exit_codes.ERROR_ELECTRONIC_FAILED)

    def run_namd(self):
        builder = NamdWorkChain.get_builder_from_protocol(
            self.inputs.cp2k_code,
            self.inputs.python_code,
            self.ctx.aimd.outputs.trajectory,
            self.inputs.protocol.value,
            self._overrides('namd'),
        )
        if 'dish_code' in self.inputs:
            builder.dish_code = self.inputs.dish_code
        return self._launch('namd', builder)

    def inspect_namd(self):
        return self._finish_stage('namd', self.exit_codes.ERROR_NAMD_FAILED)


def validate_compositions(value, _ctx=None):
    names = value.get_list()
    if not names:
        return 'give at least one composition'
    for name in names:
        message = validate_composition(orm.Str(name))
        if message:
            return message
    if len({get_composition(n).name for n in names}) != len(names):
        return f'compositions {names} name one composition twice'


class StudyWorkChain(LabelledOutputsMixin, ProtocolMixin, WorkChain):
    """Study A: ``qdots.configuration`` for every (composition, ligand arrangement), ``max_concurrent`` at a time.

    A failed configuration does not stop the others; ``summary`` says which failed, in which stage and why.
    """

    _protocol_file = 'study.yaml'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'study',
            valid_type=orm.Str,
            validator=validate_study,
            help='Study label; its nodes are filed under the group qdots/<study>.',
        )
        spec.input(
            'compositions',
            valid_type=orm.List,
            validator=validate_compositions,
            help=f'Cluster compositions: {", ".join(COMPOSITIONS)}.',
        )
        spec.input(
            'arrangements',
            valid_type=orm.List,
            validator=validate_arrangements,
            help='Ligand-arrangement indices run for every composition (the paper: 6).',
        )
        spec.input(
            'max_concurrent',
            valid_type=orm.Int,
            default=lambda: orm.Int(2),
            validator=lambda v, _: None if v.value >= 1 else 'max_concurrent must be >= 1',
            help='Configurations running at once.',
        )
        spec.expose_inputs(
            ConfigurationWorkChain, namespace='configuration', exclude=('composition', 'arrangement', 'study')
        )
        spec.outline(cls.setup, while_(cls.has_pending)(cls.run_batch, cls.inspect_batch), cls.finalise)
        spec.output(
            'summary',
            valid_type=orm.Dict,
            help='Per configuration: system, arrangement, state, failed stage and message, node PKs.',
        )
        spec.exit_code(
            470, 'ERROR_SOME_CONFIGURATIONS_FAILED', message='{n_failed} of {n_total} configurations failed: {failed}'
        )
        spec.exit_code(471, 'ERROR_ALL_CONFIGURATIONS_FAILED', message='every configuration failed: {failed}')

    @classmethod
    def get_builder_from_protocol(
        cls,
        cp2k_code: orm.AbstractCode,
        python_code: orm.AbstractCode,
        study: str,
        compositions: list[str],
        arrangements: list[int],
        protocol: str | None = None,
        overrides: dict | None = None,
    ):
        """Builder for ``protocol``; ``overrides`` holds ``max_concurrent`` and, under ``stages``, per-stage
        overrides (``{"aimd": {...}, "electronic": {...}, "namd": {...}}``). Bad input raises QdotsInputError."""
        protocol = protocol or cls.get_default_protocol()
        inputs = cls.get_protocol_inputs(protocol, overrides)
        stage_protocol_inputs(protocol, inputs['stages'])
        study_group_label(study)
        builder = cls.get_builder()
        builder.study = orm.Str(study)
        builder.compositions = orm.List([get_composition(c).name for c in compositions])
        builder.arrangements = orm.List([int(a) for a in arrangements])
        builder.max_concurrent = orm.Int(inputs['max_concurrent'])
        builder.configuration.cp2k_code = cp2k_code
        builder.configuration.python_code = python_code
        builder.configuration.protocol = orm.Str(protocol)
        builder.configuration.overrides = orm.Dict(inputs['stages'])
        builder.metadata.label = study
        builder.metadata.description = (
            f'study {study}: {", ".join(builder.compositions.get_list())} x arrangements '
            f'{builder.arrangements.get_list()} ({protocol})'
        )
        return builder

    def setup(self):
        group = register_study(self.node, self.inputs.study.value, 'study', self.inputs.configuration.protocol.value)
        self.ctx.pending = [
            (c, a) for c in self.inputs.compositions.get_list() for a in self.inputs.arrangements.get_list()
        ]
        self.ctx.launched = []
        self.report(
            f'{len(self.ctx.pending)} configurations, {self.inputs.max_concurrent.value} at a time; group {group.label}'
        )

    def has_pending(self):
        return bool(self.ctx.pending)

    def run_batch(self):
        size = self.inputs.max_concurrent.value
        batch, self.ctx.pending = self.ctx.pending[:size], self.ctx.pending[size:]
        inputs = self.exposed_inputs(ConfigurationWorkChain, namespace='configuration')
        for composition, arrangement in batch:
            key = configuration_key(composition, arrangement)
            metadata = {**inputs.get('metadata', {}), 'call_link_label': key}
            node = self.submit(
                ConfigurationWorkChain,
                **{
                    **inputs,
                    'composition': orm.Str(composition),
                    'arrangement': orm.Int(arrangement),
                    'study': self.inputs.study,
                    'metadata': metadata,
                },
            )
            self.report(f'{composition} arrangement {arrangement}: launched qdots.configuration<{node.pk}>')
            self.ctx.launched.append(key)
            self.to_context(**{key: node})

    def inspect_batch(self):
        done = sum(1 for key in self.ctx.launched if self.ctx[key].is_finished_ok)
        self.report(
            f'{done} of {len(self.ctx.launched)} launched configurations finished; {len(self.ctx.pending)} waiting'
        )

    def finalise(self):
        entries, failed = {}, []
        for key in self.ctx.launched:
            node = self.ctx[key]
            finished = [s for s in STAGES if s in node.outputs]
            entry = {
                'composition': node.inputs.composition.value,
                'arrangement': node.inputs.arrangement.value,
                'pk': node.pk,
                'uuid': node.uuid,
                'exit_status': node.exit_status,
                'finished_stages': finished,
                'ok': node.is_finished_ok,
            }
            if not node.is_finished_ok:
                entry['failed_stage'] = next((s for s in STAGES if s not in finished), None)
                entry['message'] = node.exit_message or f'exit status {node.exit_status}'
                failed.append(f'{key} ({entry["failed_stage"]}: {entry["message"]})')
            entries[key] = entry
        summary = orm.Dict(
            {
                'study': self.inputs.study.value,
                'configurations': entries,
                'n_total': len(entries),
                'n_failed': len(failed),
            }
        )
        self.out('summary', summary.store())
        self.report(
            f'{len(entries) - len(failed)} of {len(entries)} configurations finished'
            + (f'; failed: {"; ".join(failed)}' if failed else '')
        )
        if failed and len(failed) == len(entries):
            return self.exit_codes.ERROR_ALL_CONFIGURATIONS_FAILED.format(failed='; '.join(failed))
        if failed:
            return self.exit_codes.ERROR_SOME_CONFIGURATIONS_FAILED.format(
                n_failed=len(failed), n_total=len(entries), failed='; '.join(failed)
            )
