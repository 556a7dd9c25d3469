"""Run every benchmark and write a markdown table of each measured number against its goal.

    python benchmarks/run_all.py [--quick] [--out FILE] [--only analysis,dish,...] [--data-dir DIR | --generated]

Each ``bench_*.py`` exposes ``run(argv)`` returning its results (the ratio is against a baseline measured in the
same run) and ``QUICK``, its small-size arguments; they stay runnable alone. ``--quick`` uses those sizes (minutes
instead of a quarter of an hour; pass/fail is then left blank where the goal is stated at full size).
``--quick`` skips bench_bookkeeping.py, which runs the whole demo, unless ``--only`` names it.
``--data-dir`` and ``--generated`` are passed to the benchmarks that read the shared AIMD data. The table is
printed and, with ``--out``, written to FILE. Exit code 1 when a benchmark raised or missed its goal.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import pathlib
import platform
import sys
import time
import traceback

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from _common import Result

BENCHMARKS = ('analysis', 'bookkeeping', 'diffraction', 'dish', 'import', 'kinetics', 'phonons', 'query', 'snapshots')
READS_SHARED_DATA = {'analysis', 'dish', 'import'}
SLOW = {'bookkeeping'}
"""Skipped by ``--quick`` unless named in ``--only``: bench_bookkeeping.py runs the whole demo (~5-9 min)."""


def markdown_table(rows: list[tuple[str, Result]]) -> str:
    """The results as a markdown table, one row per measured number."""
    lines = [
        '| benchmark | measured | ratio vs baseline (same run) | baseline | goal | pass | sizes and data |',
        '|---|---|---|---|---|---|---|',
    ]
    for script, r in rows:
        ratio = '' if r.ratio is None else f'{r.ratio:.3g}'
        passed = {True: 'yes', False: '**no**', None: ''}[r.passed]
        lines.append(
            f'| {r.name} (`{script}`) | {r.measured} | {ratio} | {r.baseline} | {r.goal} | {passed} | {r.data} |'
        )
    return '\n'.join(lines)


def header(quick: bool) -> str:
    """When, where and how the table was measured."""
    load = ', '.join(f'{x:.1f}' for x in os.getloadavg())
    now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    return (
        f'Measured {now} on {platform.node()} ({os.cpu_count()} cores, {platform.processor() or platform.machine()}, '
        f'Python {platform.python_version()}); load average before the run {load}; '
        f'{"--quick sizes" if quick else "full sizes"}.'
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='small sizes (each benchmark has its own QUICK)')
    parser.add_argument('--out', type=pathlib.Path, default=None, help='also write the table to this file')
    parser.add_argument(
        '--only', default=','.join(BENCHMARKS), help='comma-separated subset of ' + ', '.join(BENCHMARKS)
    )
    parser.add_argument('--data-dir', default=None, help='folder of the shared AIMD data (see benchmarks/_common.py)')
    parser.add_argument('--generated', action='store_true', help='use generated data even when shared data exist')
    args = parser.parse_args()
    names = [n for n in args.only.split(',') if n]
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f'unknown benchmarks {", ".join(sorted(unknown))}; choose from {", ".join(BENCHMARKS)}')

    top = header(args.quick)
    rows, problems, skipped = [], [], []
    for name in names:
        if args.quick and name in SLOW and args.only == parser.get_default('only'):
            skipped.append(f'bench_{name}.py: skipped with --quick (it runs the whole demo); add --only {name}')
            continue
        script = f'bench_{name}.py'
        print(f'\n=== {script}', flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(f'bench_{name}')
            argv = list(module.QUICK) if args.quick else []
            if name in READS_SHARED_DATA:
                argv += ['--data-dir', args.data_dir] if args.data_dir else []
                argv += ['--generated'] if args.generated and '--generated' not in argv else []
            rows += [(script, result) for result in module.run(argv)]
        except SystemExit as exc:  # the benchmark printed one line saying what to pass
            problems.append(f'{script}: not run (exit code {exc.code}; see its message above)')
        except Exception:
            traceback.print_exc()
            problems.append(f'{script}: raised (traceback above)')
        print(f'--- {script}: {time.perf_counter() - start:.1f} s', flush=True)

    notes = problems + skipped
    table = '\n'.join([top, '', markdown_table(rows), *(['', *[f'- {p}' for p in notes]] if notes else [])])
    print('\n' + table)
    if args.out:
        args.out.write_text(table + '\n')
    return 1 if problems or any(r.passed is False for _, r in rows) else 0


if __name__ == '__main__':
    sys.exit(main())
