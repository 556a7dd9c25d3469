"""``qdots.namd``: MO energies and overlaps along an MD window -> NACs -> dephasing -> DISH recombination."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import ToContext, WorkChain, if_, while_

from aiida_qdots.calculations.dish import DishCalculation
from aiida_qdots.calculations.overlaps import OverlapsCalculation
from aiida_qdots.functions.electronic import select_frames
from aiida_qdots.functions.namd import assemble_hamiltonian, namd_analysis
from aiida_qdots.protocols import ProtocolMixin, validated
from aiida_qdots.provisioning.codes import check_code_plugin
from aiida_qdots.structures.trajectory_nodes import trajectory_times
from aiida_qdots.workchains.cp2k_runs import Cp2kBaseWorkChain, cp2k_base_inputs
from aiida_qdots.workchains.electronic import orbital_method, reftraj_parameters
from aiida_qdots.workchains.labelled import LabelledOutputsMixin


def namd_chunks(first: int, n_frames: int, chunk_frames: int) -> list[list[int]]:
    """Frame indices of the REFTRAJ chunks covering frames ``first .. first + n_frames - 1``, each frame once.

    Every REFTRAJ frame gets a MOLDEN file (step s is the chunk's frame s - 1); the pair across a chunk
    boundary is closed by the previous chunk's last MOLDEN file (``qdots.overlaps`` ``previous_folder``).
    """
    last = first + n_frames
    return [list(range(start, min(start + chunk_frames, last))) for start in range(first, last, chunk_frames)]


def window_problem(window: dict, n_total: int) -> str | None:
    """Why ``window`` (``first_frame``, ``n_frames``) does not fit a trajectory of ``n_total`` frames, or None."""
    first, n_frames = window.get('first_frame', 0), window.get('n_frames', 0)
    if n_frames < 4 or first < 0 or first + n_frames > n_total:
        return (
            f"window {window} must hold at least 4 frames inside the trajectory's {n_total} "
            '(first_frame >= 0, first_frame + n_frames <= frames)'
        )
    return None


class NamdWorkChain(LabelledOutputsMixin, ProtocolMixin, WorkChain):
    """Non-adiabatic MD in the classical path approximation over an MD window of a trajectory.

    1. CP2K REFTRAJ over every frame of the window once (chunks of ``chunk_frames``, each starting from the
       previous chunk's last wavefunction) writing MOLDEN files;
    2. ``qdots.overlaps`` next to each chunk's files (and the previous chunk's last one) -> energies and
       <i(t)|j(t+dt)> for the orbital window;
    3. ``assemble_hamiltonian`` -> ``namd_analysis``: NACs, dephasing, DISH recombination time with CI.
    """

    _protocol_file = 'namd.yaml'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('trajectory', valid_type=orm.TrajectoryData, help='MD trajectory with one frame per MD step.')
        spec.input('cp2k_code', valid_type=orm.AbstractCode, validator=lambda v, _: check_code_plugin(v, 'cp2k'))
        spec.input(
            'python_code',
            valid_type=orm.AbstractCode,
            validator=lambda v, _: check_code_plugin(v, 'python'),
            help='Python with aiida-qdots and PySCF.',
        )
        spec.input('parameters', valid_type=orm.Dict, help='CP2K input without MOTION (as qdots.electronic).')
        spec.input('window', valid_type=orm.Dict, help='{"first_frame": k, "n_frames": n} of the trajectory.')
        spec.input('orbitals', valid_type=orm.Dict, help='{"below": n, "above": m} orbitals around the gap.')
        spec.input(
            'chunk_frames',
            valid_type=orm.Int,
            validator=lambda v, _: None if v.value >= 3 else 'chunk_frames must be at least 3',
        )
        spec.input(
            'namd',
            valid_type=orm.Dict,
            help='duration_fs, n_realisations, initial_frames, temperature_k, convention, seed, n_bootstrap',
        )
        spec.input('options', valid_type=orm.Dict)
        spec.input(
            'dish_code',
            valid_type=orm.AbstractCode,
            required=False,
            help='Run the recombination analysis as a qdots.dish job with this code (large ensembles on a '
            'compute machine) instead of in the daemon; same outputs.',
        )
        spec.input(
            'dish_options',
            valid_type=orm.Dict,
            required=False,
            help='metadata.options of the qdots.dish job (resources, max_wallclock_seconds, queue_name...)',
        )
        spec.inputs.validator = cls.validate_inputs
        spec.outline(
            cls.setup,
            while_(cls.has_next_chunk)(cls.run_cp2k, cls.run_overlaps, cls.inspect_overlaps),
            cls.assemble,
            if_(cls.dish_as_job)(cls.run_dish, cls.inspect_dish).else_(cls.analyze),
            cls.results,
        )
        spec.output('hamiltonian', valid_type=orm.ArrayData, help='energies (eV), overlaps, frame_index, homo_index')
        spec.output('summary', valid_type=orm.Dict, help='mean |NAC| (meV), dephasing (fs), recombination (ns) + CI')
        spec.output('arrays', valid_type=orm.ArrayData, help='NAC and gap series, excited population and its fit')
        spec.exit_code(440, 'ERROR_CP2K_FAILED', message='chunk {index}: cp2k.base failed ({exit_status})')
        spec.exit_code(441, 'ERROR_OVERLAPS_FAILED', message='chunk {index}: qdots.overlaps failed: {message}')
        spec.exit_code(442, 'ERROR_DISH_FAILED', message='qdots.dish<{pk}> failed: {message}')

    @staticmethod
    def validate_inputs(inputs, ctx=None):
        if ctx is not None and 'trajectory' not in ctx:
            return None  # exposed without the trajectory: checked when the stage is launched
        return window_problem(inputs['window'].get_dict(), inputs['trajectory'].numsteps)

    @classmethod
    def get_builder_from_protocol(
        cls,
        cp2k_code: orm.Code,
        python_code: orm.Code,
        trajectory: orm.TrajectoryData,
        protocol: str | None = None,
        overrides: dict | None = None,
    ):
        """A complete, validated builder for ``protocol``; ``overrides`` merge into the protocol (``window``,
        ``orbitals``, ``chunk_frames``, ``namd``, ``options``), ``method`` into the CP2K method (cp2k_method.yaml)
        and ``scf`` into its orbitals' SCF, as for qdots.electronic."""
        builder = cls.get_builder()
        builder.trajectory = trajectory
        times = trajectory_times(trajectory)
        inputs = cls.get_builder_for_elements(
            cp2k_code,
            python_code,
            trajectory.symbols,
            trajectory.numsteps,
            float(np.median(np.diff(times))),
            protocol,
            overrides,
        )
        builder._update(inputs._inputs(prune=True))
        return validated(builder)

    @classmethod
    def get_builder_for_elements(
        cls,
        cp2k_code: orm.Code,
        python_code: orm.Code,
        elements: list[str],
        n_frames: int,
        timestep_fs: float,
        protocol: str | None = None,
        overrides: dict | None = None,
    ):
        """:meth:`get_builder_from_protocol` without the trajectory, for one of ``n_frames`` frames of ``elements``
        every ``timestep_fs`` (fs); the window ends at its last frame unless ``window.first_frame`` is given."""
        overrides = dict(overrides or {})
        parameters = orbital_method(elements, protocol, overrides)
        inputs = cls.get_protocol_inputs(protocol, overrides)
        window = dict(inputs['window'])
        window['n_frames'] = min(int(window['n_frames']), n_frames)
        window.setdefault('first_frame', n_frames - window['n_frames'])
        builder = cls.get_builder()
        builder.cp2k_code = cp2k_code
        builder.python_code = python_code
        builder.parameters = orm.Dict(parameters)
        builder.window = orm.Dict(window)
        builder.orbitals = orm.Dict(inputs['orbitals'])
        builder.chunk_frames = orm.Int(inputs['chunk_frames'])
        builder.namd = orm.Dict({**inputs['namd'], 'timestep_fs': timestep_fs})
        builder.options = orm.Dict(inputs['options'])
        return builder

    def setup(self):
        window = self.inputs.window.get_dict()
        self.ctx.chunks = namd_chunks(window['first_frame'], window['n_frames'], self.inputs.chunk_frames.value)
        self.ctx.index = 0
        self.ctx.overlaps = {}
        self.report(f'{window["n_frames"]} frames from {window["first_frame"]} in {len(self.ctx.chunks)} chunk(s)')

    def has_next_chunk(self):
        return self.ctx.index < len(self.ctx.chunks)

    def run_cp2k(self):
        index = self.ctx.index
        frames = select_frames(self.inputs.trajectory, orm.List(self.ctx.chunks[index]))
        parameters = reftraj_parameters(
            self.inputs.parameters.get_dict(), frames.numsteps, molden=True, restart=index > 0
        )
        cp2k = {
            'code': self.inputs.cp2k_code,
            'structure': frames.get_step_structure(0),
            'trajectory': frames,
            'parameters': orm.Dict(parameters),
            'metadata': {'options': self.inputs.options.get_dict()},
        }
        if index > 0:
            cp2k['parent_calc_folder'] = self.ctx.previous_folder
        node = self.submit(Cp2kBaseWorkChain, **cp2k_base_inputs(cp2k, f'cp2k_chunk_{self.ctx.index:03d}'))
        self.report(f'chunk {self.ctx.index}: cp2k.base<{node.pk}> writes MOLDEN files')
        return ToContext(cp2k=node)

    def run_overlaps(self):
        node = self.ctx.cp2k
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_CP2K_FAILED.format(index=self.ctx.index, exit_status=node.exit_status)
        inputs = {'previous_folder': self.ctx.previous_folder} if self.ctx.index > 0 else {}
        calc = self.submit(
            OverlapsCalculation,
            code=self.inputs.python_code,
            parent_folder=node.outputs.remote_folder,
            window=self.inputs.orbitals,
            metadata={'call_link_label': f'overlaps_chunk_{self.ctx.index:03d}'},
            **inputs,
        )
        self.ctx.previous_folder = node.outputs.remote_folder
        self.report(f'chunk {self.ctx.index}: qdots.overlaps<{calc.pk}>')
        return ToContext(overlaps_calc=calc)

    def inspect_overlaps(self):
        calc = self.ctx.overlaps_calc
        if not calc.is_finished_ok:
            return self.exit_codes.ERROR_OVERLAPS_FAILED.format(
                index=self.ctx.index, message=calc.exit_message or calc.exit_status
            )
        self.ctx.overlaps[f'chunk_{self.ctx.index:03d}'] = calc.outputs.overlaps
        self.ctx.index += 1

    def assemble(self):
        self.ctx.hamiltonian = assemble_hamiltonian(orm.List(self.ctx.chunks), **self.ctx.overlaps)
        self.out('hamiltonian', self.ctx.hamiltonian)

    def dish_as_job(self):
        return 'dish_code' in self.inputs

    def run_dish(self):
        options = self.inputs.dish_options.get_dict() if 'dish_options' in self.inputs else {}
        calc = self.submit(
            DishCalculation,
            code=self.inputs.dish_code,
            hamiltonian=self.ctx.hamiltonian,
            parameters=self.inputs.namd,
            metadata={'options': options, 'call_link_label': 'dish'},
        )
        self.report(f'recombination analysis as qdots.dish<{calc.pk}> on {self.inputs.dish_code.full_label}')
        return ToContext(dish=calc)

    def inspect_dish(self):
        calc = self.ctx.dish
        if not calc.is_finished_ok:
            return self.exit_codes.ERROR_DISH_FAILED.format(pk=calc.pk, message=calc.exit_message or calc.exit_status)
        self.ctx.results = {name: calc.outputs[name] for name in ('summary', 'arrays')}

    def analyze(self):
        self.ctx.results = namd_analysis(self.ctx.hamiltonian, self.inputs.namd)

    def results(self):
        for name in ('summary', 'arrays'):
            self.out(name, self.ctx.results[name])
        s = self.ctx.results['summary']
        self.report(
            f'mean |NAC| {s["mean_abs_nac_mev"]:.3f} meV, dephasing {s["decoherence_time_fs"]:.1f} fs, '
            f'recombination {s["recombination_tau_ns"]} ns (CI {s["recombination_ci_ns"]})'
        )
