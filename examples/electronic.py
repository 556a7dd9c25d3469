"""HOMO/LUMO fluctuations along a trajectory: CP2K re-evaluates selected frames (qdots.electronic).

verdi run examples/electronic.py --trajectory PK [--overrides '{"selection": {"stride_fs": 20}}'] [--submit]
"""

from aiida import orm

from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.electronic import ElectronicWorkChain

parser = example_parser(__doc__, ElectronicWorkChain)
parser.add_argument('--trajectory', required=True, help='PK/UUID of a TrajectoryData (qdots.aimd output or import).')
parser.add_argument('--code', default='cp2k@localhost')
args = parser.parse_args()

builder = ElectronicWorkChain.get_builder_from_protocol(
    orm.load_code(args.code), orm.load_node(args.trajectory), args.protocol, args.overrides
)
node = launch(builder, args.submit)
if node.is_finished_ok:
    stats = node.outputs.statistics
    for level in ('homo', 'lumo', 'gap'):
        print(f'{level}: {stats[level]["mean_ev"]:.3f} +- {stats[level]["std_ev"]:.3f} eV')
