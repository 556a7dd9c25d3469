"""What a user reads of a study, to compare before and after an archive round trip."""

import hashlib
import re

import pandas as pd
from click.testing import CliRunner

from aiida_qdots.cli import cli


def answers(folder, study: str, profile: str | None = None) -> dict:
    """What a user reads: ``status`` (PKs masked), the ``compare`` CSV (PK columns dropped), the figures' bytes."""
    root = ['-p', profile] if profile else []
    runner = CliRunner()
    folder.mkdir()
    status = runner.invoke(cli, [*root, 'status', '--group', study])
    assert status.exit_code == 0, status.output
    table = runner.invoke(cli, [*root, 'compare', '--group', study, '--csv', str(folder / 'table.csv')])
    assert table.exit_code == 0, table.output
    csv = pd.read_csv(folder / 'table.csv')
    figures = {}
    for figure in ('3a', '4', '5'):
        result = runner.invoke(cli, [*root, 'plot', 'figure', figure, '--group', study, '--folder', str(folder)])
        assert result.exit_code == 0, result.output
        figures[figure] = hashlib.sha256((folder / f'{study}_figure_{figure}.png').read_bytes()).hexdigest()
    return {
        'status': re.sub(r'<\d+>', '<PK>', status.output),
        'table': csv.drop(columns=[c for c in csv if c.endswith('_pk')]),
        'figures': figures,
    }
