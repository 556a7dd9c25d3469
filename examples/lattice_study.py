"""Study B: phonons of nanocrystal sizes/shells, then UED kinetic fits calibrated by the first one
(qdots.lattice_study).

    verdi run examples/lattice_study.py --label my-lattice [--nanocrystals 2.0:0,2.0:1] [--ued-data PK] [--submit]

Without ``--ued-data`` the package's synthetic demo set (labelled synthetic) is made with the first nanocrystal's
d<u^2>/dT and fitted with it.
"""

import json

from aiida import orm

from aiida_qdots.query import nanocrystal_table, ued_table
from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.lattice_study import LatticeStudyWorkChain, nanocrystal_recipe
from aiida_qdots.workchains.phonons import PhononsWorkChain

parser = example_parser(__doc__, PhononsWorkChain)
parser.add_argument('--label', required=True, help='Study label.')
parser.add_argument('--nanocrystals', default='2.0:0', help='Comma-separated DIAMETER_NM:SHELL_MONOLAYERS.')
parser.add_argument('--ued-data', help='PK/UUID of a UED ArrayData (default: the synthetic demo set).')
parser.add_argument('--phonon-overrides', type=json.loads, default={})
parser.add_argument('--code', default='lammps@localhost')
args = parser.parse_args()

recipes = [nanocrystal_recipe(item) for item in args.nanocrystals.split(',')]
builder = LatticeStudyWorkChain.get_builder_from_protocol(
    orm.load_code(args.code),
    args.label,
    recipes,
    {'data': orm.load_node(args.ued_data)} if args.ued_data else None,
    args.protocol,
    args.phonon_overrides,
    args.overrides,
    ued_synthetic=None if args.ued_data else {},
)
node = launch(builder, args.submit)
if node.is_terminated:
    print(nanocrystal_table(args.label).to_string(index=False))
    print(ued_table(args.label).to_string(index=False))
