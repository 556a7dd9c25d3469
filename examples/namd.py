"""Non-adiabatic MD over a trajectory window: NACs, dephasing, DISH recombination time (qdots.namd).

verdi run examples/namd.py --trajectory PK [--overrides '{"window": {"n_frames": 20}}'] [--submit]
"""

from aiida import orm

from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.namd import NamdWorkChain

parser = example_parser(__doc__, NamdWorkChain)
parser.add_argument('--trajectory', required=True, help='PK/UUID of a TrajectoryData with one frame per MD step.')
parser.add_argument('--cp2k-code', default='cp2k@localhost')
parser.add_argument('--python-code', default='qdots-python@localhost')
args = parser.parse_args()

builder = NamdWorkChain.get_builder_from_protocol(
    orm.load_code(args.cp2k_code),
    orm.load_code(args.python_code),
    orm.load_node(args.trajectory),
    args.protocol,
    args.overrides,
)
node = launch(builder, args.submit)
if node.is_finished_ok:
    s = node.outputs.summary
    print(
        f'mean |NAC| {s["mean_abs_nac_mev"]:.3g} meV, dephasing {s["decoherence_time_fs"]:.2f} fs, '
        f'recombination {s["recombination_tau_ns"]} ns (CI {s["recombination_ci_ns"]})'
    )
