"""What the ``examples/`` scripts share: their common command-line options and run-or-submit.

The scripts are run with ``verdi run examples/<name>.py [options]`` (``verdi -p PROFILE run`` for another profile);
``--submit`` hands the process to the daemon (``verdi daemon start``) instead of running it in ``verdi run``.
"""

from __future__ import annotations

import argparse
import json

from aiida import orm
from aiida.engine import run_get_node, submit


def example_parser(doc: str, workchain=None) -> argparse.ArgumentParser:
    """Parser with ``--submit`` and, for a ``workchain`` with protocols, ``--protocol`` (its protocols; ``fast`` by
    default) and ``--overrides`` (JSON merged into the protocol inputs)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--submit', action='store_true', help='Submit to the daemon and return.')
    if workchain is not None:
        parser.add_argument('--protocol', default='fast', choices=tuple(workchain.get_available_protocols()))
        parser.add_argument(
            '--overrides',
            type=json.loads,
            default={},
            help='JSON merged into the protocol inputs, e.g. \'{"relax": false}\'.',
        )
    return parser


def launch(builder, submit_to_daemon: bool) -> orm.ProcessNode:
    """Run ``builder`` here or submit it; print how to follow it. Returns the process node."""
    if submit_to_daemon:
        node = submit(builder)
        print(f'submitted {node.process_label}<{node.pk}>; follow it with `verdi process report {node.pk}`')
        return node
    _, node = run_get_node(builder)
    message = f': {node.exit_message}' if node.exit_message else ''
    print(
        f'{node.process_label}<{node.pk}> {node.process_state.value}, exit status {node.exit_status}{message}; '
        f'`verdi process show {node.pk}` lists its outputs'
    )
    return node
