"""GFN1-xTB total energy of a magic-size cluster (qdots.cluster_energy), optionally after relaxation.

verdi run examples/cluster_energy.py [--composition se-rich|cd-rich] [--arrangement 0] [--relax] [--submit]
"""

from aiida import orm

from aiida_qdots.functions.clusters import build_cluster
from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.cluster_energy import ClusterEnergyWorkChain

parser = example_parser(__doc__, ClusterEnergyWorkChain)
parser.add_argument('--composition', default='se-rich', choices=('se-rich', 'cd-rich'))
parser.add_argument('--arrangement', type=int, default=0)
parser.add_argument('--relax', action='store_true', help='Optimise the geometry first.')
parser.add_argument('--code', default='cp2k@localhost')
args = parser.parse_args()

structure = build_cluster(orm.Str(args.composition), orm.Int(args.arrangement))
builder = ClusterEnergyWorkChain.get_builder_from_protocol(
    orm.load_code(args.code), structure, args.protocol, args.overrides, relax=args.relax
)
node = launch(builder, args.submit)
if node.is_finished_ok:
    print(f'{structure.get_formula()}: E = {node.outputs.energy.value:.4f} eV')
