"""``qdots.aimd_analysis``: RMSF and vibrational power spectra of any stored MD trajectory, with provenance.

Works on imported foreign trajectories, ``qdots.lammps`` dumps and CP2K AIMD trajectories alike (positions in
angstrom, velocities in angstrom/fs when present, ``times`` in fs or a ``timestep_fs`` attribute). The numbers
come from the calcfunctions in :mod:`aiida_qdots.functions.trajectory`.
"""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import WorkChain

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.functions.trajectory import (
    ANALYSIS_DEFAULTS,
    MIN_FRAMES,
    analysis_parameters,
    analysis_summary,
    check_trajectory,
    trajectory_rmsf,
    trajectory_spectra,
)
from aiida_qdots.structures.trajectory_nodes import trajectory_timestep
from aiida_qdots.workchains.labelled import LabelledOutputsMixin

ANALYSIS_ERRORS = (QdotsInputError, ValueError, np.linalg.LinAlgError)
"""Exceptions of the analysis calcfunctions that end the workchain with an exit code instead of an exception."""


def validate_trajectory(value: orm.TrajectoryData, _ctx=None) -> str | None:
    """At least :data:`MIN_FRAMES` frames and a time step (``timestep_fs`` attribute or evenly spaced times)."""
    if value.numsteps < MIN_FRAMES:
        return f'the trajectory has {value.numsteps} frames; the analysis needs at least {MIN_FRAMES}'
    try:
        trajectory_timestep(value)
    except QdotsInputError as exc:
        return f'no time step: {exc}'
    return None


def validate_parameters(value: orm.Dict, _ctx=None) -> str | None:
    """Known keys with valid values (see :data:`ANALYSIS_DEFAULTS`)."""
    try:
        analysis_parameters(value.get_dict())
    except QdotsInputError as exc:
        return str(exc)
    return None


def validate_inputs(inputs, _ctx=None) -> str | None:
    """The window fits in the trajectory and requested velocities exist."""
    if 'trajectory' not in inputs:
        return None
    try:
        params = analysis_parameters(inputs['parameters'].get_dict() if 'parameters' in inputs else {})
        check_trajectory(inputs['trajectory'], params)
    except QdotsInputError as exc:
        return str(exc)
    return None


