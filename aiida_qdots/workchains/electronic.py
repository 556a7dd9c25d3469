"""``qdots.electronic``: HOMO/LUMO fluctuations along a trajectory, one CP2K REFTRAJ job per chunk."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import ToContext, WorkChain, while_

from aiida_qdots.functions.electronic import collect_levels, level_statistics, select_frames
from aiida_qdots.protocols import ProtocolMixin, cp2k_method, recursive_merge, validated
from aiida_qdots.provisioning.codes import check_code_plugin
from aiida_qdots.structures.trajectory_nodes import trajectory_times
from aiida_qdots.workchains.cp2k_runs import Cp2kBaseWorkChain, cp2k_base_inputs, cp2k_calcs
from aiida_qdots.workchains.labelled import LabelledOutputsMixin


def select_frame_indices(times_fs: np.ndarray, stride_fs: float, window_fs: float | None) -> np.ndarray:
    """Indices of frames every ``stride_fs`` over the last ``window_fs`` (all frames when None), in fs."""
    dt = float(np.median(np.diff(times_fs))) if len(times_fs) > 1 else stride_fs
    stride = max(1, round(stride_fs / dt))
    start = 0 if window_fs is None else int(np.searchsorted(times_fs, times_fs[-1] - window_fs + 0.5 * dt))
    return np.arange(start, len(times_fs), stride)


def validate_selection(value, _ctx=None):
    selection = value.get_dict()
    if selection.get('stride_fs', 0) <= 0:
        return f'selection.stride_fs must be positive, got {selection.get("stride_fs")}'
    if selection.get('window_fs') is not None and selection['window_fs'] <= 0:
        return f'selection.window_fs must be positive or null, got {selection["window_fs"]}'


def selection_problem(times_fs: np.ndarray, selection: dict) -> str | None:
    """Why ``selection`` of frames at ``times_fs`` (fs) cannot be analysed (fewer than 2 frames), or None."""
    indices = select_frame_indices(times_fs, selection['stride_fs'], selection.get('window_fs'))
    if len(indices) < 2:
        return (
            f'the selection (stride {selection["stride_fs"]} fs, window {selection.get("window_fs")} fs) '
            f'keeps {len(indices)} frame(s) of a {times_fs[-1] - times_fs[0]:g} fs trajectory; need at least 2'
        )
    return None


def validate_inputs(inputs, ctx=None):
    if ctx is not None and 'trajectory' not in ctx:
        return None  # exposed without the trajectory: checked when the stage is launched
    try:
        times = trajectory_times(inputs['trajectory'])
    except ValueError as exc:
        return str(exc)
    return selection_problem(times, inputs['selection'].get_dict())


def orbital_method(elements: list[str], protocol: str | None, overrides: dict) -> dict:
    """CP2K method with virtual orbitals (:func:`~aiida_qdots.protocols.cp2k_method`, ``orbitals``) of the stages
    that re-evaluate frames (qdots.electronic, qdots.namd); pops their ``method`` and ``scf`` from ``overrides``."""
    method = recursive_merge(overrides.pop('method', {}), {'orbitals': {'scf': overrides.pop('scf', {})}})
    return cp2k_method(elements, protocol, method, orbitals=True)


MOLDEN_EVERY_STEP = {'MO_MOLDEN': {'NDIGITS': 12, 'GTO_KIND': 'SPHERICAL', 'EACH': {'MD': 1}}}
"""&PRINT section writing one MOLDEN file per REFTRAJ frame (step s = frame s - 1), read by qdots.overlaps."""


PREVIOUS_WFN = './parent_calc/aiida-RESTART.wfn'
"""The previous chunk's last converged wavefunction (its run folder is linked as ``parent_calc``, aiida-cp2k)."""


