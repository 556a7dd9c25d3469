"""Study A's reproduction report: the package's numbers beside the paper's, from the nodes filed in a study.

Every number is read from a stored node (the configuration stages filed under ``qdots/<study>``); nothing is
computed here that a calcfunction did not store, except wall times (process node creation -> last change) and the
orderings the paper states, which are checked as pass/fail lines.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib

from aiida import orm

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.plots.aimd import plot_rmsf, plot_spectra
from aiida_qdots.plots.study import plot_study_figure
from aiida_qdots.query import stage_processes
from aiida_qdots.reports.method_check import method_check_rows

STAGES = ('aimd', 'electronic', 'namd')
COMPOSITIONS = {'Cd17Se28H22': 'se-rich', 'Cd28Se17Cl22': 'cd-rich'}

PAPER = {
    'se-rich': {'dephasing_fs': 6.6, 'mean_abs_nac_mev': 1.38, 'recombination_ns': 239.9, 'raman_peak_cm1': 143.0},
    'cd-rich': {'dephasing_fs': 9.7, 'mean_abs_nac_mev': 1.06, 'recombination_ns': 16.6, 'raman_peak_cm1': 153.0},
}
"""The paper's numbers for ligand arrangement 0 (PBE-D3 AIMD, 35 ps; ../shared/DESIGN.md). The Raman peak is of the
relaxed cluster's static Raman spectrum, beside which the report puts the AIMD power spectrum's optical peak."""


@dataclasses.dataclass
class Configuration:
    """The stored results of one configuration of a study (None where a stage has not finished)."""

    system: str
    configuration: str
    nodes: dict[str, orm.WorkflowNode]

    @property
    def composition(self) -> str:
        return COMPOSITIONS.get(self.system, self.system)

    def output(self, stage: str, name: str) -> dict | None:
        node = self.nodes.get(stage)
        if node is None:
            return None
        outputs = node.outputs
        for part in name.split('__'):
            if part not in outputs:
                return None
            outputs = outputs[part]
        return outputs.get_dict()

    def wall_seconds(self, stage: str) -> float | None:
        node = self.nodes.get(stage)
        return None if node is None else (node.mtime - node.ctime).total_seconds()

    def cached_jobs(self, stage: str) -> tuple[int, int, float]:
        """(CalcJobs of the stage, how many were taken from AiiDA's cache, the seconds their sources took): a stage
        resumed after an interruption takes finished jobs from the cache, so its wall time alone is too short."""
        node = self.nodes.get(stage)
        jobs = [] if node is None else [n for n in node.called_descendants if isinstance(n, orm.CalcJobNode)]
        sources = [orm.load_node(uuid) for job in jobs if (uuid := job.base.caching.get_cache_source())]
        return len(jobs), len(sources), sum((n.mtime - n.ctime).total_seconds() for n in sources)


def configurations(study: str) -> list[Configuration]:
    """The configurations of ``study`` with each finished stage's workchain, ordered by system and arrangement."""
    found: dict[tuple[str, str], Configuration] = {}
    for stage in STAGES:
        for node in stage_processes(study, stage):
            extras = node.base.extras.get('qdots')
            key = (extras['system'], extras['configuration'])
            found.setdefault(key, Configuration(*key, {})).nodes[stage] = node
    if not found:
        raise QdotsInputError(f'study {study!r} has no finished stage yet; `aiida-qdots status --group qdots/{study}`')
    return [found[key] for key in sorted(found)]


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_fmt(v, digits) for v in value) + ']'
    if isinstance(value, float):
        return f'{value:.{digits}g}'
    return str(value)


def _verdict(summary: dict | None, *path: str) -> str:
    """The stored convergence verdict at ``path`` of ``summary`` (``converged`` and its reason), or what is missing."""
    node = summary
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return 'no verdict stored'
        node = node[key]
    if isinstance(node, dict) and 'converged' in node:
        reason = node.get('reason') or node.get('converged_reason') or ''
        return ('converged' if node['converged'] else 'NOT converged') + (f' ({reason})' if reason else '')
    return 'no verdict stored'


def equilibrium_row(checks: dict) -> tuple[str, str, str, str]:
    """The row of the NVE production window: its mean temperature, first -> second half and trend (K, K/ps) with
    the stationarity verdict (``md_checks``); the whole-window mean only for checks stored before the verdict."""
    block = next((b for b in reversed(checks['blocks']) if b['stage'] == 'production'), {})
    if 'stationarity' not in block:
        value = _fmt(block.get('mean_temperature_K'), 4) + ' (second half)'
    else:
        value = (
            f'{block["block_mean_temperature_K"]:.4g}; halves {_fmt(block["first_half_mean_temperature_K"], 4)} -> '
            f'{_fmt(block["second_half_mean_temperature_K"], 4)}; trend {block["temperature_trend_K_per_ps"]:+.3g} K/ps'
        )
    return (
        'NVE production temperature (K): stationary?',
        value,
        '300 K equilibrium',
        _verdict(checks, 'production_stationarity'),
    )


