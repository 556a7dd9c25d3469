"""Rank ligand arrangements of a cluster by GFN1-xTB energy (qdots.ligand_ranking).

verdi run examples/ligand_ranking.py [--composition cd-rich] [--arrangements 0,1,2] [--relax] [--submit]
"""

from aiida import orm

from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.cluster_energy import ClusterEnergyWorkChain
from aiida_qdots.workchains.ligand_ranking import LigandRankingWorkChain

parser = example_parser(__doc__, ClusterEnergyWorkChain)
parser.add_argument('--composition', default='cd-rich', choices=('se-rich', 'cd-rich'))
parser.add_argument('--arrangements', default='0,1', help='Comma-separated arrangement indices.')
parser.add_argument('--relax', action='store_true')
parser.add_argument('--max-concurrent', type=int, default=1)
parser.add_argument('--code', default='cp2k@localhost')
args = parser.parse_args()

builder = LigandRankingWorkChain.get_builder_from_protocol(
    orm.load_code(args.code),
    args.composition,
    [int(a) for a in args.arrangements.split(',')],
    protocol=args.protocol,
    overrides=args.overrides,
    relax=args.relax,
    max_concurrent=args.max_concurrent,
)
node = launch(builder, args.submit)
if 'ranking' in node.outputs:
    for entry in node.outputs.ranking['ranking']:
        print(
            f'configuration {entry["configuration"]}: arrangement {entry["arrangement"]}, '
            f'+{entry["relative_energy_mev"]:.1f} meV'
        )
