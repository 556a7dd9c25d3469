"""Query API: a study's results as pandas DataFrames, built with QueryBuilder projections.

Results are found through the study's groups ``qdots/<study>/...`` and the ``qdots`` extras that filing sets
(:mod:`aiida_qdots.common.filing`): one query per table projects the attributes of the result Dicts, never
loading nodes one by one. Every row carries the PK and UUID of each node its values came from.

Units are in the column names: ``_A`` angstrom, ``_ev`` eV, ``_fs`` / ``_ps`` / ``_ns`` time, ``_mev`` meV,
``_A2_per_K`` angstrom^2/K. Every Study A quantity of :data:`VERDICTS` comes with ``<quantity>_converged``,
``<quantity>_n`` (sample size) and ``<quantity>_reason`` (:mod:`aiida_qdots.analysis.convergence`; None for
results stored before verdicts existed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pandas as pd
from aiida import orm
from aiida.common.links import LinkType

from aiida_qdots.common.filing import EXTRAS_KEY, ROOT, STUDY_KINDS, escape_like
from aiida_qdots.common.output_keys import MSD_SLOPE_KEY, MSD_SLOPE_STDERR_KEY, MSD_SLOPE_WEIGHTING_KEY

CONFIGURATION_KEYS = ('system', 'configuration', 'composition', 'ligand', 'arrangement', 'protocol', 'temperature_k')
NANOCRYSTAL_KEYS = ('system', 'configuration', 'composition', 'diameter_requested', 'shell_monolayers', 'protocol')

VERDICTS = {
    'equilibrium': ('aimd', 'checks', 'production_stationarity'),
    'rmsf': ('aimd', 'analysis__summary', 'convergence.rmsf'),
    'spectra': ('aimd', 'analysis__summary', 'convergence.spectra'),
    'homo': ('electronic', 'statistics', 'convergence.homo'),
    'lumo': ('electronic', 'statistics', 'convergence.lumo'),
    'gap': ('electronic', 'statistics', 'convergence.gap'),
    'nac': ('namd', 'summary', 'convergence.nac'),
    'dephasing': ('namd', 'summary', 'convergence.dephasing'),
    'recombination': ('namd', 'summary', 'convergence.recombination'),
}
"""Study A quantity -> (stage, output, attribute path of its stored verdict). ``equilibrium`` is not a number but the
verdict on the window the others come from: whether the NVE production temperature is stationary
(:func:`aiida_qdots.functions.aimd.md_checks`; docs/statistics.md)."""

VERDICT_COLUMNS = {'converged': 'converged', 'n': 'n_samples', 'reason': 'reason'}
"""Column suffix -> key of a stored verdict."""


def _verdict_fields(stage: str, output: str) -> dict[str, str]:
    """The verdict columns of the quantities stored in ``(stage, output)``."""
    return {
        f'{quantity}_{suffix}': f'{path}.{key}'
        for quantity, (where, what, path) in VERDICTS.items()
        if (where, what) == (stage, output)
        for suffix, key in VERDICT_COLUMNS.items()
    }


CONFIGURATION_FIELDS = {
    ('aimd', 'checks'): _verdict_fields('aimd', 'checks'),
    ('aimd', 'analysis__summary'): {
        'rmsf_mean_A': 'rmsf_mean',
        'rmsf_by_element': 'rmsf_by_element',
        **_verdict_fields('aimd', 'analysis__summary'),
    },
    ('electronic', 'statistics'): {
        'homo_mean_ev': 'homo.mean_ev',
        'homo_std_ev': 'homo.std_ev',
        'lumo_mean_ev': 'lumo.mean_ev',
        'lumo_std_ev': 'lumo.std_ev',
        'gap_mean_ev': 'gap.mean_ev',
        'gap_std_ev': 'gap.std_ev',
        'gap_sem_ev': 'gap.sem_ev',
        'n_level_frames': 'n_frames',
        **_verdict_fields('electronic', 'statistics'),
    },
    ('namd', 'summary'): {
        'mean_abs_nac_mev': 'mean_abs_nac_mev',
        'dephasing_time_fs': 'decoherence_time_fs',
        'dephasing_convention': 'decoherence_convention',
        'recombination_ns': 'recombination_tau_ns',
        'recombination_ci_ns': 'recombination_ci_ns',
        'recombination_lower_bound_ns': 'recombination_lower_bound_ns',
        'recombination_bound_confidence': 'lower_bound_confidence',
        'n_hopped': 'n_hopped',
        **_verdict_fields('namd', 'summary'),
    },
    ('vibrations', 'summary'): {'raman_peak_cm1': 'raman_peak_cm1', 'n_imaginary_modes': 'n_imaginary'},
}
"""(stage, output) -> {column: attribute path} of the per-configuration table, verdict columns included; the
vibrations columns are None for configurations without the optional stage."""

NANOCRYSTAL_FIELDS = {
    ('phonons', 'msd_slope'): {
        'du2_dT_A2_per_K': MSD_SLOPE_KEY,
        'du2_dT_stderr_A2_per_K': MSD_SLOPE_STDERR_KEY,
        'du2_dT_weighting': MSD_SLOPE_WEIGHTING_KEY,
    },
    ('phonons', 'modes_summary'): {'n_atoms': 'n_atoms', 'max_frequency_thz': 'max_frequency_thz'},
    ('phonons', 'lifetimes_summary'): {
        'n_modes': 'n_modes',
        'n_resolved_gle': 'n_resolved_gle',
        'median_tau_gle_fs': 'median_tau_gle_fs',
        'median_tau_lorentzian_fs': 'median_tau_lorentzian_fs',
    },
}

UED_FIELDS = {
    ('ued', 'fit'): {'sets': 'sets', 'free': 'free', 'values': 'values', 'ci': 'ci', 'chi2_reduced': 'chi2_reduced'},
    ('ued', 'dg_route__kinetic_fit'): {'dg_values': 'values', 'dg_ci': 'ci', 'dg_chi2_reduced': 'chi2_reduced'},
}


def studies() -> list[str]:
    """Labels of the studies in the profile (groups ``qdots/<study>``)."""
    query = orm.QueryBuilder().append(orm.Group, filters={'label': {'like': f'{ROOT}/%'}}, project='label')
    return sorted({label.split('/')[1] for label in query.all(flat=True)})


def _study_workchains(study: str) -> dict:
    """QueryBuilder filters of the ``qdots.study`` / ``qdots.lattice_study`` workchains of ``study``."""
    return {f'extras.{EXTRAS_KEY}.study': study, f'extras.{EXTRAS_KEY}.kind': {'in': list(STUDY_KINDS)}}


def _at_path(attributes: dict, path: str):
    """The value at the dotted ``path`` of ``attributes``, None where any part is missing (as a projection gives)."""
    value = attributes
    for key in path.split('.'):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _stage_rows(study: str, fields: dict, keys: Iterable[str]) -> pd.DataFrame:
    """One row per (system, configuration) with ``fields`` of each (stage, output) Dict of ``study``.

    One query: the study's groups -> Dict nodes whose extras name one of the (stage, output) pairs. It projects each
    Dict's whole attributes as JSON text and walks the paths in Python: one JSON document per node instead of one SQL
    extraction and decode per (node, path), 3x faster for the Study A table (benchmarks/bench_query.py).
    """
    query = orm.QueryBuilder()
    query.append(orm.Group, filters={'label': {'like': f'{ROOT}/{escape_like(study)}/%'}}, tag='group')
    filters = {  # stage in S and output in O (cheaper to build than an OR of pairs); other pairs are skipped below
        f'extras.{EXTRAS_KEY}.study': study,
        f'extras.{EXTRAS_KEY}.stage': {'in': sorted({stage for stage, _ in fields})},
        f'extras.{EXTRAS_KEY}.output': {'in': sorted({output for _, output in fields})},
    }
    # the attributes as JSON text, decoded here: QueryBuilder walks a projected dict value by value looking for ORM
    # entities (half the time of this query on SQLite with real-size Dicts); json.loads is one C call
    attributes_text = {'attributes': {'cast': 't'}}
    query.append(
        orm.Dict, with_group='group', filters=filters, project=['id', 'uuid', f'extras.{EXTRAS_KEY}', attributes_text]
    )
    query.order_by({orm.Dict: {'id': 'asc'}})  # one run per configuration is filed (common.filing): order is cosmetic
    rows: dict[tuple, dict] = {}
    for pk, uuid, extras, text in query.iterall():
        pair = (extras['stage'], extras['output'])
        if pair not in fields:
            continue
        attributes = json.loads(text)
        row = rows.setdefault((extras['system'], extras['configuration']), {k: extras.get(k) for k in keys})
        for column, path in fields[pair].items():
            row[column] = _at_path(attributes, path)
        prefix = f'{pair[0]}_{pair[1].split("__")[-1]}'
        row[f'{prefix}_pk'], row[f'{prefix}_uuid'] = pk, uuid
    columns = list(keys)
    for (stage, output), fields_of_pair in fields.items():
        prefix = f'{stage}_{output.split("__")[-1]}'
        columns += [*fields_of_pair, f'{prefix}_pk', f'{prefix}_uuid']
    frame = pd.DataFrame(list(rows.values()), columns=columns)  # a fixed schema, whatever has finished
    return frame.sort_values(['system', 'configuration'], ignore_index=True)


def configuration_table(study: str) -> pd.DataFrame:
    """Study A per configuration: mean RMSF (total and per element, angstrom), HOMO/LUMO/gap mean and std (eV),
    dephasing time (fs, the protocol's convention), mean |NAC| (meV), recombination time and CI (ns), main optical
    Raman peak (cm^-1, optional vibrations stage)."""
    frame = _stage_rows(study, CONFIGURATION_FIELDS, CONFIGURATION_KEYS)
    per_element = pd.DataFrame(
        [value if isinstance(value, dict) else {} for value in frame.pop('rmsf_by_element')], index=frame.index
    )
    per_element = per_element[sorted(per_element.columns)].add_prefix('rmsf_').add_suffix('_A')
    bounds = [value if isinstance(value, list) else [None, None] for value in frame.pop('recombination_ci_ns')]
    frame['recombination_ci_low_ns'] = [low for low, _ in bounds]
    frame['recombination_ci_high_ns'] = [high for _, high in bounds]
    return pd.concat([frame, per_element], axis=1)


def verdict_rows(table: pd.DataFrame) -> list[tuple[str, str, str, dict | None]]:
    """(system, configuration, quantity, verdict) for every Study A quantity of the configurations ``table``
    (:func:`configuration_table`); the verdict has the stored keys ``converged``, ``n_samples``, ``reason``, or is
    None where the result is missing or was stored without one.
    """
    rows = []
    for record in table.to_dict('records'):
        for quantity in VERDICTS:
            values = {key: record.get(f'{quantity}_{suffix}') for suffix, key in VERDICT_COLUMNS.items()}
            known = values['converged'] is not None and pd.notna(values['converged'])
            if known:
                values['converged'] = bool(values['converged'])
            rows.append((record['system'], record['configuration'], quantity, values if known else None))
    return rows


def composition_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over the configurations of each composition: one row per quantity, columns
    (composition, mean/std), e.g. Se-rich vs Cd-rich side by side."""
    skip = {'arrangement', 'temperature_k', 'n_hopped', 'recombination_bound_confidence'} | {f'{q}_n' for q in VERDICTS}
    metrics = [c for c in table.select_dtypes('number') if not c.endswith('_pk') and c not in skip]
    return table.groupby('composition')[metrics].agg(['mean', 'std']).T.unstack()


def nanocrystal_table(study: str) -> pd.DataFrame:
    """Study B per nanocrystal: d<u^2>/dT with its standard error (A^2/K), modes and lifetime summary."""
    return _stage_rows(study, NANOCRYSTAL_FIELDS, NANOCRYSTAL_KEYS)


def ued_table(study: str) -> pd.DataFrame:
    """Study B per UED data set and pump: Auger time tau_AR and trapping time (ps) fitted to all pumps of the set at
    once, with their CIs (cross-section uncertainty included), and each pump's <N> and plateau. ``tau_*_fitted``
    says whether the constant was free in the fit; one held fixed (e.g. tau_trap when no hot hole can trap) keeps
    its starting value and has no CI. <N> is never fitted: ``sigma_cm2`` is held at the model's value.
    ``heating_scale``: the fitted dT scale s (1 and no CI when fixed). ``dg_*``: the same model fitted to the dT(t)
    that the dG route reads from patterns I(Q, t) against the MD heating response (NaN for peak tables)."""
    frame = _stage_rows(study, UED_FIELDS, ('system', 'configuration', 'protocol', 'msd_slope_from'))
    rows = []
    for record in frame.to_dict('records'):
        ci = record['ci'] if isinstance(record['ci'], dict) else {}
        free = record['free'] if isinstance(record['free'], list) else []
        values = record['values'] if isinstance(record['values'], dict) else {}
        dg_values = record['dg_values'] if isinstance(record['dg_values'], dict) else {}
        dg_ci = record['dg_ci'] if isinstance(record['dg_ci'], dict) else {}
        for pump in record.pop('sets', None) or []:
            rows.append(
                {
                    'data_set': record['configuration'],
                    'wavelength_nm': pump['wavelength_nm'],
                    'fluence_mj_cm2': pump['fluence_mj_cm2'],
                    'hot_holes_trap': pump['hot_holes_trap'],
                    'mean_initial_pairs': pump['mean_initial_pairs'],
                    'tau_auger_ps': pump['model']['tau_auger_ps'],
                    'tau_auger_ci_ps': ci.get('tau_auger_ps'),
                    'tau_auger_fitted': 'tau_auger_ps' in free,
                    'tau_trap_ps': pump['model']['tau_trap_ps'],
                    'tau_trap_ci_ps': ci.get('tau_trap_ps'),
                    'tau_trap_fitted': 'tau_trap_ps' in free,
                    'heating_scale': values.get('heating_scale', 1.0),
                    'heating_scale_ci': ci.get('heating_scale'),
                    'sigma_cm2': pump['sigma_cm2'],
                    'chi2_reduced': record['chi2_reduced'],
                    'plateau_k': pump['plateau_k'],
                    'dg_tau_auger_ps': dg_values.get('tau_auger_ps'),
                    'dg_tau_auger_ci_ps': dg_ci.get('tau_auger_ps'),
                    'dg_tau_trap_ps': dg_values.get('tau_trap_ps'),
                    'dg_tau_trap_ci_ps': dg_ci.get('tau_trap_ps'),
                    'dg_heating_scale': dg_values.get('heating_scale', 1.0 if dg_values else None),
                    'dg_chi2_reduced': record['dg_chi2_reduced'],
                    'msd_slope_from': record['msd_slope_from'],
                    'protocol': record['protocol'],
                    'ued_fit_pk': record['ued_fit_pk'],
                    'ued_fit_uuid': record['ued_fit_uuid'],
                }
            )
    return pd.DataFrame(rows)


def compare(study: str) -> dict[str, pd.DataFrame]:
    """Every non-empty table of ``study``: ``configurations``, ``nanocrystals``, ``ued``."""
    tables = {
        'configurations': configuration_table(study),
        'nanocrystals': nanocrystal_table(study),
        'ued': ued_table(study),
    }
    return {name: table for name, table in tables.items() if not table.empty}


def study_processes(study: str) -> list[orm.WorkflowNode]:
    """The ``qdots.study`` / ``qdots.lattice_study`` workchains of ``study``, oldest first."""
    query = orm.QueryBuilder().append(orm.WorkflowNode, filters=_study_workchains(study), project='*')
    query.order_by({orm.WorkflowNode: {'ctime': 'asc'}})
    return query.all(flat=True)


def status_table(study: str) -> pd.DataFrame:
    """Progress of ``study``: a row per process the study workchains called (``entry``: its call link label) and
    per stage process of each configuration, with state and exit status; in each entry the configuration's row
    first, then its stages by creation time."""
    process = ['id', 'ctime', 'attributes.process_label', 'attributes.process_state', 'attributes.exit_status']

    def called(query: orm.QueryBuilder) -> list[dict]:
        query.append(
            orm.WorkflowNode,
            with_incoming='caller',
            tag='called',
            project=process,
            edge_tag='call',
            edge_project='label',
            edge_filters={'type': LinkType.CALL_WORK.value},
        )
        return [
            {
                'caller': row['caller']['id'],
                'link': row['call']['label'],
                'pk': row['called']['id'],
                'ctime': row['called']['ctime'],
                'process': row['called']['attributes.process_label'],
                'state': row['called']['attributes.process_state'],
                'exit_status': row['called']['attributes.exit_status'],
            }
            for row in query.iterdict()
        ]

    studies_query = orm.QueryBuilder().append(
        orm.WorkflowNode, tag='caller', project='id', filters=_study_workchains(study)
    )
    rows = [
        {
            'study_pk': r['caller'],
            'entry': r['link'],
            'process': r['process'],
            'pk': r['pk'],
            'ctime': r['ctime'],
            'state': r['state'],
            'exit_status': r['exit_status'],
            'stage': 'configuration' if r['process'] == 'ConfigurationWorkChain' else r['link'].split('_')[0],
        }
        for r in called(studies_query)
    ]
    entries = {row['pk']: row for row in rows if row['stage'] == 'configuration'}
    if entries:
        stages_query = orm.QueryBuilder().append(
            orm.WorkflowNode, tag='caller', project='id', filters={'id': {'in': list(entries)}}
        )
        rows += [
            {
                **entries[r['caller']],
                'stage': r['link'],
                'process': r['process'],
                'pk': r['pk'],
                'ctime': r['ctime'],
                'state': r['state'],
                'exit_status': r['exit_status'],
            }
            for r in called(stages_query)
        ]
    columns = ['study_pk', 'entry', 'stage', 'process', 'pk', 'ctime', 'state', 'exit_status']
    frame = pd.DataFrame(rows, columns=columns)
    # a configuration's own row first, then its stages as they were created (PKs are renumbered by an import)
    frame['_stage_row'] = frame['stage'] != 'configuration'
    frame = frame.sort_values(['study_pk', 'entry', '_stage_row', 'ctime'], ignore_index=True)
    return frame.drop(columns='_stage_row')


def stage_processes(study: str, stage: str) -> list[orm.WorkflowNode]:
    """The finished ``stage`` workchains (``aimd``, ``electronic``, ``namd``, ``phonons``, ``ued``) filed in
    ``study``, ordered by system and configuration."""
    query = orm.QueryBuilder()
    query.append(orm.Group, filters={'label': {'like': f'{ROOT}/{escape_like(study)}/%/{stage}'}}, tag='group')
    query.append(
        orm.WorkflowNode,
        with_group='group',
        filters={f'extras.{EXTRAS_KEY}.stage': stage},
        project=['*', f'extras.{EXTRAS_KEY}.system', f'extras.{EXTRAS_KEY}.configuration'],
    )
    return [node for node, *_ in sorted(query.all(), key=lambda row: (row[1], row[2]))]
