"""Study A over configurations: AIMD -> electronic -> NAMD per composition x ligand arrangement (qdots.study).

    verdi run examples/study.py --label my-study [--compositions se-rich,cd-rich] [--arrangements 0,1] [--submit]

Results land in the groups qdots/<label>/<system>/<configuration>/<stage>; compare them with
``aiida-qdots compare --group qdots/<label>``.
"""

from aiida import orm

from aiida_qdots.query import configuration_table
from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.study import StudyWorkChain

parser = example_parser(__doc__, StudyWorkChain)
parser.add_argument('--label', required=True, help='Study label.')
parser.add_argument('--compositions', default='se-rich,cd-rich')
parser.add_argument('--arrangements', default='0')
parser.add_argument('--cp2k-code', default='cp2k@localhost')
parser.add_argument('--python-code', default='qdots-python@localhost')
args = parser.parse_args()

builder = StudyWorkChain.get_builder_from_protocol(
    orm.load_code(args.cp2k_code),
    orm.load_code(args.python_code),
    args.label,
    args.compositions.split(','),
    [int(a) for a in args.arrangements.split(',')],
    args.protocol,
    args.overrides,
)
node = launch(builder, args.submit)
if node.is_terminated:
    table = configuration_table(args.label)
    print(table.drop(columns=[c for c in table if c.endswith('_uuid')]).to_string(index=False))
