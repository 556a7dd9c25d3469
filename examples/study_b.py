"""Study B reproduced with LAMMPS (qdots.study_b): the lattice part (MSD(T), d<u^2>/dT, G(r), dG(r)) and the
lifetimes part (normal modes, mode lifetimes) of two CdSe/CdS particles, launched together.

verdi run examples/study_b.py --study LABEL [--protocol fast|workstation] [--overrides JSON] [--submit]

`workstation` is the seed-size run (hours on 2 cores, see docs/validation-study-b.md); `fast` takes minutes.
`aiida-qdots reproduce study-b` runs the same workchain and writes the report beside the seed's numbers.
"""

from aiida import orm

from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.study_b import StudyBWorkChain

parser = example_parser(__doc__, StudyBWorkChain)
parser.add_argument('--study', required=True, help='Study label (groups qdots/<study>/...).')
parser.add_argument('--code', default='lammps@localhost')
args = parser.parse_args()

builder = StudyBWorkChain.get_builder_from_protocol(orm.load_code(args.code), args.study, args.protocol, args.overrides)
node = launch(builder, args.submit)
if 'summary' in node.outputs:
    for part, entry in node.outputs.summary['entries'].items():
        phonons = orm.load_node(entry['pk'])
        print(f'{part}: qdots.phonons<{phonons.pk}> on {phonons.inputs.structure.get_formula()}, exit status '
              f'{phonons.exit_status}')  # fmt: skip
        if 'msd_slope' in phonons.outputs:
            slope = phonons.outputs.msd_slope
            print(f'  d<u^2>/dT = {slope["slope_A2_per_K"]:.3e} +- {slope["slope_stderr_A2_per_K"]:.1e} A^2/K')
        if 'lifetimes_summary' in phonons.outputs:
            lifetimes = phonons.outputs.lifetimes_summary
            print(f'  {lifetimes["n_modes"]} mode lifetimes, median {lifetimes["median_tau_gle_fs"]:.0f} fs (1/Re K)')
