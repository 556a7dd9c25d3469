"""Benchmark: the snapshot stage (CP2K GFN1-xTB REFTRAJ single points of qdots.electronic and qdots.namd).

For each composition (arrangement 0 as the package builds it) a short CP2K NVT MD at 300 K with the AIMD's
method (OT, ASPC extrapolation) gives consecutive frames 1 fs apart and the AIMD's SCF iterations per step. The
last ``--frames`` frames are then re-evaluated twice in one REFTRAJ job each: with the previous SCF settings of
the snapshot stage (Broyden mixing alpha 0.1 with Fermi smearing, a MOPAC guess in every job) and with the
``fast`` protocol's (``cp2k_method.yaml``, ``orbitals.scf``). Printed per composition: SCF iterations per frame
of each (-1: not converged) and CPU seconds per frame, the AIMD's OT steps per step on the same nuclei (outer loops
included), the largest HOMO/LUMO difference new vs old over the frames both converged (goal: 1 meV); then the
Cd-rich / Se-rich CPU cost per frame (goal: 2x). CPU times and iterations hardly depend on the machine's load; wall
times do (the load average is printed).

Needs ``cp2k.psmp`` and ``mpirun`` on PATH (else one line and exit code 2).

Usage: ``python benchmarks/bench_snapshots.py [--frames 8] [--warmup 20] [--np 1]``
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import resource
import shutil
import subprocess
import tempfile
import time

import numpy as np
from _common import Result, fail

QUICK = ['--frames', '4', '--warmup', '10']
PREVIOUS_SCF = {
    'SCF_GUESS': 'MOPAC',
    'MAX_SCF': 300,
    'EPS_SCF': 1.0e-6,
    'ADDED_MOS': 20,
    'DIAGONALIZATION': {'ALGORITHM': 'STANDARD'},
    'MIXING': {'METHOD': 'BROYDEN_MIXING', 'ALPHA': 0.1, 'NBROYDEN': 8},
    'SMEAR': {'METHOD': 'FERMI_DIRAC', 'ELECTRONIC_TEMPERATURE': 300.0},
}
"""The snapshot SCF before issue 15 (&QS EXTRAPOLATION left at CP2K's default, ASPC)."""
MD_SCF_DONE = re.compile(r'outer SCF loop converged in\s+\d+ iterations or\s+(\d+) steps')
"""Total OT steps of an AIMD step (inner steps over all outer iterations)."""
COST_GOAL = 2.0
LEVEL_GOAL_MEV = 1.0


def cp2k_run(folder: pathlib.Path, parameters: dict, ranks: int) -> tuple[str, float, float]:
    """Run CP2K on ``parameters`` in ``folder``; its output text, wall time and CPU time (s, all ranks).

    The CPU time (user + system of the finished child processes) hardly depends on the machine's load."""
    from aiida_cp2k.utils import Cp2kInput

    (folder / 'aiida.inp').write_text(Cp2kInput(parameters).render())
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMPI_ALLOW_RUN_AS_ROOT': '1', 'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM': '1'}
    before, start = children_cpu(), time.perf_counter()
    command = ['mpirun', '-np', str(ranks), 'cp2k.psmp', '-i', 'aiida.inp', '-o', 'aiida.out']
    subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    return (folder / 'aiida.out').read_text(), wall, children_cpu() - before


def children_cpu() -> float:
    """User + system CPU time (s) of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def with_box(parameters: dict, atoms, coordinates: str) -> dict:
    """``parameters`` with the cell of ``atoms`` and the coordinates read from the file ``coordinates``."""
    subsys = parameters['FORCE_EVAL']['SUBSYS']
    subsys['CELL']['ABC'] = ' '.join(f'{x:.6f}' for x in atoms.cell.lengths())
    subsys['TOPOLOGY'] = {'COORD_FILE_NAME': coordinates, 'COORD_FILE_FORMAT': 'XYZ'}
    parameters['GLOBAL']['PROJECT'] = 'aiida'
    return parameters


def aimd_frames(folder: pathlib.Path, composition: str, steps: int, ranks: int):
    """Atoms, the MD frames (steps x atoms x 3, angstrom) and the SCF iterations per MD step (OT, inner steps)."""
    from aiida_qdots.protocols import cp2k_method, recursive_merge
    from aiida_qdots.structures.clusters import build_magic_cluster

    atoms = build_magic_cluster(composition, 0)
    atoms.write(folder / 'start.xyz')
    md = {
        'ENSEMBLE': 'NVT',
        'STEPS': steps,
        'TIMESTEP': 1.0,
        'TEMPERATURE': 300.0,
        'THERMOSTAT': {'TYPE': 'CSVR', 'REGION': 'MASSIVE', 'CSVR': {'TIMECON': 50.0}},
    }
    parameters = recursive_merge(
        cp2k_method(atoms.get_chemical_symbols(), 'fast'), {'GLOBAL': {'RUN_TYPE': 'MD'}, 'MOTION': {'MD': md}}
    )
    output, _, _ = cp2k_run(folder, with_box(parameters, atoms, 'start.xyz'), ranks)
    from ase.io import read

    frames = np.array([frame.positions for frame in read(folder / 'aiida-pos-1.xyz', index=':')])
    return atoms, frames, [int(n) for n in MD_SCF_DONE.findall(output)]


def reftraj(folder: pathlib.Path, atoms, frames: np.ndarray, scf: dict | None, ranks: int) -> dict:
    """REFTRAJ over ``frames`` with the fast protocol's snapshot method, its SCF replaced by ``scf`` when given."""
    from aiida_qdots.parsers.cp2k import parse_mo_blocks
    from aiida_qdots.workchains.electronic import orbital_method, reftraj_parameters

    folder.mkdir()
    symbols = atoms.get_chemical_symbols()
    with (folder / 'aiida-reftraj.xyz').open('w') as handle:
        for step, frame in enumerate(frames, start=1):
            handle.write(f'{len(symbols)}\n i = {step} , time = {step}\n')
            handle.writelines(f'{s} {x:.10f} {y:.10f} {z:.10f}\n' for s, (x, y, z) in zip(symbols, frame, strict=True))
    shutil.copy(folder.parent / 'start.xyz', folder / 'start.xyz')
    parameters = reftraj_parameters(orbital_method(symbols, 'fast', {}), len(frames))
    if scf is not None:
        parameters['FORCE_EVAL']['DFT']['SCF'] = dict(scf)
        parameters['FORCE_EVAL']['DFT']['QS'].pop('EXTRAPOLATION', None)
        parameters['FORCE_EVAL']['DFT']['QS'].pop('EXTRAPOLATION_ORDER', None)
    output, wall, cpu = cp2k_run(folder, with_box(parameters, atoms, 'start.xyz'), ranks)
    levels = parse_mo_blocks(output)
    if len(levels.get('homo', [])) != len(frames):
        fail(
            'bench_snapshots.py',
            f'{folder.name}: orbital energies of {len(levels.get("homo", []))} of {len(frames)} frames',
        )
    return {
        'iterations': np.array(scf_iterations(output)),
        'wall': wall,
        'cpu': cpu,
        'homo': levels['homo'],
        'lumo': levels['lumo'],
    }


def scf_iterations(output: str) -> list[int]:
    """SCF steps of every frame of a CP2K output; a frame whose SCF did not converge counts as -1."""
    verdicts = re.finditer(r'SCF run converged in\s+(\d+) steps|SCF run NOT converged', output)
    return [int(m.group(1)) if m.group(1) else -1 for m in verdicts]


def describe(run: dict, n_frames: int) -> str:
    """SCF steps per frame (-1: not converged) and CPU seconds per frame of one REFTRAJ job."""
    return f'{run["iterations"].tolist()} ({run["cpu"] / n_frames:.2f} s CPU/frame)'


def level_shift(old: dict, new: dict, frames: np.ndarray) -> float | None:
    """Largest |HOMO/LUMO new - old| (meV) over the selected ``frames``; None when none is selected."""
    if not frames.any():
        return None
    return 1e3 * max(np.abs(new[level] - old[level])[frames].max() for level in ('homo', 'lumo'))


def converged(run: dict) -> bool:
    return bool(np.all(run['iterations'] > 0))


def run(argv: list[str] | None = None) -> list[Result]:
    """Run the benchmark with command-line arguments ``argv``; print it and return its results."""
    parser = argparse.ArgumentParser(prog=pathlib.Path(__file__).name, description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=8, help='REFTRAJ frames per composition (1 fs apart)')
    parser.add_argument('--warmup', type=int, default=20, help='MD steps before the frames (unrelaxed start)')
    parser.add_argument('--np', type=int, default=1, dest='ranks', help='MPI ranks of CP2K')
    args = parser.parse_args(argv)
    if shutil.which('cp2k.psmp') is None or shutil.which('mpirun') is None:
        fail(parser.prog, 'cp2k.psmp and mpirun must be on PATH (Debian: apt-get install cp2k)')
    print(f'load average {", ".join(f"{x:.1f}" for x in os.getloadavg())}; CP2K on {args.ranks} rank(s)')
    measured = {}
    with tempfile.TemporaryDirectory() as tmp:
        for composition in ('se-rich', 'cd-rich'):
            folder = pathlib.Path(tmp) / composition
            folder.mkdir()
            atoms, frames, md_iterations = aimd_frames(folder, composition, args.warmup + args.frames, args.ranks)
            frames = frames[-args.frames :]
            old = reftraj(folder / 'previous', atoms, frames, PREVIOUS_SCF, args.ranks)
            new = reftraj(folder / 'protocol', atoms, frames, None, args.ranks)
            aimd = md_iterations[-args.frames :]
            both = (old['iterations'] > 0) & (new['iterations'] > 0)
            shift = level_shift(old, new, both)
            print(
                f'{composition}: {args.frames} frames 1 fs apart; SCF iterations per frame (-1: not converged) '
                f'previous {describe(old, args.frames)}, protocol {describe(new, args.frames)}; AIMD (OT) on the '
                f'same nuclei {aimd}; max |HOMO/LUMO new - previous| over the {both.sum()} frames both converged '
                + ('-' if shift is None else f'{shift:.4f} meV')
            )
            measured[composition] = (old, new, aimd, shift)
    results = []
    for composition, (old, new, aimd, shift) in measured.items():
        later = new['iterations'][1:]
        results.append(
            Result(
                f'snapshot SCF iterations per frame after the first, {composition}',
                f'{later.mean():.1f} (first frame {new["iterations"][0]}; AIMD {np.mean(aimd[1:]):.1f})',
                later.mean() / np.mean(aimd[1:]) if converged(new) else None,
                'the AIMD (OT) steps on the same nuclei',
                f'levels within {LEVEL_GOAL_MEV:g} meV of the previous settings',
                None if shift is None else shift <= LEVEL_GOAL_MEV,
                f'{len(new["iterations"])} frames 1 fs apart, GFN1-xTB; previous settings {old["iterations"].tolist()}',
            )
        )
    se_new, cd_new = measured['se-rich'][1], measured['cd-rich'][1]
    cost = cd_new['cpu'] / se_new['cpu']
    print(
        f'Cd-rich / Se-rich cost per frame (CPU): protocol {cost:.2f} (iterations '
        f'{cd_new["iterations"].mean() / se_new["iterations"].mean():.2f}), previous settings '
        f'{measured["cd-rich"][0]["cpu"] / measured["se-rich"][0]["cpu"]:.2f}'
    )
    results.append(
        Result(
            'snapshot cost per frame, Cd-rich / Se-rich',
            f'{cost:.2f} (CPU), {cd_new["iterations"].mean() / se_new["iterations"].mean():.2f} (SCF steps)',
            cost,
            'Se-rich frames in the same run',
            f'<= {COST_GOAL:g}',
            cost <= COST_GOAL,
            f'{len(se_new["iterations"])} frames each, whole REFTRAJ job incl. start-up and first frame',
        )
    )
    return results


if __name__ == '__main__':
    run()
