"""Study A as a dataset: ``qdots.configuration`` (one cluster: AIMD -> electronic -> NAMD) and ``qdots.study``
(many configurations, throttled, failures isolated).

Every finished stage is filed at once into ``qdots/<study>/<system>/<configuration>/<stage>`` with ``qdots`` extras
(:mod:`aiida_qdots.common.filing`), so a stopped or partly failed study keeps what it finished.
"""

from __future__ import annotations

import contextlib

import numpy as np
from aiida import orm
from aiida.engine import ToContext, WorkChain, if_, while_

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.filing import (
    EXTRAS_KEY,
    file_stage,
    register_study,
    study_group_label,
    validate_study_label,
)
from aiida_qdots.functions.clusters import build_cluster, cluster_extras
from aiida_qdots.functions.study import CONFIGURATION_STAGES, configuration_summary
from aiida_qdots.protocols import ProtocolMixin, load_protocol_file, protocol_inputs, validated
from aiida_qdots.structures.clusters import COMPOSITIONS, get_composition
from aiida_qdots.workchains.aimd import AimdWorkChain, stage_blocks
from aiida_qdots.workchains.electronic import ElectronicWorkChain, selection_problem
from aiida_qdots.workchains.labelled import LabelledOutputsMixin
from aiida_qdots.workchains.ligand_ranking import validate_arrangements, validate_composition
from aiida_qdots.workchains.namd import NamdWorkChain, window_problem
from aiida_qdots.workchains.vibrations import VibrationsWorkChain

STAGES = dict(zip(CONFIGURATION_STAGES, (AimdWorkChain, ElectronicWorkChain, NamdWorkChain), strict=True))
"""The stages of one configuration, in order, and the workchain of each."""
PLUGGED_IN = {'aimd': 'structure', 'electronic': 'trajectory', 'namd': 'trajectory'}
"""The input of each stage that exists only at run time (the built cluster, the AIMD trajectory)."""
OPTIONAL_STAGES = {'vibrations': VibrationsWorkChain}
"""Stages run only when their inputs are given: normal modes and Raman of the relaxed cluster (qdots.vibrations)."""
ALL_STAGES = {**STAGES, **OPTIONAL_STAGES}
STUDY_PROTOCOL_FILE = 'study.yaml'
"""Protocols of qdots.study and of its configurations (``stages``: per-stage overrides of each protocol)."""


def configuration_label(arrangement: int) -> str:
    """Group-path name of a ligand arrangement (the configuration of the cluster)."""
    return f'arrangement-{arrangement}'


def configuration_key(composition: str, arrangement: int) -> str:
    """Call link label of a configuration in a study (``se_rich_arrangement_0``)."""
    return f'{composition.replace("-", "_")}_arrangement_{arrangement}'


def composition_elements(composition: str) -> list[str]:
    """Elements of a magic-size cluster composition (CP2K kinds)."""
    recipe = get_composition(composition)
    return sorted({recipe.core_species, recipe.surface_species, recipe.ligand})


@contextlib.contextmanager
def stage_named(stage: str):
    """Re-raise a builder's ValueError (QdotsInputError, a port validator's message) as QdotsInputError naming the
    configuration ``stage``."""
    try:
        yield
    except ValueError as exc:
        raise QdotsInputError(f'{stage}: {exc}') from exc


