"""Study A, AIMD analysis figures from stored nodes.

* :func:`rmsf_figure` / :func:`plot_rmsf`: per-atom RMSF against the distance from the centre of the mean
  structure, coloured by element, and the per-element mean (bars, standard deviation over the element's atoms).
* :func:`spectra_figure` / :func:`plot_spectra`: mass-weighted VACF power spectra, total and per element, with
  the acoustic region shaded and the acoustic/optical fractions in the legend.

Nodes are the outputs of ``qdots.aimd_analysis`` (or of its calcfunctions); :func:`analysis_nodes` finds them
from the workchain or from any one of its outputs.
"""

from __future__ import annotations

import pathlib

import numpy as np
from aiida import orm
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from aiida_qdots.analysis.convergence import verdict_tag
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.plots.common import element_colour, output_path

ANALYSIS_OUTPUTS = ('rmsf', 'spectra', 'summary')


def _kind(node: orm.Node) -> str | None:
    if isinstance(node, orm.ArrayData) and not isinstance(node, orm.TrajectoryData):
        return {'rmsf': 'rmsf', 'power_spectrum': 'spectra'}.get(node.base.attributes.get('analysis', None))
    if isinstance(node, orm.Dict) and 'rmsf_by_element' in node.get_dict() and 'optical_fraction' in node.get_dict():
        return 'summary'
    return None


def analysis_nodes(node: orm.Node) -> dict[str, orm.Node]:
    """``rmsf`` / ``spectra`` / ``summary`` nodes of an analysis, given its workchain or any of those outputs."""
    if isinstance(node, orm.WorkflowNode):
        outputs = node.outputs.analysis if 'analysis' in node.outputs else node.outputs  # qdots.aimd nests them
        found = {name: outputs[name] for name in ANALYSIS_OUTPUTS if name in outputs}
        if not found:
            raise QdotsInputError(f'{node.process_label}<{node.pk}> has no rmsf, spectra or summary output')
        return found
    kind = _kind(node)
    if kind is None:
        raise QdotsInputError(
            f'node {node.pk} ({type(node).__name__}) is not an AIMD analysis workchain or one of its outputs'
        )
    found = {kind: node}
    creator = node.creator
    caller = creator.caller if creator is not None else None
    if isinstance(caller, orm.WorkflowNode):
        found.update({name: caller.outputs[name] for name in ANALYSIS_OUTPUTS if name in caller.outputs})
    elif kind == 'summary' and creator is not None:
        for link in creator.base.links.get_incoming().all():
            if _kind(link.node) is not None:
                found[_kind(link.node)] = link.node
    return found


def _window_text(window: dict | None) -> str:
    if not window:
        return ''
    return (
        f'frames {window["start_frame"]}-{window["stop_frame"] - 1} ({window["n_frames"]} frames, '
        f'{window["timestep_fs"]:g} fs apart)'
    )


def rmsf_figure(rmsf: orm.ArrayData) -> Figure:
    """Two panels: per-atom RMSF (A) vs distance from the centre of the mean structure (A), coloured by element;
    per-element mean RMSF (A) with the standard deviation over the element's atoms.
    """
    values = rmsf.get_array('rmsf')
    symbols = [str(s) for s in rmsf.get_array('symbols')]
    mean = rmsf.get_array('mean_structure')
    elements = [str(e) for e in rmsf.get_array('elements')]
    by_element = rmsf.get_array('rmsf_by_element')
    spread = rmsf.get_array('rmsf_by_element_std')
    masses = rmsf.get_array('masses')
    radius = np.linalg.norm(mean - masses @ mean / masses.sum(), axis=1)

    figure = Figure(figsize=(9.0, 3.8), layout='constrained')
    FigureCanvasAgg(figure)
    scatter, bars = figure.subplots(1, 2, width_ratios=[1.7, 1.0])
    symbols_array = np.array(symbols)
    for k, element in enumerate(elements):
        mask = symbols_array == element
        scatter.scatter(
            radius[mask],
            values[mask],
            s=28,
            color=element_colour(element, k),
            edgecolor='k',
            linewidth=0.4,
            label=f'{element} ({mask.sum()})',
        )
    scatter.set_xlabel('distance from the centre of mass (Å)')
    scatter.set_ylabel('RMSF (Å)')
    scatter.set_ylim(bottom=0)
    scatter.legend(frameon=False)
    scatter.set_title('per atom', fontsize=10)
    positions = np.arange(len(elements))
    bars.bar(
        positions,
        by_element,
        yerr=spread,
        capsize=4,
        edgecolor='k',
        linewidth=0.6,
        color=[element_colour(e, k) for k, e in enumerate(elements)],
    )
    for x, y in zip(positions, by_element, strict=True):
        bars.text(x, y / 2, f'{y:.3f}', ha='center', va='center', fontsize=9)
    bars.set_xticks(positions, elements)
    bars.set_ylabel('mean RMSF (Å)')
    bars.set_ylim(bottom=0)
    bars.set_title('per element (mean ± s.d. over atoms)', fontsize=10)
    window = rmsf.base.attributes.get('window', None)
    verdict = verdict_tag(rmsf.base.attributes.get('convergence', None))
    title = f'RMSF after centre-of-mass and Kabsch alignment: {verdict}'
    figure.suptitle(f'{title}\n{_window_text(window)}' if window else title, fontsize=11)
    return figure