def quantities(config: Configuration) -> list[tuple[str, str, str, str]]:
    """(quantity, package value, paper value, verdict) rows of one configuration."""
    aimd = config.output('aimd', 'analysis__summary')
    checks = config.output('aimd', 'checks')
    stats = config.output('electronic', 'statistics')
    namd = config.output('namd', 'summary')
    paper = PAPER.get(config.composition, {})
    rows = [] if checks is None else [equilibrium_row(checks)]
    if aimd:
        for element, value in sorted(aimd['rmsf_by_element'].items()):
            rows.append((f'RMSF {element} (A)', _fmt(value), 'ordering only', _verdict(aimd, 'convergence', 'rmsf')))
        rows.append(
            (
                'acoustic / optical fraction of the power spectrum',
                f'{aimd["acoustic_fraction"]:.2f} / {aimd["optical_fraction"]:.2f}',
                'split at 120 cm^-1',
                _verdict(aimd, 'convergence', 'spectra'),
            )
        )
        rows.append(
            (
                'main peak of the power spectrum (cm^-1)',
                _fmt(aimd['spectrum_peak_cm1'], 4),
                f'{_fmt(paper.get("raman_peak_cm1"), 4)} (static Raman, not a power spectrum)',
                _verdict(aimd, 'convergence', 'spectra'),
            )
        )
    if stats:
        for level in ('homo', 'lumo', 'gap'):
            rows.append(
                (
                    f'{level.upper()} sigma (eV), n = {stats["n_frames"]} frames',
                    f'{stats[level]["std_ev"]:.4f} (SEM of mean {_fmt(stats[level].get("sem_ev"))})',
                    'ordering only',
                    _verdict(stats, 'convergence', level),
                )
            )
        rows.append(
            (
                'mean gap (eV)',
                f'{stats["gap"]["mean_ev"]:.3f}',
                'PBE: not comparable',
                _verdict(stats, 'convergence', 'gap'),
            )
        )
    if namd:
        rows += [
            (
                'dephasing time (fs), Gaussian fit of D(t)',
                _fmt(namd.get('decoherence_time_fs')),
                _fmt(paper.get('dephasing_fs')),
                _verdict(namd, 'convergence', 'dephasing'),
            ),
            (
                'mean |NAC| (meV)',
                _fmt(namd.get('mean_abs_nac_mev')),
                _fmt(paper.get('mean_abs_nac_mev')),
                _verdict(namd, 'convergence', 'nac'),
            ),
            (
                'recombination time (ns) [95 % CI]',
                f'{_fmt(namd.get("recombination_tau_ns"))} {_fmt(namd.get("recombination_ci_ns"))}',
                _fmt(paper.get('recombination_ns')),
                _verdict(namd, 'convergence', 'recombination'),
            ),
        ]
    return rows


def _compare(lines: list, statement: str, larger: float | None, smaller: float | None, unit: str) -> None:
    """Append (statement, larger > smaller, the numbers) when both numbers exist."""
    if larger is not None and smaller is not None:
        lines.append((statement, larger > smaller, f'{larger:.4g} vs {smaller:.4g} {unit}'))


def orderings(configs: list[Configuration]) -> list[tuple[str, bool, str]]:
    """The paper's qualitative findings as (statement, holds?, the numbers), where the stages have finished."""
    by = {c.composition: c for c in configs}

    def value(comp: str, stage: str, output: str, *path: str):
        node = by[comp].output(stage, output) if comp in by else None
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    lines: list = []
    rmsf = ('aimd', 'analysis__summary', 'rmsf_by_element')
    _compare(
        lines,
        'Se-rich: Se fluctuates more than Cd (RMSF)',
        value('se-rich', *rmsf, 'Se'),
        value('se-rich', *rmsf, 'Cd'),
        'A',
    )
    _compare(
        lines,
        'Cd-rich: Cd fluctuates more than Se (RMSF)',
        value('cd-rich', *rmsf, 'Cd'),
        value('cd-rich', *rmsf, 'Se'),
        'A',
    )
    for comp in ('se-rich', 'cd-rich'):
        homo = value(comp, 'electronic', 'statistics', 'homo', 'std_ev')
        _compare(
            lines,
            f'{comp}: HOMO sigma > LUMO sigma',
            homo,
            value(comp, 'electronic', 'statistics', 'lumo', 'std_ev'),
            'eV',
        )
    lumo = ('electronic', 'statistics', 'lumo', 'std_ev')
    _compare(
        lines, 'LUMO sigma larger in Cd-rich than in Se-rich', value('cd-rich', *lumo), value('se-rich', *lumo), 'eV'
    )
    dephasing = ('namd', 'summary', 'decoherence_time_fs')
    _compare(
        lines,
        'dephasing time longer in Cd-rich (paper 9.7 vs 6.6 fs)',
        value('cd-rich', *dephasing),
        value('se-rich', *dephasing),
        'fs',
    )
    nac = ('namd', 'summary', 'mean_abs_nac_mev')
    _compare(
        lines,
        'mean |NAC| larger in Se-rich (paper 1.38 vs 1.06 meV)',
        value('se-rich', *nac),
        value('cd-rich', *nac),
        'meV',
    )
    return lines


