"""Study B as a dataset (``qdots.lattice_study``): ``qdots.phonons`` for nanocrystal sizes and shells, then
``qdots.ued`` for every UED data set, driven by the d<u^2>/dT of a reference nanocrystal (optionally also for the
synthetic demo set, generated from that same d<u^2>/dT: one source of truth).

Phonons are filed into ``qdots/<study>/<formula>/<nanocrystal>/phonons``, UED fits into
``qdots/<study>/ued/<data set>/ued`` (:mod:`aiida_qdots.common.filing`). A failed nanocrystal or data set does not
stop the others.
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, while_

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.filing import EXTRAS_KEY, file_stage, register_study, study_group_label
from aiida_qdots.data.ued_patterns import is_pattern_node
from aiida_qdots.functions.nanocrystals import nanocrystal_structure
from aiida_qdots.functions.study import lattice_summary
from aiida_qdots.functions.ued import SYNTHETIC_OPTIONS, synthetic_ued_data
from aiida_qdots.functions.ued_patterns import SYNTHETIC_PATTERN_OPTIONS, md_states, synthetic_pattern_data
from aiida_qdots.protocols import recursive_merge, validated
from aiida_qdots.structures.nanocrystals import nanocrystal_from_recipe
from aiida_qdots.workchains.labelled import LabelledOutputsMixin
from aiida_qdots.workchains.phonons import PhononsWorkChain
from aiida_qdots.workchains.study import validate_study
from aiida_qdots.workchains.ued import UedWorkChain, validate_data, validate_pumps

UED_SYSTEM = 'ued'
"""The <system> path component of the UED stage groups."""
SYNTHETIC_SET = 'synthetic'
"""Name of the synthetic demo set among the UED data sets."""


PATTERN_DEMO_PHONONS = {
    'msd': {'temperatures': [280.0, 300.0, 320.0]},
    'pdf': {'temperatures': [300.0, 330.0]},
    'branch_from': 300.0,
}
"""MD of the synthetic pattern demo (K), under the user's phonon overrides: the pattern generator heats with the
pdf runs (300 K and above), the Debye-Waller route's Bragg slope comes from the MSD runs, both near the
experiment's working point (a heating of ~12 K from 300 K), and every run starts from the final configuration of
the 300 K one (one surface structure, as in a pumped particle); generator and route share only the 300 K run (the
reference), see docs/ued.md."""

PATTERN_DEMO_UED = {'model': {'free': ['tau_auger_ps', 'tau_trap_ps', 'heating_scale']}}
"""Fit of the synthetic pattern demo, under the user's UED overrides: the dT scale s is free (shared by the sets), so
the Bragg slope's error (16-21 % at the fast protocol) goes into s instead of into tau_AR, which it moves 5-7 x; on the
3 nm demo this brings tau_AR from 1 084 ps (statistical CI 975-1 205) to 640 (609-673) for 625 generated, s = 0.917
against the generator / route slope ratio 0.917 (docs/ued.md)."""


def reference_msd_slope(phonons: orm.WorkflowNode) -> orm.Dict | None:
    """The d<u^2>/dT Dict of a finished ``qdots.phonons`` run that calibrates the UED fits and makes the synthetic
    set (None when it has none): the one place the UED stages read the slope from."""
    return phonons.outputs.msd_slope if 'msd_slope' in phonons.outputs else None


def nanocrystal_key(recipe: dict) -> str:
    """Name of a nanocrystal in the study, e.g. ``d30A_shell2`` (diameter in angstrom, shell monolayers)."""
    diameter = f'{float(recipe["diameter"]):g}'.replace('.', 'p')
    return f'd{diameter}A_shell{int(recipe.get("shell_monolayers", 0))}'


def nanocrystal_recipe(text: str) -> dict:
    """``D[:S]`` (diameter D in nm, S CdS shell monolayers, e.g. ``2.2:1``) -> a ``build_nanocrystal`` recipe
    (diameter in angstrom); QdotsInputError for anything else or outside 0.5-20 nm and 0-20 monolayers."""
    diameter, _, shell = text.partition(':')
    try:
        recipe = {'diameter': 10.0 * float(diameter), 'shell_monolayers': int(shell or 0)}
    except ValueError:
        raise QdotsInputError(f'{text!r} is not DIAMETER_NM[:SHELL_MONOLAYERS], e.g. 3.0:2') from None
    if not 0.5 <= recipe['diameter'] / 10.0 <= 20.0 or not 0 <= recipe['shell_monolayers'] <= 20:
        raise QdotsInputError(f'{text!r}: diameter must be 0.5-20 nm and shell monolayers 0-20')
    return recipe


def ued_sets_problem(ued_data: dict, model: orm.Dict) -> str | None:
    """What is wrong with the first bad one of the UED data sets ``ued_data`` (name -> node) for ``model``, or None."""
    for name, node in ued_data.items():
        if problem := validate_data(node) or validate_pumps(node, model):
            return f'UED data set {name}: {problem}'
    return None


def validate_inputs(inputs, _ctx=None):
    structures = inputs.get('structures', {})
    data = {**inputs.get('ued_data', {}), **({SYNTHETIC_SET: True} if 'ued_synthetic' in inputs else {})}
    if not structures:
        return 'give at least one nanocrystal in `structures`'
    if data and 'ued_reference' not in inputs:
        return 'UED data sets need `ued_reference`: the nanocrystal whose d<u^2>/dT calibrates them'
    if 'ued_reference' in inputs and inputs['ued_reference'].value not in structures:
        return f'ued_reference {inputs["ued_reference"].value!r} is not one of the nanocrystals {sorted(structures)}'
    if data and 'msd' not in inputs['phonons']['parameters']['stages']:
        return 'UED data sets need the phonons `msd` stage (d<u^2>/dT)'
    if SYNTHETIC_SET in inputs.get('ued_data', {}) and 'ued_synthetic' in inputs:
        return f'the UED data set name {SYNTHETIC_SET!r} is taken by the synthetic set (ued_synthetic)'
    if problem := ued_sets_problem(inputs.get('ued_data', {}), inputs['ued']['model']):
        return problem
    options = inputs['ued_synthetic'].get_dict() if 'ued_synthetic' in inputs else {}
    known = ('patterns', *SYNTHETIC_PATTERN_OPTIONS) if options.get('patterns') else SYNTHETIC_OPTIONS
    unknown = set(options) - set(known)
    if unknown:
        return f'unknown ued_synthetic option(s) {", ".join(sorted(unknown))}; known: {", ".join(known)}'


class LatticeStudyWorkChain(LabelledOutputsMixin, WorkChain):
    """Phonons of each nanocrystal (one at a time: each LAMMPS job uses the whole node), then a UED fit per data
    set with the reference nanocrystal's ``msd_slope``."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'study',
            valid_type=orm.Str,
            validator=validate_study,
            help='Study label; its nodes are filed under the group qdots/<study>.',
        )
        spec.input_namespace(
            'structures',
            valid_type=orm.StructureData,
            dynamic=True,
            help='Nanocrystals by name (aiida-qdots build nanocrystal / nanocrystal_structure).',
        )
        spec.input('protocol', valid_type=orm.Str, help='Protocol the stage inputs were made from (in the extras).')
        spec.expose_inputs(
            PhononsWorkChain,
            namespace='phonons',
            exclude=('structure',),
            namespace_options={'help': 'Inputs of every phonons stage but its structure (one of `structures`).'},
        )
        spec.input_namespace(
            'ued_data',
            valid_type=orm.ArrayData,
            dynamic=True,
            required=False,
            help='UED data sets by name (aiida-qdots import ued).',
        )
        spec.input(
            'ued_synthetic',
            valid_type=orm.Dict,
            required=False,
            help="Also fit the synthetic demo UED set at the seed's conditions, generated from the reference's "
            f'msd_slope (options: {", ".join(SYNTHETIC_OPTIONS)}).',
        )
        spec.input(
            'ued_reference',
            valid_type=orm.Str,
            required=False,
            help='Name of the nanocrystal whose msd_slope calibrates the UED fits.',
        )
        spec.expose_inputs(
            UedWorkChain,
            namespace='ued',
            exclude=('data', 'msd_slope'),
            namespace_options={'help': "Inputs of every UED stage but its data and the reference's msd_slope."},
        )
        spec.inputs.validator = validate_inputs
        spec.outline(
            cls.setup,
            while_(cls.has_pending)(cls.run_phonons, cls.inspect_phonons),
            cls.run_ued,
            cls.inspect_ued,
            cls.finalise,
        )
        spec.output('summary', valid_type=orm.Dict, help='Per nanocrystal and data set: state, node PKs, message.')
        spec.exit_code(472, 'ERROR_SOME_STAGES_FAILED', message='{failed}')
        spec.exit_code(
            473,
            'ERROR_REFERENCE_FAILED',
            message='the reference nanocrystal {key} has no msd_slope ({message}); UED fits not run',
        )
        spec.exit_code(474, 'ERROR_SYNTHETIC_FAILED', message='the synthetic UED set was not made: {message}')

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        study: str,
        nanocrystals: list[dict],
        ued_data: dict[str, orm.ArrayData] | None = None,
        protocol: str | None = None,
        phonon_overrides: dict | None = None,
        ued_overrides: dict | None = None,
        ued_reference: str | None = None,
        ued_synthetic: dict | None = None,
    ):
        """Build and store the ``nanocrystals`` (recipes of ``build_nanocrystal``: ``diameter`` in angstrom,
        ``shell_monolayers``, ...) and return a complete, validated builder: the phonons and UED inputs of
        ``protocol`` with their overrides, checked against every nanocrystal and data set. The first nanocrystal
        is the UED reference by default. ``ued_synthetic`` (options of the synthetic set, {} for the defaults) adds
        the synthetic demo set, made from the reference's d<u^2>/dT. Bad input raises QdotsInputError before any
        nanocrystal is stored."""
        protocol = protocol or PhononsWorkChain.get_default_protocol()
        study_group_label(study)
        if not nanocrystals:
            raise QdotsInputError('give at least one nanocrystal recipe')
        keys = [nanocrystal_key(recipe) for recipe in nanocrystals]
        if len(set(keys)) != len(keys):
            raise QdotsInputError(f'nanocrystals {keys} name one nanocrystal twice')
        if (ued_synthetic or {}).get('patterns'):
            phonon_overrides = recursive_merge(PATTERN_DEMO_PHONONS, phonon_overrides or {})
            ued_overrides = recursive_merge(PATTERN_DEMO_UED, ued_overrides or {})
        ued = UedWorkChain.get_protocol_builder(protocol, ued_overrides)
        if problem := ued_sets_problem(ued_data or {}, ued.model):
            raise QdotsInputError(problem)
        PhononsWorkChain.get_protocol_inputs(protocol, phonon_overrides)  # a bad override fails before any build
        for recipe in nanocrystals:
            nanocrystal_from_recipe(recipe)  # every recipe is checked before the first is stored
        structures = {key: nanocrystal_structure(**recipe) for key, recipe in zip(keys, nanocrystals, strict=True)}
        phonons = {
            key: PhononsWorkChain.get_builder_from_protocol(code, structure, protocol, phonon_overrides)
            for key, structure in structures.items()
        }
        builder = cls.get_builder()
        builder.study = orm.Str(study)
        builder.protocol = orm.Str(protocol)
        builder.structures = structures
        builder.phonons = {k: v for k, v in phonons[keys[0]]._inputs(prune=True).items() if k != 'structure'}
        builder.ued = ued._inputs(prune=True)
        if ued_data:
            builder.ued_data = dict(ued_data)
        if ued_synthetic is not None:
            builder.ued_synthetic = orm.Dict(ued_synthetic)
        if ued_data or ued_synthetic is not None:
            builder.ued_reference = orm.Str(ued_reference or keys[0])
        n_sets = len(ued_data or {}) + (ued_synthetic is not None)
        builder.metadata.label = study
        builder.metadata.description = f'lattice study {study}: {", ".join(keys)}; {n_sets} UED set(s)'
        return validated(builder)

    def setup(self):
        group = register_study(self.node, self.inputs.study.value, 'lattice_study', self.inputs.protocol.value)
        self.ctx.pending = sorted(self.inputs.structures)
        self.ctx.entries, self.ctx.failed = {}, []
        self.report(
            f'{len(self.ctx.pending)} nanocrystal(s), {len(self.inputs.get("ued_data", {}))} UED set(s)'
            f'{" and the synthetic set" if "ued_synthetic" in self.inputs else ""}; '
            f'group {group.label}'
        )

    def has_pending(self):
        return bool(self.ctx.pending)

    def run_phonons(self):
        """One nanocrystal at a time: every LAMMPS job of qdots.phonons uses the whole node."""
        key = self.ctx.pending[0]
        inputs = self.exposed_inputs(PhononsWorkChain, namespace='phonons')
        metadata = {**inputs.get('metadata', {}), 'call_link_label': f'phonons_{key}'}
        node = self.submit(
            PhononsWorkChain, **{**inputs, 'structure': self.inputs.structures[key], 'metadata': metadata}
        )
        self.report(f'{key}: launched qdots.phonons<{node.pk}>')
        return ToContext(**{f'phonons_{key}': node})

    def _record(self, key: str, node, stage: str, system: str, configuration: str, extras: dict):
        entry = {
            'stage': stage,
            'pk': node.pk,
            'uuid': node.uuid,
            'ok': node.is_finished_ok,
            'exit_status': node.exit_status,
        }
        if node.is_finished_ok:
            group = file_stage(node, self.inputs.study.value, system, configuration, stage, extras)
            self.report(f'{key}: {stage} finished; filed into {group.label}')
        else:
            entry['message'] = node.exit_message or f'exit status {node.exit_status}'
            self.ctx.failed.append(f'{key} ({stage}: {entry["message"]})')
            self.report(f'{key}: {stage} failed ({entry["message"]})')
        self.ctx.entries[key] = entry

    def inspect_phonons(self):
        key = self.ctx.pending.pop(0)
        node, structure = self.ctx[f'phonons_{key}'], self.inputs.structures[key]
        recipe = structure.base.extras.get(EXTRAS_KEY, {})
        extras = {
            'kind': 'nanocrystal',
            'protocol': self.inputs.protocol.value,
            **{
                k: recipe[k]
                for k in ('composition', 'lattice', 'diameter_requested', 'shell_monolayers', 'formula')
                if k in recipe
            },
        }
        self._record(key, node, 'phonons', structure.get_formula(), key, extras)

    def ued_sets(self) -> dict:
        """The UED data sets by name: the given ones, and the synthetic set once it is made."""
        return {**self.inputs.get('ued_data', {}), **self.ctx.get('synthetic', {})}

    def run_ued(self):
        if not self.inputs.get('ued_data') and 'ued_synthetic' not in self.inputs:
            return None
        key = self.inputs.ued_reference.value
        reference = self.ctx[f'phonons_{key}']
        slope = reference_msd_slope(reference)
        if slope is None:
            return self.exit_codes.ERROR_REFERENCE_FAILED.format(
                key=key, message=reference.exit_message or f'exit status {reference.exit_status}'
            )
        if 'ued_synthetic' in self.inputs:
            try:
                self.ctx.synthetic = {SYNTHETIC_SET: self.make_synthetic(reference, slope)}
            except ValueError as error:  # e.g. the pdf runs' measured temperatures are not cold < hot
                return self.exit_codes.ERROR_SYNTHETIC_FAILED.format(message=error)
            self.report(f'synthetic UED set made with d<u^2>/dT of {key}: {self.ctx.synthetic[SYNTHETIC_SET].pk}')
        processes = {}
        inputs = self.exposed_inputs(UedWorkChain, namespace='ued')
        md = {'md_diffraction': reference.outputs.diffraction} if 'diffraction' in reference.outputs else {}
        for name, data in sorted(self.ued_sets().items()):
            metadata = {**inputs.get('metadata', {}), 'call_link_label': f'ued_{name}'}
            extra = md if is_pattern_node(data) else {}
            node = self.submit(
                UedWorkChain, **{**inputs, **extra, 'data': data, 'msd_slope': slope, 'metadata': metadata}
            )
            self.report(f'UED set {name}: launched qdots.ued<{node.pk}> with d<u^2>/dT of {key}')
            processes[f'ued_{name}'] = node
        return ToContext(**processes)

    def make_synthetic(self, reference: orm.WorkflowNode, slope: orm.Dict) -> orm.ArrayData:
        """The synthetic demo set: the peak table, or with ``patterns`` patterns I(Q, t) made by the diffraction
        forward model from the reference's NVE frames at its two pdf temperatures (its ``diffraction`` inputs), heated
        between them by the MD itself at the runs' measured temperatures (:func:`md_states`)."""
        options = self.inputs.ued_synthetic.get_dict()
        if not options.pop('patterns', False):
            return synthetic_ued_data(slope, self.inputs.ued_synthetic)
        states, md_options = md_states(reference.outputs.diffraction)
        return synthetic_pattern_data(msd_slope=slope, parameters=orm.Dict({**md_options, **options}), **states)

    def inspect_ued(self):
        for name, data in sorted(self.ued_sets().items()):
            extras = {
                'kind': 'ued_data_set',
                'protocol': self.inputs.protocol.value,
                'msd_slope_from': self.inputs.ued_reference.value,
                'data_label': data.label,
            }
            self._record(f'ued_{name}', self.ctx[f'ued_{name}'], 'ued', UED_SYSTEM, name, extras)

    def finalise(self):
        states = {key: orm.Dict(entry) for key, entry in self.ctx.entries.items()}
        self.out('summary', lattice_summary(self.inputs.study, **states))
        if self.ctx.failed:
            return self.exit_codes.ERROR_SOME_STAGES_FAILED.format(failed='; '.join(self.ctx.failed))
        self.report(f'{len(self.ctx.entries)} stage(s) finished')