def stage_inputs(
    cp2k_code: orm.AbstractCode,
    python_code: orm.AbstractCode,
    elements: list[str],
    protocol: str,
    overrides: dict,
) -> dict[str, dict]:
    """Every stage's complete inputs but the structure or trajectory (:data:`PLUGGED_IN`), for clusters of
    ``elements``, from each stage's ``protocol`` with its entry of ``overrides``.

    The electronic frame selection and the NAMD window are resolved on the production trajectory the AIMD inputs
    will make (one frame per MD step). QdotsInputError (or a port's ValueError) names a bad stage, key or value.
    """
    overrides = {key: value for key, value in overrides.items() if key not in OPTIONAL_STAGES}
    unknown = sorted(set(overrides) - set(STAGES))
    if unknown:
        raise QdotsInputError(f'unknown stage(s) {", ".join(unknown)} in overrides; stages: {", ".join(STAGES)}')
    with stage_named('aimd'):
        aimd = AimdWorkChain.get_builder_for_elements(cp2k_code, elements, protocol, overrides.get('aimd'))
    production = next(s for s in aimd.stages.get_list() if s['name'] == 'production')
    n_frames = sum(steps for _, steps in stage_blocks(production))
    timestep = aimd.timestep_fs.value
    with stage_named('electronic'):
        electronic = ElectronicWorkChain.get_builder_for_elements(
            cp2k_code, elements, protocol, overrides.get('electronic')
        )
        problem = selection_problem(timestep * np.arange(n_frames), electronic.selection.get_dict())
        if problem:
            raise QdotsInputError(f'{problem} (the AIMD production stage)')
    with stage_named('namd'):
        namd = NamdWorkChain.get_builder_for_elements(
            cp2k_code, python_code, elements, n_frames, timestep, protocol, overrides.get('namd')
        )
        problem = window_problem(namd.window.get_dict(), n_frames)
        if problem:
            raise QdotsInputError(f'{problem} (the AIMD production stage)')
    return {stage: builder._inputs(prune=True) for stage, builder in zip(STAGES, (aimd, electronic, namd), strict=True)}


def vibration_inputs(cp2k_code: orm.AbstractCode, elements: list[str], protocol: str, overrides: dict) -> dict:
    """Inputs of the optional ``vibrations`` stage but its structure, from ``overrides['vibrations']``. The stage
    relaxes its structure (the AIMD stage's relaxed one when there is one) to the tighter thresholds a Hessian needs
    (vibrations.yaml ``relax_geo_opt``)."""
    with stage_named('vibrations'):
        builder = VibrationsWorkChain.get_builder_for_elements(
            cp2k_code, elements, protocol, overrides.get('vibrations'), relax=True
        )
    return builder._inputs(prune=True)


def validate_study(value, _ctx=None):
    return validate_study_label(value.value)


