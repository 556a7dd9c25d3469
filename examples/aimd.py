"""Ab initio MD of a cluster at 300 K with CP2K (qdots.aimd): relax, heat, equilibrate, NVE production, analysis.

verdi run examples/aimd.py [--structure PK | --composition se-rich] [--overrides '{"relax": false}'] [--submit]
"""

from aiida import orm

from aiida_qdots.functions.clusters import build_cluster
from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.aimd import AimdWorkChain

parser = example_parser(__doc__, AimdWorkChain)
parser.add_argument('--structure', help='PK/UUID of a StructureData (default: build --composition, arrangement 0).')
parser.add_argument('--composition', default='se-rich', choices=('se-rich', 'cd-rich'))
parser.add_argument('--code', default='cp2k@localhost')
args = parser.parse_args()

structure = orm.load_node(args.structure) if args.structure else build_cluster(orm.Str(args.composition), orm.Int(0))
builder = AimdWorkChain.get_builder_from_protocol(orm.load_code(args.code), structure, args.protocol, args.overrides)
node = launch(builder, args.submit)
if node.is_finished_ok:
    print(
        f'trajectory<{node.outputs.trajectory.pk}>: {node.outputs.trajectory.numsteps} frames; '
        f'RMSF by element (A): {node.outputs.analysis.summary["rmsf_by_element"]}'
    )
