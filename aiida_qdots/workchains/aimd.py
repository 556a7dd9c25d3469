"""``qdots.aimd``: CP2K ab initio MD of a cluster in stages and restartable segments."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_, while_

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.functions.aimd import EV_PER_PS, md_checks, merge_md_trajectories
from aiida_qdots.parsers.cp2k import MD_FILES
from aiida_qdots.protocols import METHOD_OVERRIDES, ProtocolMixin, cp2k_method, recursive_merge, validated
from aiida_qdots.provisioning.codes import check_code_plugin
from aiida_qdots.workchains.aimd_analysis import MIN_FRAMES, AimdAnalysisWorkChain
from aiida_qdots.workchains.cluster_energy import ClusterEnergyWorkChain
from aiida_qdots.workchains.cp2k_runs import Cp2kBaseWorkChain, cp2k_base_inputs, cp2k_calcs
from aiida_qdots.workchains.labelled import LabelledOutputsMixin

ENSEMBLES = ('NVT', 'NVE')
RESTART_FILE = 'aiida-1.restart'


def stage_blocks(stage: dict) -> list[tuple[float, int]]:
    """(temperature K, steps) blocks of a stage: one per temperature of a stepwise heating."""
    if 'temperatures' in stage:
        return [(float(t), int(stage['steps_per_temperature'])) for t in stage['temperatures']]
    return [(float(stage['temperature']), int(stage['steps']))]


def plan_segments(stages: list[dict], segment_steps: int) -> list[dict]:
    """Split stages into segments of at most ``segment_steps`` MD steps with global step numbers.

    Steps are counted from 0 (the initial frame) across all stages; segment ``k`` runs steps
    ``first_step..last_step`` inclusive.
    """
    segments, step = [], 0
    for stage in stages:
        for temperature, n_steps in stage_blocks(stage):
            done = 0
            while done < n_steps:
                size = min(segment_steps, n_steps - done)
                segments.append(
                    {
                        'stage': stage['name'],
                        'ensemble': stage['ensemble'],
                        'temperature': temperature,
                        'first_step': step + 1,
                        'last_step': step + size,
                    }
                )
                step += size
                done += size
    return segments


def validate_stages(value, _ctx=None):
    stages = value.get_list()
    if not stages:
        return 'give at least one MD stage'
    names = [stage.get('name') for stage in stages]
    if 'production' not in names:
        return f'one stage must be named "production" (the analysed one); got {names}'
    if len(set(names)) != len(names):
        return f'stage names repeat: {names}'
    for stage in stages:
        if stage.get('ensemble') not in ENSEMBLES:
            return f'stage {stage.get("name")!r}: ensemble must be one of {ENSEMBLES}, got {stage.get("ensemble")!r}'
        try:
            blocks = stage_blocks(stage)
        except (KeyError, TypeError, ValueError):
            return (
                f'stage {stage["name"]!r} needs `temperature` and `steps`, or `temperatures` and '
                '`steps_per_temperature`'
            )
        if any(t <= 0 or n <= 0 for t, n in blocks):
            return f'stage {stage["name"]!r}: temperatures and step counts must be positive, got {blocks}'


def validate_inputs(inputs, _ctx=None):
    """The analysis of the production trajectory needs :data:`MIN_FRAMES` frames: refuse shorter production runs
    up front instead of failing after the MD."""
    if not inputs.get('analysis') or 'stages' not in inputs:
        return None
    production = [s for s in inputs['stages'].get_list() if s.get('name') == 'production']
    try:
        steps = sum(n for _, n in stage_blocks(production[0]))
    except (IndexError, KeyError, TypeError, ValueError):
        return None  # validate_stages names the problem
    if steps < MIN_FRAMES:
        return (
            f'the production stage has {steps} steps; its analysis needs at least {MIN_FRAMES} frames '
            '(give more steps, or omit the analysis: overrides {"analysis": null})'
        )


def md_parameters(base: dict, segment: dict, timestep_fs: float, thermostat: dict, previous: dict | None) -> dict:
    """CP2K input of one segment: MD section, per-step trajectory/velocity/restart output, and,
    after the first segment, the restart from the previous segment's files in ``./parent_calc``.

    ``MAX_STEPS`` stops the segment at its last step even when ``cp2k.base`` restarts it after a
    kill, whereas ``STEPS`` counts from the restart point. CP2K 2023.1's last MD step is
    ``MAX_STEPS - 1`` (measured), hence the ``+ 1``.
    """
    md = {
        'ENSEMBLE': segment['ensemble'],
        'STEPS': segment['last_step'] - segment['first_step'] + 1,
        'MAX_STEPS': segment['last_step'] + 1,
        'TIMESTEP': timestep_fs,
        'TEMPERATURE': segment['temperature'],
    }
    if segment['ensemble'] == 'NVT':
        md['THERMOSTAT'] = {
            'TYPE': thermostat['type'],
            'REGION': 'MASSIVE',
            thermostat['type']: {'TIMECON': thermostat['timecon_fs']},
        }
    every_step = {'EACH': {'MD': 1}}
    motion = {
        'MD': md,
        'PRINT': {'TRAJECTORY': every_step, 'VELOCITIES': every_step, 'RESTART': {'BACKUP_COPIES': 0, **every_step}},
    }
    parameters = recursive_merge(base, {'GLOBAL': {'RUN_TYPE': 'MD'}, 'MOTION': motion})
    if previous is not None:
        both_nvt = previous['ensemble'] == segment['ensemble'] == 'NVT'
        parameters['EXT_RESTART'] = {
            'RESTART_FILE_NAME': f'./parent_calc/{RESTART_FILE}',
            'RESTART_DEFAULT': False,
            'RESTART_COUNTERS': True,
            'RESTART_POS': True,
            'RESTART_VEL': True,
            'RESTART_THERMOSTAT': both_nvt,
        }
        parameters = recursive_merge(
            parameters,
            {
                'FORCE_EVAL': {
                    'DFT': {'RESTART_FILE_NAME': './parent_calc/aiida-RESTART.wfn', 'SCF': {'SCF_GUESS': 'RESTART'}}
                }
            },
        )
    return parameters


class AimdWorkChain(LabelledOutputsMixin, ProtocolMixin, WorkChain):
    """Relax (optional), heat, equilibrate and run NVE production of a cluster with CP2K.

    Every stage is split into segments (``segment_steps``); each segment is one ``cp2k.base`` run
    with its restart handler enabled that continues from the previous segment's restart files
    (positions, velocities, thermostat, counters, wavefunction). Positions, velocities, energies and
    temperatures of every step are parsed by ``qdots.cp2k`` and merged into the production trajectory.
    """

    _protocol_file = 'aimd.yaml'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('structure', valid_type=orm.StructureData, help='The cluster (non-periodic box).')
        spec.input(
            'code',
            valid_type=orm.AbstractCode,
            validator=lambda v, _: check_code_plugin(v, 'cp2k'),
            help='The CP2K code.',
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            help='CP2K input without the MD section: the electronic method (cp2k_method protocols).',
        )
        spec.input(
            'stages',
            valid_type=orm.List,
            validator=validate_stages,
            help='MD stages in order: name, ensemble (NVT/NVE), temperature + steps or '
            'temperatures + steps_per_temperature. One is named "production".',
        )
        spec.input(
            'segment_steps',
            valid_type=orm.Int,
            validator=lambda v, _: None if v.value > 0 else 'segment_steps must be positive',
            help='Longest segment (one CP2K job), in MD steps.',
        )
        spec.input(
            'timestep_fs',
            valid_type=orm.Float,
            validator=lambda v, _: None if v.value > 0 else 'the time step must be positive',
            help='MD time step in fs.',
        )
        spec.input('thermostat', valid_type=orm.Dict, help='{"type": "CSVR", "timecon_fs": ...}')
        spec.input('options', valid_type=orm.Dict, help='CalcJob metadata options of every CP2K run.')
        spec.input(
            'max_iterations',
            valid_type=orm.Int,
            default=lambda: orm.Int(5),
            help='Restarts cp2k.base may make within one segment.',
        )
        spec.expose_inputs(
            ClusterEnergyWorkChain,
            namespace='relax',
            exclude=('structure',),
            namespace_options={
                'required': False,
                'populate_defaults': False,
                'help': 'Geometry optimisation before the MD; omit to skip.',
            },
        )
        spec.expose_inputs(
            AimdAnalysisWorkChain,
            namespace='analysis',
            exclude=('trajectory',),
            namespace_options={
                'required': False,
                'populate_defaults': False,
                'help': 'RMSF and power spectra of the production trajectory; omit to skip.',
            },
        )
        spec.outline(
            cls.setup,
            if_(cls.should_relax)(cls.run_relax, cls.inspect_relax),
            while_(cls.has_next_segment)(cls.run_segment, cls.inspect_segment),
            cls.results,
            if_(cls.should_analyze)(cls.run_analysis, cls.inspect_analysis),
        )
        spec.inputs.validator = validate_inputs
        spec.output('relaxed_structure', valid_type=orm.StructureData, required=False)
        spec.output(
            'trajectory',
            valid_type=orm.TrajectoryData,
            help='Production stage: positions (A), velocities (A/fs), times (fs), energies (eV), T (K).',
        )
        spec.output(
            'checks',
            valid_type=orm.Dict,
            help='Temperatures per NVT block; NVE energy drift and whether the NVE temperature is stationary.',
        )
        spec.expose_outputs(AimdAnalysisWorkChain, namespace='analysis', namespace_options={'required': False})
        spec.exit_code(420, 'ERROR_RELAXATION_FAILED', message='the geometry optimisation failed: {message}')
        spec.exit_code(
            421, 'ERROR_SEGMENT_FAILED', message='segment {index} ({stage}) failed: cp2k.base exit status {exit_status}'
        )
        spec.exit_code(
            422, 'ERROR_NO_RESTART_FILE', message='segment {index} left no {filename} to continue the MD from'
        )
        spec.exit_code(423, 'ERROR_NO_MD_FRAMES', message='segment {index} produced no parsed MD frames')
        spec.exit_code(
            424, 'ERROR_ANALYSIS_FAILED', message='the analysis of the (stored) production trajectory failed: {message}'
        )

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.Code,
        structure: orm.StructureData,
        protocol: str | None = None,
        overrides: dict | None = None,
        relax_code: orm.Code | None = None,
    ):
        """A complete, validated builder for ``protocol`` (``fast`` GFN1-xTB / ``moderate``, ``precise`` PBE-D3).

        ``overrides`` merge into the MD protocol (``stages``, ``segment_steps``, ``timestep_fs``, ``thermostat``,
        ``options``, ``relax``, ``analysis``); those under ``method`` are the overrides of the relaxation
        (qdots.cluster_energy), whose ``parameters`` and ``kinds`` also set the MD's CP2K method.
        """
        builder = cls.get_builder_for_elements(code, structure.get_kind_names(), protocol, overrides, relax_code)
        builder.structure = structure
        builder.metadata.description = f'AIMD of {structure.get_formula()} ({protocol or cls.get_default_protocol()})'
        return validated(builder)

    @classmethod
    def get_builder_for_elements(
        cls,
        code: orm.Code,
        elements: list[str],
        protocol: str | None = None,
        overrides: dict | None = None,
        relax_code: orm.Code | None = None,
    ):
        """:meth:`get_builder_from_protocol` without the structure, for a cluster of ``elements`` (CP2K kinds)."""
        overrides = dict(overrides or {})
        relax_overrides = overrides.pop('method', {})
        inputs = cls.get_protocol_inputs(protocol, overrides)
        method_overrides = {key: relax_overrides[key] for key in METHOD_OVERRIDES if key in relax_overrides}
        if not inputs['relax'] and set(relax_overrides) - set(METHOD_OVERRIDES):
            raise QdotsInputError(
                f'method override(s) {", ".join(sorted(set(relax_overrides) - set(METHOD_OVERRIDES)))} '
                'set the relaxation, which is off (relax: false)'
            )
        builder = cls.get_builder()
        builder.code = code
        builder.parameters = orm.Dict(cp2k_method(elements, protocol, method_overrides))
        builder.stages = orm.List(inputs['stages'])
        builder.segment_steps = orm.Int(inputs['segment_steps'])
        builder.timestep_fs = orm.Float(inputs['timestep_fs'])
        builder.thermostat = orm.Dict(inputs['thermostat'])
        builder.options = orm.Dict(inputs['options'])
        builder.max_iterations = orm.Int(inputs['max_iterations'])
        if inputs['relax']:
            relax = ClusterEnergyWorkChain.get_builder_for_elements(
                relax_code or code, elements, protocol, relax_overrides, relax=True
            )
            builder.relax = relax._inputs(prune=True)
        if inputs.get('analysis') is not None:
            builder.analysis.parameters = orm.Dict(inputs['analysis'])
        return builder

    def setup(self):
        self.ctx.plan = plan_segments(self.inputs.stages.get_list(), self.inputs.segment_steps.value)
        self.ctx.index = 0
        self.ctx.structure = self.inputs.structure
        self.ctx.segments = []
        self.report(
            f'{len(self.ctx.plan)} MD segments, steps 1..{self.ctx.plan[-1]["last_step"]} '
            f'at {self.inputs.timestep_fs.value} fs'
        )

    def should_relax(self):
        return 'relax' in self.inputs and bool(self.inputs.relax)

    def run_relax(self):
        inputs = self.exposed_inputs(ClusterEnergyWorkChain, namespace='relax')
        node = self.submit(ClusterEnergyWorkChain, **inputs, structure=self.inputs.structure)
        self.report(f'relaxing {self.inputs.structure.get_formula()}: qdots.cluster_energy<{node.pk}>')
        return ToContext(relax=node)

    def inspect_relax(self):
        node = self.ctx.relax
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_RELAXATION_FAILED.format(message=node.exit_message or node.exit_status)
        self.ctx.structure = node.outputs.structure
        self.out('relaxed_structure', node.outputs.structure)
        self.report(f'relaxed: energy {node.outputs.energy.value:.4f} eV')

    def has_next_segment(self):
        return self.ctx.index < len(self.ctx.plan)

    def run_segment(self):
        index = self.ctx.index
        segment = self.ctx.plan[index]
        previous = self.ctx.plan[index - 1] if index else None
        parameters = md_parameters(
            self.inputs.parameters.get_dict(),
            segment,
            self.inputs.timestep_fs.value,
            self.inputs.thermostat.get_dict(),
            previous,
        )
        cp2k = {
            'code': self.inputs.code,
            'structure': self.ctx.structure,
            'parameters': orm.Dict(parameters),
            'settings': orm.Dict({'additional_retrieve_list': [MD_FILES['velocities'], MD_FILES['energies']]}),
            'metadata': {'options': self.inputs.options.get_dict()},
        }
        if previous is not None:
            parent = self.ctx.segments[-1].outputs.remote_folder
            if RESTART_FILE not in parent.listdir():
                return self.exit_codes.ERROR_NO_RESTART_FILE.format(index=index - 1, filename=RESTART_FILE)
            cp2k['parent_calc_folder'] = parent
        node = self.submit(
            Cp2kBaseWorkChain, **cp2k_base_inputs(cp2k, f'segment_{index:03d}', self.inputs.max_iterations)
        )
        self.report(
            f'segment {index} ({segment["stage"]}, {segment["ensemble"]} {segment["temperature"]:g} K, '
            f'steps {segment["first_step"]}-{segment["last_step"]}): cp2k.base<{node.pk}>'
        )
        return ToContext(segment=node)

    def inspect_segment(self):
        node, index = self.ctx.segment, self.ctx.index
        segment = self.ctx.plan[index]
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_SEGMENT_FAILED.format(
                index=index, stage=segment['stage'], exit_status=node.exit_status
            )
        calcs = cp2k_calcs(node)
        if not any('md_trajectory' in c.outputs for c in calcs):
            return self.exit_codes.ERROR_NO_MD_FRAMES.format(index=index)
        if len(calcs) > 1:
            self.report(f'segment {index} needed {len(calcs)} CP2K runs; frames of all of them are kept')
        self.ctx.segments.append(node)
        self.ctx.index += 1

    def _segment_trajectories(self) -> dict[str, orm.TrajectoryData]:
        trajectories = {}
        for index, node in enumerate(self.ctx.segments):
            for run, calc in enumerate(cp2k_calcs(node)):
                if 'md_trajectory' in calc.outputs:
                    trajectories[f'segment_{index:03d}_run_{run}'] = calc.outputs.md_trajectory
        return trajectories

    def results(self):
        trajectories = self._segment_trajectories()
        production = [s for s in self.ctx.plan if s['stage'] == 'production']
        window = orm.Dict(
            {
                'stage': 'production',
                'first_step': production[0]['first_step'],
                'last_step': production[-1]['last_step'],
                'timestep_fs': self.inputs.timestep_fs.value,
            }
        )
        trajectory = merge_md_trajectories(window, **trajectories)
        self.out('trajectory', trajectory)
        checks = md_checks(orm.List(self.ctx.plan), **trajectories)
        self.out('checks', checks)
        for block in checks['blocks']:
            extra = (
                f'drift {block["drift_ev_per_atom_ps"]:.2e} {EV_PER_PS}; '
                f'{"stationary" if block["stationarity"]["converged"] else "NOT stationary"}: '
                f'{block["stationarity"]["reason"]}'
                if 'drift_ev_per_atom_ps' in block
                else f'within 10 %: {block["within_10_percent"]}'
            )
            self.report(
                f'{block["stage"]} {block["ensemble"]} {block["target_temperature_K"]:g} K: '
                f'mean {block["mean_temperature_K"]:.1f} K, {extra}'
            )
        self.report(f'production trajectory: {trajectory.numsteps} frames')
        self.ctx.trajectory = trajectory

    def should_analyze(self):
        return 'analysis' in self.inputs and bool(self.inputs.analysis)

    def run_analysis(self):
        inputs = self.exposed_inputs(AimdAnalysisWorkChain, namespace='analysis')
        node = self.submit(AimdAnalysisWorkChain, **inputs, trajectory=self.ctx.trajectory)
        self.report(f'analysing the production trajectory: qdots.aimd_analysis<{node.pk}>')
        return ToContext(analysis=node)

    def inspect_analysis(self):
        node = self.ctx.analysis
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_ANALYSIS_FAILED.format(message=node.exit_message or node.exit_status)
        self.out_many(self.exposed_outputs(node, AimdAnalysisWorkChain, namespace='analysis'))
        summary = node.outputs.summary
        rmsf = ', '.join(f'{el} {value:.3f}' for el, value in summary['rmsf_by_element'].items())
        self.report(f'RMSF (A): {rmsf}; main peak {summary["spectrum_peak_cm1"]:.1f} cm^-1')