def _figures(study: str, configs: list[Configuration], folder: pathlib.Path) -> list[tuple[str, pathlib.Path]]:
    figures = []
    for config in configs:
        if 'aimd' in config.nodes:
            stem = f'{config.composition}_{config.configuration}'
            figures.append(
                (f'RMSF, {config.system} (cf. Fig. 1b)', plot_rmsf(config.nodes['aimd'], folder / f'rmsf_{stem}.png'))
            )
            figures.append(
                (
                    f'Power spectra, {config.system} (cf. Fig. 2a)',
                    plot_spectra(config.nodes['aimd'], folder / f'spectra_{stem}.png'),
                )
            )
    for figure, caption in (
        ('3a', 'HOMO/LUMO (cf. Fig. 3a)'),
        ('4', 'gap distributions'),
        ('5', 'NAMD (cf. Fig. 5a-c)'),
    ):
        try:
            figures += [(caption, path) for path in plot_study_figure(study, figure, folder)]
        except QdotsInputError:
            continue  # the stage has not finished; the table says so
    return figures


def write_report(
    study: str,
    folder: str | pathlib.Path,
    reference_levels: orm.ArrayData | None = None,
    title: str = 'Study A reproduction',
) -> pathlib.Path:
    """Write ``folder/README.md`` and its figures for ``study``; return the markdown path. With
    ``reference_levels`` (imported level labels of a foreign trajectory) the report has a method-or-sampling section."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    configs = configurations(study)
    lines = [
        f'# {title}: `{study}`',
        '',
        f'Written {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `aiida-qdots reproduce study-a` '
        'from the nodes filed under `qdots/' + study + '`. The paper: PBE-D3 AIMD, 35 ps (last 10 ps analysed), '
        'six ligand arrangements per composition; here: the protocol named below.',
        '',
    ]
    for config in configs:
        protocol = next(iter(config.nodes.values())).base.extras.get('qdots').get('protocol')
        lines += [f'## {config.system} ({config.composition}), {config.configuration}, protocol `{protocol}`', '']
        lines += ['| quantity | package | paper | convergence |', '|---|---|---|---|']
        lines += [f'| {q} | {v} | {p} | {c} |' for q, v, p, c in quantities(config)]
        lines += [
            '',
            '| stage | wall time (min) | CalcJobs (from cache) | with cached jobs at their first run (min) | process |',
        ]
        lines += ['|---|---|---|---|---|']
        for stage in STAGES:
            node = config.nodes.get(stage)
            wall = config.wall_seconds(stage)
            jobs, cached, cached_s = config.cached_jobs(stage)
            lines.append(
                f'| {stage} | {"not finished" if wall is None else f"{wall / 60:.1f}"} | {jobs} ({cached}) | '
                f'{"" if wall is None else f"{(wall + cached_s) / 60:.1f}"} | '
                f'{"" if node is None else f"{node.process_label}<{node.pk}>"} |'
            )
        lines.append('')
    lines += ["## The paper's orderings", '', '| statement | holds | numbers |', '|---|---|---|']
    lines += [f'| {s} | {"PASS" if ok else "FAIL"} | {n} |' for s, ok, n in orderings(configs)]
    if reference_levels is not None:
        cd_rich = next((c for c in configs if c.composition == 'cd-rich'), None)
        own = (
            {'statistics': cd_rich.output('electronic', 'statistics'), 'namd': cd_rich.output('namd', 'summary')}
            if cd_rich
            else None
        )
        lines += ['', '## Method or sampling?', '', *method_check_rows(reference_levels, own)]
    lines += ['', '## Figures', '']
    lines += [f'![{caption}]({path.name})\n\n{caption}\n' for caption, path in _figures(study, configs, folder)]
    path = folder / 'README.md'
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return path
