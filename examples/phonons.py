"""Normal modes, lifetimes, MSD(T) and G(r) of a CdSe(/CdS) nanocrystal with LAMMPS (qdots.phonons).

verdi run examples/phonons.py [--diameter 2.0] [--shell-monolayers 0] [--overrides '{"stages": ["modes"]}']
"""

from aiida import orm

from aiida_qdots.functions.nanocrystals import nanocrystal_structure
from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.phonons import PhononsWorkChain

parser = example_parser(__doc__, PhononsWorkChain)
parser.add_argument('--diameter', type=float, default=2.0, help='Core diameter in nm.')
parser.add_argument('--shell-monolayers', type=int, default=0, help='CdS shell monolayers.')
parser.add_argument('--code', default='lammps@localhost')
args = parser.parse_args()

structure = nanocrystal_structure(diameter=10.0 * args.diameter, shell_monolayers=args.shell_monolayers)
builder = PhononsWorkChain.get_builder_from_protocol(orm.load_code(args.code), structure, args.protocol, args.overrides)
node = launch(builder, args.submit)
if node.is_finished_ok and 'msd_slope' in node.outputs:
    slope = node.outputs.msd_slope
    print(
        f'{structure.get_formula()}: d<u^2>/dT = {slope["slope_A2_per_K"]:.3e} '
        f'+- {slope["slope_stderr_A2_per_K"]:.1e} A^2/K ({slope["weighting"]} weighting)'
    )