def reftraj_parameters(parameters: dict, n_frames: int, molden: bool = False, restart: bool = False) -> dict:
    """CP2K input re-evaluating the ``n_frames`` frames of ``aiida-reftraj.xyz`` (written by aiida-cp2k).

    ``restart``: the first frame starts from the previous chunk's wavefunction (:data:`PREVIOUS_WFN`) instead of
    the protocol's guess; later frames extrapolate from the frames before them (``&QS EXTRAPOLATION``).
    """
    motion = {
        'MD': {
            'ENSEMBLE': 'REFTRAJ',
            'STEPS': n_frames,
            'REFTRAJ': {
                'TRAJ_FILE_NAME': 'aiida-reftraj.xyz',
                'EVAL_ENERGY_FORCES': True,
                'FIRST_SNAPSHOT': 1,
                'LAST_SNAPSHOT': n_frames,
            },
        }
    }
    updates = {'GLOBAL': {'RUN_TYPE': 'MD'}, 'MOTION': motion, 'FORCE_EVAL': {'DFT': {}}}
    if molden:
        updates['FORCE_EVAL']['DFT']['PRINT'] = MOLDEN_EVERY_STEP
    if restart:  # the key aiida-cp2k's restart handler sets too; CP2K warns and guesses when the file is missing
        updates['FORCE_EVAL']['DFT'].update({'RESTART_FILE_NAME': PREVIOUS_WFN, 'SCF': {'SCF_GUESS': 'RESTART'}})
    return recursive_merge(parameters, updates)