class AimdAnalysisWorkChain(LabelledOutputsMixin, WorkChain):
    """Per-atom and per-element RMSF and mass-weighted VACF power spectra (total and per element) of a trajectory.

    Outputs ``rmsf`` (ArrayData), ``spectra`` (ArrayData) and ``summary`` (Dict): per-element mean RMSF
    (angstrom), main peak (cm^-1) and the acoustic/optical fractions on either side of ``acoustic_cutoff_cm1``.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'trajectory',
            valid_type=orm.TrajectoryData,
            validator=validate_trajectory,
            help='Positions (angstrom), optional velocities (angstrom/fs), times (fs) or a timestep_fs attribute.',
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            default=lambda: orm.Dict(),
            validator=validate_parameters,
            help='Analysis parameters; keys and defaults: '
            + ', '.join(f'{k}={v!r}' for k, v in ANALYSIS_DEFAULTS.items())
            + '.',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(cls.setup, cls.compute_rmsf, cls.compute_spectra, cls.summarise)
        spec.output(
            'rmsf',
            valid_type=orm.ArrayData,
            help='rmsf (N) A, symbols, masses (amu), mean_structure (N,3) A, elements, rmsf_by_element A.',
        )
        spec.output(
            'spectra',
            valid_type=orm.ArrayData,
            help='frequency_cm1, total and one array per element (eV/cm^-1), lag_fs, vacf_total, vacf_<El> (eV).',
        )
        spec.output(
            'summary',
            valid_type=orm.Dict,
            help='rmsf_by_element (A), spectrum_peak_cm1, acoustic/optical fractions, window, units.',
        )
        spec.exit_code(401, 'ERROR_NON_FINITE_TRAJECTORY', message='the analysis window is unusable: {message}')
        spec.exit_code(410, 'ERROR_RMSF_FAILED', message='the RMSF analysis failed: {message}')
        spec.exit_code(411, 'ERROR_SPECTRA_FAILED', message='the power-spectrum analysis failed: {message}')
        spec.exit_code(412, 'ERROR_SUMMARY_FAILED', message='the summary failed: {message}')
        spec.exit_code(
            420,
            'ERROR_ALIGNMENT_NOT_CONVERGED',
            message='the iterated Kabsch alignment stopped after {iterations} iterations with the mean '
            'structure still changing by {change:.2e} A (tolerance {tolerance:g} A); the outputs '
            'are attached',
        )

    def setup(self):
        params = analysis_parameters(self.inputs.parameters.get_dict())
        start, stop, timestep = check_trajectory(self.inputs.trajectory, params)
        self.ctx.params = params
        positions = self.inputs.trajectory.get_positions()[start:stop]
        bad = np.flatnonzero(~np.isfinite(positions).all(axis=(1, 2)))
        if bad.size:
            message = f'frame {start + int(bad[0])} has non-finite positions'
            self.report(message)
            return self.exit_codes.ERROR_NON_FINITE_TRAJECTORY.format(message=message)
        trajectory = self.inputs.trajectory
        self.report(
            f'{trajectory.__class__.__name__}<{trajectory.pk}>: {trajectory.numsteps} frames, {positions.shape[1]} '
            f'atoms, {timestep:g} fs apart; analysing frames {start}..{stop - 1} ({stop - start} frames, '
            f'{(stop - start - 1) * timestep / 1000:g} ps)'
        )
        return None

    def compute_rmsf(self):
        try:
            node = trajectory_rmsf(self.inputs.trajectory, self.inputs.parameters, metadata={'call_link_label': 'rmsf'})
        except ANALYSIS_ERRORS as exc:
            self.report(f'RMSF failed: {exc}')
            return self.exit_codes.ERROR_RMSF_FAILED.format(message=str(exc))
        self.ctx.rmsf = node
        self.out('rmsf', node)
        values = node.base.attributes.get('rmsf_by_element')
        self.report(
            'RMSF (A): '
            + ', '.join(f'{e} {v:.3f}' for e, v in values.items())
            + f'; Kabsch alignment {"converged" if node.base.attributes.get("kabsch_converged") else "NOT converged"}'
            f' in {node.base.attributes.get("kabsch_iterations")} iterations'
        )
        return None

    def compute_spectra(self):
        try:
            node = trajectory_spectra(
                self.inputs.trajectory, self.inputs.parameters, metadata={'call_link_label': 'spectra'}
            )
        except ANALYSIS_ERRORS as exc:
            self.report(f'power spectrum failed: {exc}')
            return self.exit_codes.ERROR_SPECTRA_FAILED.format(message=str(exc))
        self.ctx.spectra = node
        self.out('spectra', node)
        attributes = node.base.attributes
        self.report(
            f'power spectra from {attributes.get("velocity_source")}: resolution '
            f'{attributes.get("resolution_cm1"):.2f} cm^-1, 2<E_kin> = {attributes.get("integral_total_ev"):.4f} eV '
            f'(kinetic temperature {attributes.get("kinetic_temperature_k"):.1f} K)'
        )
        return None

    def summarise(self):
        try:
            summary = analysis_summary(
                self.ctx.rmsf, self.ctx.spectra, self.inputs.parameters, metadata={'call_link_label': 'summary'}
            )
        except ANALYSIS_ERRORS as exc:
            self.report(f'summary failed: {exc}')
            return self.exit_codes.ERROR_SUMMARY_FAILED.format(message=str(exc))
        self.out('summary', summary)
        self.report(
            f'main peak {summary["spectrum_peak_cm1"]:.1f} cm^-1; acoustic (< {summary["acoustic_cutoff_cm1"]:g} '
            f'cm^-1) {summary["acoustic_fraction"]:.3f}, optical {summary["optical_fraction"]:.3f}'
        )
        rmsf = self.ctx.rmsf.base.attributes
        if not rmsf.get('kabsch_converged'):
            return self.exit_codes.ERROR_ALIGNMENT_NOT_CONVERGED.format(
                iterations=rmsf.get('kabsch_iterations'),
                change=rmsf.get('kabsch_change_angstrom'),
                tolerance=rmsf.get('fit_tolerance_angstrom'),
            )
        return None
