"""``aiida-qdots build``: store structures made by the package's builders."""
import click

from aiida_qdots.cli import cli
from aiida_qdots.cli.utils import echo_pk, with_profile


@cli.group('build')
def build():
    """Build structures (magic-size clusters, nanocrystals) and store them as StructureData."""
