"""The ``aiida-qdots`` command line: the root group (:mod:`.root`) with one module per command group."""

from aiida_qdots.cli import analyze, build, demo, importers, launch, plots, reproduce, setup, study  # noqa: F401 (register)
from aiida_qdots.cli.root import cli

__all__ = ('cli',)
