"""One cluster configuration: build it, AIMD, electronic levels, NAMD (qdots.configuration).

verdi run examples/configuration.py [--composition cd-rich] [--arrangement 0] [--study LABEL] [--submit]
"""

from aiida import orm

from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.study import ConfigurationWorkChain, StudyWorkChain

parser = example_parser(__doc__, StudyWorkChain)
parser.add_argument('--composition', default='cd-rich', choices=('se-rich', 'cd-rich'))
parser.add_argument('--arrangement', type=int, default=0)
parser.add_argument('--study', help='File the finished stages into qdots/<study>/...')
parser.add_argument('--cp2k-code', default='cp2k@localhost')
parser.add_argument('--python-code', default='qdots-python@localhost')
args = parser.parse_args()

builder = ConfigurationWorkChain.get_builder_from_protocol(
    orm.load_code(args.cp2k_code),
    orm.load_code(args.python_code),
    args.composition,
    args.arrangement,
    args.protocol,
    args.overrides,
    args.study,
)
node = launch(builder, args.submit)
if node.is_finished_ok:
    print(
        f'gap {node.outputs.electronic.statistics["gap"]["mean_ev"]:.3f} eV; '
        f'recombination {node.outputs.namd.summary["recombination_tau_ns"]} ns'
    )
