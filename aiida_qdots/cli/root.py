"""The ``aiida-qdots`` root command group; each command-group module attaches its commands to it."""

import click

from aiida_qdots.cli.utils import PROFILE_OPTION, QdotsGroup


@click.group(cls=QdotsGroup, context_settings={'help_option_names': ['-h', '--help']})
@PROFILE_OPTION
@click.version_option(package_name='aiida-qdots')
def cli(profile):
    """Run, query and share CdSe quantum-dot simulation studies with AiiDA."""