class ElectronicWorkChain(LabelledOutputsMixin, ProtocolMixin, WorkChain):
    """HOMO, LUMO, LUMO+1 and gap of trajectory frames every ``stride_fs`` over the last ``window_fs``.

    The frames are re-evaluated in chunks of ``chunk_frames``, each one ``cp2k.base`` REFTRAJ run
    (restart handler on; aiida-cp2k moves ``FIRST_SNAPSHOT`` on a restart) with diagonalisation and
    added MOs, and per-frame eigenvalues parsed by ``qdots.cp2k`` (every ``&MO`` block, not just the last).
    Each chunk after the first starts from the previous chunk's last wavefunction (``parent_calc_folder``).
    """

    _protocol_file = 'electronic.yaml'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'trajectory',
            valid_type=orm.TrajectoryData,
            help='Positions in angstrom; frame times from `times` (fs) or the `timestep_fs` attribute.',
        )
        spec.input('code', valid_type=orm.AbstractCode, validator=lambda v, _: check_code_plugin(v, 'cp2k'))
        spec.input('parameters', valid_type=orm.Dict, help='CP2K input without MOTION (method, SCF, &PRINT &MO).')
        spec.input(
            'selection',
            valid_type=orm.Dict,
            validator=validate_selection,
            help='{"stride_fs": 20, "window_fs": 10000}: frames every stride over the last window.',
        )
        spec.input(
            'chunk_frames',
            valid_type=orm.Int,
            validator=lambda v, _: None if v.value > 0 else 'chunk_frames must be positive',
        )
        spec.input('options', valid_type=orm.Dict)
        spec.input('max_iterations', valid_type=orm.Int, default=lambda: orm.Int(5))
        spec.inputs.validator = validate_inputs
        spec.outline(cls.setup, while_(cls.has_next_chunk)(cls.run_chunk, cls.inspect_chunk), cls.results)
        spec.output(
            'levels',
            valid_type=orm.ArrayData,
            help='homo, lumo, lumo_plus1, gap (eV), frame_index, time_fs: one entry per selected frame.',
        )
        spec.output('statistics', valid_type=orm.Dict, help='Mean and std (eV) of every level and the gap.')
        spec.exit_code(430, 'ERROR_CHUNK_FAILED', message='chunk {index} failed: cp2k.base exit status {exit_status}')
        spec.exit_code(
            431, 'ERROR_MISSING_LEVELS', message='chunk {index} gave orbital energies for {found} of {expected} frames'
        )

    @classmethod
    def get_builder_from_protocol(
        cls, code: orm.Code, trajectory: orm.TrajectoryData, protocol: str | None = None, overrides: dict | None = None
    ):
        """A complete, validated builder for ``protocol``; ``overrides`` merge into the protocol (``selection``,
        ``chunk_frames``, ``options``, ``max_iterations``), ``method`` into the CP2K method (cp2k_method.yaml) and
        ``scf`` into its orbitals' SCF."""
        builder = cls.get_builder()
        builder.trajectory = trajectory  # checks the type before the symbols are read
        builder._update(cls.get_builder_for_elements(code, trajectory.symbols, protocol, overrides)._inputs(prune=True))
        return validated(builder)

    @classmethod
    def get_builder_for_elements(
        cls, code: orm.Code, elements: list[str], protocol: str | None = None, overrides: dict | None = None
    ):
        """:meth:`get_builder_from_protocol` without the trajectory, for frames of ``elements`` (CP2K kinds)."""
        overrides = dict(overrides or {})
        parameters = orbital_method(elements, protocol, overrides)
        inputs = cls.get_protocol_inputs(protocol, overrides)
        builder = cls.get_builder()
        builder.code = code
        builder.parameters = orm.Dict(parameters)
        builder.selection = orm.Dict(inputs['selection'])
        builder.chunk_frames = orm.Int(inputs['chunk_frames'])
        builder.options = orm.Dict(inputs['options'])
        builder.max_iterations = orm.Int(inputs['max_iterations'])
        return builder

    def setup(self):
        selection = self.inputs.selection.get_dict()
        times = trajectory_times(self.inputs.trajectory)
        self.ctx.indices = select_frame_indices(times, selection['stride_fs'], selection.get('window_fs')).tolist()
        self.ctx.times = times[self.ctx.indices].tolist()
        size = self.inputs.chunk_frames.value
        self.ctx.chunks = [self.ctx.indices[k : k + size] for k in range(0, len(self.ctx.indices), size)]
        self.ctx.chunk = 0
        self.ctx.levels = {}
        self.report(
            f'{len(self.ctx.indices)} frames (t = {self.ctx.times[0]:g}..{self.ctx.times[-1]:g} fs) '
            f'in {len(self.ctx.chunks)} CP2K REFTRAJ job(s)'
        )

    def has_next_chunk(self):
        return self.ctx.chunk < len(self.ctx.chunks)

    def run_chunk(self):
        index = self.ctx.chunk
        frames = select_frames(self.inputs.trajectory, orm.List(self.ctx.chunks[index]))
        parameters = reftraj_parameters(
            self.inputs.parameters.get_dict(), len(self.ctx.chunks[index]), restart=index > 0
        )
        cp2k = {
            'code': self.inputs.code,
            'structure': frames.get_step_structure(0),
            'trajectory': frames,
            'parameters': orm.Dict(parameters),
            'metadata': {'options': self.inputs.options.get_dict()},
        }
        if index > 0:
            cp2k['parent_calc_folder'] = self.ctx.chunk_node.outputs.remote_folder
        inputs = cp2k_base_inputs(cp2k, f'chunk_{index:03d}', self.inputs.max_iterations)
        node = self.submit(Cp2kBaseWorkChain, **inputs)
        self.report(
            f'chunk {index}: frames {self.ctx.chunks[index][0]}..{self.ctx.chunks[index][-1]}: cp2k.base<{node.pk}>'
        )
        return ToContext(chunk_node=node)

    def inspect_chunk(self):
        node, index = self.ctx.chunk_node, self.ctx.chunk
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_CHUNK_FAILED.format(index=index, exit_status=node.exit_status)
        parts = [c.outputs.mo_energies for c in cp2k_calcs(node) if 'mo_energies' in c.outputs]
        expected = len(self.ctx.chunks[index])
        found = sum(len(p.get_array('gap')) for p in parts)
        if found != expected:
            return self.exit_codes.ERROR_MISSING_LEVELS.format(index=index, found=found, expected=expected)
        for run, part in enumerate(parts):
            self.ctx.levels[f'chunk_{index:03d}_run_{run}'] = part
        self.ctx.chunk += 1

    def results(self):
        levels = collect_levels(orm.List(self.ctx.indices), orm.List(self.ctx.times), **self.ctx.levels)
        self.out('levels', levels)
        statistics = level_statistics(levels)
        self.out('statistics', statistics)
        self.report(
            f'gap {statistics["gap"]["mean_ev"]:.3f} +- {statistics["gap"]["std_ev"]:.3f} eV, '
            f'HOMO std {statistics["homo"]["std_ev"]:.3f} eV, LUMO std {statistics["lumo"]["std_ev"]:.3f} eV'
        )
