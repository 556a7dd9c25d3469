"""Normal modes, Raman and IR spectra of a relaxed cluster with CP2K (qdots.vibrations, seed Fig. 2b-c).

verdi run examples/vibrations.py [--composition se-rich|cd-rich] [--arrangement 0] [--structure PK] [--no-relax]

Without ``--structure`` the package's magic-size cluster of ``--composition`` is built (67 atoms: ~5-10 min at
`fast` on 2 cores). The modes nearest the main optical Raman peak are printed with their element participation.
"""

from aiida import orm

from aiida_qdots.functions.clusters import build_cluster
from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.vibrations import VibrationsWorkChain

parser = example_parser(__doc__, VibrationsWorkChain)
parser.add_argument('--composition', default='se-rich', choices=('se-rich', 'cd-rich'))
parser.add_argument('--arrangement', type=int, default=0)
parser.add_argument('--structure', help='PK/UUID of a StructureData to use instead of a built cluster.')
parser.add_argument('--no-relax', action='store_true', help='Skip the relaxation (the structure is relaxed already).')
parser.add_argument('--code', default='cp2k@localhost')
args = parser.parse_args()

if args.structure:
    structure = orm.load_node(args.structure)
else:
    structure = build_cluster(orm.Str(args.composition), orm.Int(args.arrangement))
builder = VibrationsWorkChain.get_builder_from_protocol(
    orm.load_code(args.code), structure, args.protocol, args.overrides, relax=not args.no_relax
)
node = launch(builder, args.submit)
if node.is_finished_ok:
    summary = node.outputs.summary
    print(f'{structure.get_formula()}: {summary["n_modes"]} modes, {summary["n_imaginary"]} imaginary')
    if 'raman_peak_cm1' in summary:
        print(f'main optical Raman peak {summary["raman_peak_cm1"]:.1f} cm^-1 ({summary["hwhm_cm1"]:g} cm^-1 HWHM)')
        for mode in summary['peak_modes']:
            shares = ', '.join(f'{e} {v:.0%}' for e, v in mode['participation'].items())
            print(f'  mode {mode["index"]}: {mode["wavenumber_cm1"]:.1f} cm^-1, {mode["assignment"]} ({shares})')
