"""Method or sampling? GFN1-xTB levels on foreign (e.g. PBE AIMD) nuclei against that source's own level labels.

The same nuclei, two electronic methods: differences here come from the method alone; differences between this
and the package's own GFN1-xTB dynamics come from the sampling (force field, length, ligand arrangement).
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import run_get_node

from aiida_qdots.functions.levels import analyze_levels, levels_analysis_parameters

METHOD_CHECK_STAGES = {'electronic': 'ElectronicWorkChain', 'namd': 'NamdWorkChain'}
"""The GFN1-xTB workchains run on the reference trajectory, by stage."""


def reference_trajectory(levels: orm.ArrayData) -> orm.TrajectoryData:
    """The trajectory an imported levels node belongs to (``aiida-qdots import levels --trajectory``)."""
    return orm.load_node(levels.base.attributes.get('trajectory_uuid'))


def runs_on(trajectory: orm.TrajectoryData, stage: str, finished_only: bool = True) -> orm.WorkflowNode | None:
    """The newest ``stage`` workchain (:data:`METHOD_CHECK_STAGES`) with ``trajectory`` as input, or None;
    with ``finished_only`` only a successful one, else any that has not failed."""
    query = orm.QueryBuilder()
    query.append(orm.TrajectoryData, filters={'id': trajectory.pk}, tag='trajectory')
    query.append(
        orm.WorkflowNode,
        with_incoming='trajectory',
        filters={'attributes.process_label': METHOD_CHECK_STAGES[stage]},
        project='*',
    )
    query.order_by({orm.WorkflowNode: {'ctime': 'desc'}})
    for node in query.all(flat=True):
        if node.is_finished_ok or (not finished_only and not node.is_terminated):
            return node
    return None


def _reference_summary(levels: orm.ArrayData, last_frames: int | None = None) -> dict:
    """The stored analyze_levels summary of ``levels`` (its last ``last_frames`` rows), run once if missing."""
    params = levels_analysis_parameters({} if last_frames is None else {'last_frames': last_frames})
    query = orm.QueryBuilder()
    query.append(orm.ArrayData, filters={'id': levels.pk}, tag='levels')
    query.append(
        orm.CalcFunctionNode, with_incoming='levels', filters={'attributes.process_label': 'analyze_levels'}, tag='calc'
    )
    query.append(orm.Dict, with_outgoing='calc', edge_filters={'label': 'parameters'}, project='attributes')
    query.append(orm.Dict, with_incoming='calc', edge_filters={'label': 'summary'}, project='attributes')
    for stored, summary in query.all():
        if stored == params:
            return summary
    outputs, _ = run_get_node(analyze_levels, levels=levels, parameters=orm.Dict(params))
    return outputs['summary'].get_dict()


def method_check_rows(levels: orm.ArrayData, own: dict | None) -> list[str]:
    """Markdown lines of the method check: the source's labels and GFN1-xTB on the same nuclei, and ``own`` (the
    statistics and NAMD summary of the package's own Cd-rich dynamics, ``{'statistics': ..., 'namd': ...}``)."""
    trajectory = reference_trajectory(levels)
    electronic, namd = runs_on(trajectory, 'electronic'), runs_on(trajectory, 'namd')
    if electronic is None and namd is None:
        return [f'No finished GFN1-xTB run on trajectory <{trajectory.pk}> yet.']
    reference = _reference_summary(levels)
    stats = electronic.outputs.statistics.get_dict() if electronic else None
    summary = namd.outputs.summary.get_dict() if namd else None
    n_window = namd.inputs.window['n_frames'] if namd else None
    stride = levels.base.attributes.get('stride', 1)
    reference_window = _reference_summary(levels, max(2, n_window // stride)) if n_window else None
    own = own or {}

    def level(source: dict | None, name: str, key: str) -> str:
        return 'n/a' if not source else f'{source[name][key]:.4f}'

    def flat(source: dict | None, key: str) -> str:
        return 'n/a' if not source or source.get(key) is None else f'{source[key]:.4f}'

    lines = [
        f'Nuclei: trajectory <{trajectory.pk}> ({trajectory.label}, {trajectory.numsteps} frames); source labels: '
        f'levels <{levels.pk}> ({levels.base.attributes.get("source_filename")}, {len(levels.get_array("gap"))} rows, '
        f'every {stride} frames). GFN1-xTB: {electronic.process_label + f"<{electronic.pk}>" if electronic else "n/a"} '
        f'({stats["n_frames"] if stats else 0} frames), {namd.process_label + f"<{namd.pk}>" if namd else "n/a"} '
        f'({n_window or 0} consecutive frames).',
        '',
        '| quantity | source labels, same nuclei | GFN1-xTB, same nuclei | GFN1-xTB, own dynamics (Cd-rich) |',
        '|---|---|---|---|',
    ]
    for name in ('homo', 'lumo', 'gap'):
        lines.append(
            f'| {name.upper()} sigma (eV) | {flat(reference, f"{name}_std_ev")} | {level(stats, name, "std_ev")} | '
            f'{level(own.get("statistics"), name, "std_ev")} |'
        )
    lines.append(
        f'| mean gap (eV) | {flat(reference, "gap_mean_ev")} | {level(stats, "gap", "mean_ev")} | '
        f'{level(own.get("statistics"), "gap", "mean_ev")} |'
    )
    reference_dephasing = reference_window['dephasing_paper_fs'] if reference_window else None
    lines.append(
        f'| dephasing time (fs), Gaussian fit, NAMD window | '
        f'{"n/a" if reference_dephasing is None else f"{reference_dephasing:.2f} (every {stride} fs)"} | '
        f'{flat(summary, "decoherence_time_fs")} | {flat(own.get("namd"), "decoherence_time_fs")} |'
    )
    lines.append(
        f'| mean abs NAC (meV) | not in the labels | {flat(summary, "mean_abs_nac_mev")} | '
        f'{flat(own.get("namd"), "mean_abs_nac_mev")} |'
    )
    return lines
