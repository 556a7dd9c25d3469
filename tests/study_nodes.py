"""A small Study A stored in seconds: the graph a ``qdots.study`` run leaves (study -> configurations -> stages ->
calcfunction-made outputs), filed by the package's own filing functions, without running CP2K.

The per-frame levels are the first frames of the shared Cd28Se17Cl22 CSV; statistics are computed from them. The
NAMD arrays are analytic curves (exponential population, Gaussian dephasing). Se-rich finishes; Cd-rich fails in
its AIMD stage, as in ``test_study.py``'s real run.
"""

from __future__ import annotations

import pathlib

import numpy as np
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import ProcessState

from aiida_qdots.common.filing import file_stage, register_study
from aiida_qdots.functions.clusters import cluster_extras
from aiida_qdots.readers.levels import parse_levels_csv
from aiida_qdots.structures.clusters import get_composition
from aiida_qdots.workchains.study import ConfigurationWorkChain, configuration_key, configuration_label

FAILED_AIMD = 310
"""Exit status of the failing AIMD stage (a made-up CP2K failure)."""


def _process(node_class, label: str, exit_status: int = 0, message: str | None = None):
    node = node_class(process_type=f'aiida.workflows:qdots.{label}' if node_class is orm.WorkflowNode else None)
    node.set_process_label(label)
    node.set_process_state(ProcessState.FINISHED)
    node.set_exit_status(exit_status)
    if message:
        node.set_exit_message(message)
    return node


def _returned(stage: orm.WorkflowNode, outputs: dict[str, orm.Data], function: str) -> None:
    """Store ``outputs`` as created by one calcfunction ``function`` called by ``stage`` and returned by it."""
    calculation = _process(orm.CalcFunctionNode, function)
    calculation.base.links.add_incoming(stage, LinkType.CALL_CALC, function)
    calculation.store()
    for label, node in outputs.items():
        node.base.links.add_incoming(calculation, LinkType.CREATE, label.split('__')[-1])
        node.store()
        node.base.links.add_incoming(stage, LinkType.RETURN, label)
    calculation.seal()


def _stage(caller: orm.WorkflowNode, stage: str, exit_status: int = 0) -> orm.WorkflowNode:
    node = _process(orm.WorkflowNode, stage, exit_status, 'a stage that fails on purpose' if exit_status else None)
    node.base.links.add_incoming(caller, LinkType.CALL_WORK, stage)
    return node.store()


def _statistics(energies: dict[str, np.ndarray]) -> orm.Dict:
    statistics = {
        name: {'mean_ev': float(v.mean()), 'std_ev': float(v.std()), 'sem_ev': float(v.std() / np.sqrt(v.size))}
        for name, v in energies.items()
    }
    return orm.Dict({**statistics, 'n_frames': int(energies['gap'].size)})


def _levels(energies: dict[str, np.ndarray], timestep_fs: float) -> orm.ArrayData:
    node = orm.ArrayData()
    for name, values in energies.items():
        node.set_array(name, values)
    node.set_array('time_fs', np.arange(energies['gap'].size) * timestep_fs)
    return node


def _namd(tau_fs: float, dephasing_fs: float) -> tuple[orm.ArrayData, orm.Dict]:
    arrays = orm.ArrayData()
    population_time = np.linspace(0.0, 3.0 * tau_fs, 50)
    dephasing_time = np.linspace(0.0, 30.0, 31)
    arrays.set_array('population_time_fs', population_time)
    arrays.set_array('excited_population', np.exp(-population_time / tau_fs))
    arrays.set_array('fitted_population', np.exp(-population_time / tau_fs))
    arrays.set_array('dephasing_time_fs', dephasing_time)
    arrays.set_array('dephasing_function', np.exp(-0.5 * (dephasing_time / dephasing_fs) ** 2))
    arrays.set_array('nac_homo_lumo_per_fs', np.linspace(1e-4, 5e-4, 40))
    summary = orm.Dict(
        {
            'mean_abs_nac_mev': float(np.mean(np.linspace(1e-4, 5e-4, 40)) * 658.2119569),
            'decoherence_time_fs': dephasing_fs,
            'decoherence_convention': 'gaussian_fit',
            'dephasing_fs': {'gaussian_fit': dephasing_fs},
            'recombination_tau_ns': tau_fs * 1e-6,
            'recombination_ci_ns': [0.9 * tau_fs * 1e-6, 1.1 * tau_fs * 1e-6],
        }
    )
    return arrays, summary


def build_stored_study(study: str, levels_csv: pathlib.Path, frames: int = 200) -> orm.WorkflowNode:
    """Store a finished Study A ``study`` (Se-rich ok, Cd-rich failed in AIMD) and file it; return the study node.

    The Se-rich levels are the first ``frames`` rows of ``levels_csv`` (a levels CSV, 2 fs apart)."""
    parsed = parse_levels_csv(pathlib.Path(levels_csv).read_bytes(), 'levels.csv', stride=2)
    energies = {name: parsed.energies[name][:frames] for name in ('homo', 'lumo', 'gap')}
    compositions, arrangement = ['se-rich', 'cd-rich'], 0
    node = _process(orm.WorkflowNode, 'StudyWorkChain', 470, f'1 of 2 configurations failed: {study}')
    node.label = study
    for name, value in (('compositions', compositions), ('arrangements', [arrangement])):
        node.base.links.add_incoming(orm.List(value).store(), LinkType.INPUT_WORK, name)
    node.store()
    register_study(node, study, 'study', 'fast')
    called = []
    for composition in compositions:
        ok = composition == 'se-rich'
        failed = ConfigurationWorkChain.exit_codes.ERROR_AIMD_FAILED.status
        configuration = _process(orm.WorkflowNode, 'ConfigurationWorkChain', 0 if ok else failed)
        configuration.base.links.add_incoming(node, LinkType.CALL_WORK, configuration_key(composition, arrangement))
        configuration.store()
        system, name = get_composition(composition).formula, configuration_label(arrangement)
        extras = cluster_extras(composition, arrangement, protocol='fast', temperature_k=300.0)
        aimd = _stage(configuration, 'aimd', 0 if ok else FAILED_AIMD)
        called += [configuration, aimd]
        if not ok:
            continue
        rmsf = {'Cd': 0.21, 'H': 0.35, 'Se': 0.18}
        _returned(aimd, {'analysis__summary': orm.Dict({'rmsf_mean': 0.22, 'rmsf_by_element': rmsf})}, 'summary')
        electronic, namd = _stage(configuration, 'electronic'), _stage(configuration, 'namd')
        called += [electronic, namd]
        _returned(
            electronic, {'levels': _levels(energies, 2.0), 'statistics': _statistics(energies)}, 'levels_statistics'
        )
        arrays, summary = _namd(tau_fs=2.0e6, dephasing_fs=8.0)
        _returned(namd, {'arrays': arrays, 'summary': summary}, 'namd_analysis')
        for stage_name, stage in (('aimd', aimd), ('electronic', electronic), ('namd', namd)):
            file_stage(stage, study, system, name, stage_name, extras)
    for process in (*called, node):
        process.seal()
    return node