def _spectrum_upper_limit(frequency: np.ndarray, total: np.ndarray, share: float = 0.998) -> float:
    cumulative = np.cumsum(total)
    index = int(np.searchsorted(cumulative, share * cumulative[-1]))
    upper = frequency[min(index, frequency.size - 1)] * 1.1
    return float(max(50.0, np.ceil(upper / 50.0) * 50.0))


def spectra_figure(spectra: orm.ArrayData, summary: orm.Dict | None = None, max_cm1: float | None = None) -> Figure:
    """Power spectra (meV per cm^-1) vs wavenumber (cm^-1): total and per element, acoustic region shaded.

    ``summary`` (optional) supplies the acoustic cutoff and the fractions for the legend; ``max_cm1`` the upper
    end of the axis (default: where 99.8 % of the total spectral weight lies, rounded up).
    """
    frequency = spectra.get_array('frequency_cm1')
    total = spectra.get_array('total')
    elements = list(spectra.base.attributes.get('elements'))
    summary_dict = summary.get_dict() if summary is not None else {}
    cutoff = summary_dict.get('acoustic_cutoff_cm1', 120.0)
    upper = max_cm1 if max_cm1 is not None else _spectrum_upper_limit(frequency, total)
    shown = frequency <= upper

    figure = Figure(figsize=(7.5, 4.5), layout='constrained')
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    label = 'total'
    if 'optical_fraction' in summary_dict:
        label += (
            f' (acoustic {summary_dict["acoustic_fraction"]:.2f}, optical {summary_dict["optical_fraction"]:.2f};'
            f' peak {summary_dict["spectrum_peak_cm1"]:.0f} cm$^{{-1}}$)'
        )
    axes.plot(frequency[shown], 1000 * total[shown], color='k', linewidth=1.4, label=label)
    fractions = summary_dict.get('acoustic_fraction_by_element', {})
    for k, element in enumerate(elements):
        name = element if element not in fractions else f'{element} (acoustic {fractions[element]:.2f})'
        axes.plot(
            frequency[shown],
            1000 * spectra.get_array(element)[shown],
            color=element_colour(element, k),
            linewidth=1.0,
            label=name,
        )
    axes.axvspan(0, cutoff, color='0.92', zorder=0)
    axes.axvline(cutoff, color='0.5', linestyle='--', linewidth=0.8)
    axes.text(cutoff / 2, 0.97, 'acoustic', transform=axes.get_xaxis_transform(), ha='center', va='top', fontsize=9)
    axes.text(
        cutoff + (upper - cutoff) / 2,
        0.97,
        'optical',
        transform=axes.get_xaxis_transform(),
        ha='center',
        va='top',
        fontsize=9,
    )
    axes.set_xlim(0, upper)
    axes.set_ylim(0, 1.15 * 1000 * total[shown].max())  # headroom for the region labels
    axes.set_xlabel('wavenumber (cm$^{-1}$)')
    axes.set_ylabel('power spectrum (meV per cm$^{-1}$)')
    axes.legend(frameon=False, fontsize=8, loc='center right')
    attributes = spectra.base.attributes
    window = attributes.get('window', None)
    lag = attributes.get('lag_window', '')
    verdict = f': {verdict_tag(summary_dict["convergence"].get("spectra"))}' if 'convergence' in summary_dict else ''
    axes.set_title(
        f'mass-weighted VACF power spectrum ({lag} window, {attributes.get("resolution_cm1", 0):.1f} cm$^{{-1}}$ bins)'
        + verdict
        + (f'\n{_window_text(window)}' if window else ''),
        fontsize=10,
    )
    return figure


def plot_rmsf(node: orm.Node, output: str | pathlib.Path | None = None, dpi: int = 150) -> pathlib.Path:
    """Write :func:`rmsf_figure` of the analysis ``node`` (workchain or output) as PNG; returns the path
    (default ``rmsf_<pk>.png`` in the working directory).
    """
    nodes = analysis_nodes(node)
    if 'rmsf' not in nodes:
        raise QdotsInputError(f'node {node.pk}: no rmsf output found')
    path = output_path(output, 'rmsf', node)
    rmsf_figure(nodes['rmsf']).savefig(path, dpi=dpi)
    return path


def plot_spectra(
    node: orm.Node, output: str | pathlib.Path | None = None, max_cm1: float | None = None, dpi: int = 150
) -> pathlib.Path:
    """Write :func:`spectra_figure` of the analysis ``node`` (workchain or output) as PNG; returns the path
    (default ``spectra_<pk>.png`` in the working directory).
    """
    nodes = analysis_nodes(node)
    if 'spectra' not in nodes:
        raise QdotsInputError(f'node {node.pk}: no spectra output found')
    path = output_path(output, 'spectra', node)
    spectra_figure(nodes['spectra'], nodes.get('summary'), max_cm1).savefig(path, dpi=dpi)
    return path