class ConfigurationWorkChain(LabelledOutputsMixin, WorkChain):
    """One magic-size cluster configuration: build it, AIMD at 300 K, then levels and NAMD of the trajectory.

    Every stage's inputs are complete when the configuration is made (:meth:`get_builder_from_protocol`,
    :func:`stage_inputs`); at run time only the built cluster (AIMD) and the AIMD trajectory (electronic, NAMD)
    are plugged in.
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
        spec.input('protocol', valid_type=orm.Str, help='Protocol the stage inputs were made from (in the extras).')
        spec.input(
            'study',
            valid_type=orm.Str,
            required=False,
            validator=validate_study,
            help='Study label: file every finished stage into qdots/<study>/<system>/<configuration>/<stage>.',
        )
        for stage, workchain in STAGES.items():
            spec.expose_inputs(
                workchain,
                namespace=stage,
                exclude=(PLUGGED_IN[stage],),
                namespace_options={'help': f'Inputs of the {stage} stage but its {PLUGGED_IN[stage]}.'},
            )
        spec.expose_inputs(
            VibrationsWorkChain,
            namespace='vibrations',
            exclude=('structure',),
            namespace_options={
                'required': False,
                'populate_defaults': False,
                'help': 'Optional stage: normal modes and Raman of the AIMD-relaxed cluster (qdots.vibrations).',
            },
        )
        spec.outline(
            cls.setup,
            cls.run_aimd,
            cls.inspect_aimd,
            cls.run_electronic,
            cls.inspect_electronic,
            cls.run_namd,
            cls.inspect_namd,
            if_(cls.should_run_vibrations)(cls.run_vibrations, cls.inspect_vibrations),
        )
        for stage, workchain in ALL_STAGES.items():
            spec.expose_outputs(workchain, namespace=stage, namespace_options={'required': False})
        spec.output('structure', valid_type=orm.StructureData, help='The built cluster (before relaxation).')
        spec.exit_code(480, 'ERROR_AIMD_FAILED', message='qdots.aimd<{pk}> failed: {message}')
        spec.exit_code(481, 'ERROR_ELECTRONIC_FAILED', message='qdots.electronic<{pk}> failed: {message}')
        spec.exit_code(482, 'ERROR_NAMD_FAILED', message='qdots.namd<{pk}> failed: {message}')
        spec.exit_code(483, 'ERROR_VIBRATIONS_FAILED', message='qdots.vibrations<{pk}> failed: {message}')

    @classmethod
    def get_builder_from_protocol(
        cls,
        cp2k_code: orm.AbstractCode,
        python_code: orm.AbstractCode,
        composition: str,
        arrangement: int,
        protocol: str | None = None,
        overrides: dict | None = None,
        study: str | None = None,
        vibrations: bool | None = None,
    ):
        """A complete, validated builder for ``protocol`` (study.yaml's stage settings); ``overrides`` are per-stage
        overrides (``{"aimd": {...}, "electronic": {...}, "namd": {...}, "vibrations": {...}}``); ``vibrations``
        runs the optional stage (None: study.yaml's ``vibrations`` of the protocol). Bad input raises
        QdotsInputError."""
        protocol = protocol or load_protocol_file(STUDY_PROTOCOL_FILE)['default_protocol']
        resolved = protocol_inputs(STUDY_PROTOCOL_FILE, protocol, {'stages': overrides or {}}, cls.__name__)
        stages = resolved['stages']
        builder = cls.get_builder()
        builder.composition = orm.Str(get_composition(composition).name)
        builder.arrangement = orm.Int(arrangement)
        builder.protocol = orm.Str(protocol)
        if study is not None:
            builder.study = orm.Str(study)
        for stage, inputs in stage_inputs(
            cp2k_code, python_code, composition_elements(composition), protocol, stages
        ).items():
            builder[stage] = inputs
        if resolved['vibrations'] if vibrations is None else vibrations:
            builder.vibrations = vibration_inputs(cp2k_code, composition_elements(composition), protocol, stages)
        return validated(builder)

    def setup(self):
        composition, arrangement = self.inputs.composition.value, self.inputs.arrangement.value
        self.ctx.structure = build_cluster(self.inputs.composition, self.inputs.arrangement)
        self.out('structure', self.ctx.structure)
        recipe = get_composition(composition)
        self.ctx.system = recipe.formula
        self.ctx.configuration = configuration_label(arrangement)
        protocol = self.inputs.protocol.value
        production = next(s for s in self.inputs.aimd.stages.get_list() if s['name'] == 'production')
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

    def _launch(self, stage: str, plugged_in: orm.Data):
        """Submit ``stage`` with its resolved inputs and ``plugged_in`` as its :data:`PLUGGED_IN` input."""
        inputs = self.exposed_inputs(ALL_STAGES[stage], namespace=stage)
        metadata = {**inputs.get('metadata', {}), 'call_link_label': stage}
        port = PLUGGED_IN.get(stage, 'structure')
        node = self.submit(ALL_STAGES[stage], **{**inputs, port: plugged_in, 'metadata': metadata})
        self.report(f'{stage}: launched {node.process_label}<{node.pk}>')
        return ToContext(**{stage: node})

    def _finish_stage(self, stage: str, exit_code):
        """Expose and file a finished stage; return ``exit_code`` formatted when it failed (nothing is filed)."""
        node = self.ctx[stage]
        if not node.is_finished_ok:
            self.report(f'{stage}: {node.process_label}<{node.pk}> failed with exit status {node.exit_status}')
            return exit_code.format(pk=node.pk, message=node.exit_message or f'exit status {node.exit_status}')
        self.out_many(self.exposed_outputs(node, ALL_STAGES[stage], namespace=stage))
        if 'study' in self.inputs:
            group = file_stage(
                node, self.inputs.study.value, self.ctx.system, self.ctx.configuration, stage, self.ctx.extras
            )
            self.report(f'{stage}: finished; filed into {group.label}')
        return None

    def run_aimd(self):
        return self._launch('aimd', self.ctx.structure)

    def inspect_aimd(self):
        return self._finish_stage('aimd', self.exit_codes.ERROR_AIMD_FAILED)

    def run_electronic(self):
        return self._launch('electronic', self.ctx.aimd.outputs.trajectory)

    def inspect_electronic(self):
        return self._finish_stage('electronic', self.exit_codes.ERROR_ELECTRONIC_FAILED)

    def run_namd(self):
        return self._launch('namd', self.ctx.aimd.outputs.trajectory)

    def inspect_namd(self):
        return self._finish_stage('namd', self.exit_codes.ERROR_NAMD_FAILED)

    def should_run_vibrations(self):
        return 'vibrations' in self.inputs and bool(self.inputs.vibrations)

    def run_vibrations(self):
        aimd = self.ctx.aimd.outputs
        return self._launch('vibrations', aimd.relaxed_structure if 'relaxed_structure' in aimd else self.ctx.structure)

    def inspect_vibrations(self):
        return self._finish_stage('vibrations', self.exit_codes.ERROR_VIBRATIONS_FAILED)


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

    _protocol_file = STUDY_PROTOCOL_FILE

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
        """A complete, validated builder for ``protocol``; ``overrides`` holds ``max_concurrent`` and, under
        ``stages``, per-stage overrides (``{"aimd": {...}, "electronic": {...}, "namd": {...}}``). Every stage's inputs
        are resolved here, with CP2K kinds for every element of ``compositions`` (CP2K skips a kind that a cluster
        lacks). Bad input raises QdotsInputError naming the stage, key or value."""
        protocol = protocol or cls.get_default_protocol()
        inputs = cls.get_protocol_inputs(protocol, overrides)
        study_group_label(study)
        builder = cls.get_builder()
        builder.study = orm.Str(study)
        builder.compositions = orm.List([get_composition(c).name for c in compositions])
        builder.arrangements = orm.List([int(a) for a in arrangements])
        builder.max_concurrent = orm.Int(inputs['max_concurrent'])
        builder.configuration.protocol = orm.Str(protocol)
        elements = sorted({e for c in builder.compositions.get_list() for e in composition_elements(c)})
        for stage, stage_builder in stage_inputs(cp2k_code, python_code, elements, protocol, inputs['stages']).items():
            builder.configuration[stage] = stage_builder
        if inputs['vibrations']:
            builder.configuration.vibrations = vibration_inputs(cp2k_code, elements, protocol, inputs['stages'])
        builder.metadata.label = study
        builder.metadata.description = (
            f'study {study}: {", ".join(builder.compositions.get_list())} x arrangements '
            f'{builder.arrangements.get_list()} ({protocol})'
        )
        return validated(builder)

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
        lowest = min(self.inputs.arrangements.get_list())
        for composition, arrangement in batch:
            key = configuration_key(composition, arrangement)
            # vibrations only for the lowest-energy configuration (arrangement 0 = lowest, qdots.ligand_ranking)
            stage_inputs_of = {k: v for k, v in inputs.items() if k != 'vibrations' or arrangement == lowest}
            metadata = {**inputs.get('metadata', {}), 'call_link_label': key}
            node = self.submit(
                ConfigurationWorkChain,
                **{
                    **stage_inputs_of,
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
        states = {}
        for key in self.ctx.launched:
            node = self.ctx[key]
            states[key] = {
                'composition': node.inputs.composition.value,
                'arrangement': node.inputs.arrangement.value,
                'pk': node.pk,
                'uuid': node.uuid,
                'exit_status': node.exit_status,
                'finished_stages': [s for s in ALL_STAGES if s in node.outputs],
                'ok': node.is_finished_ok,
            }
            if not node.is_finished_ok:
                states[key]['message'] = node.exit_message or f'exit status {node.exit_status}'
        summary = configuration_summary(self.inputs.study, **{key: orm.Dict(state) for key, state in states.items()})
        self.out('summary', summary)
        entries = summary['configurations']
        failed = [f'{key} ({e["failed_stage"]}: {e["message"]})' for key, e in entries.items() if not e['ok']]
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
