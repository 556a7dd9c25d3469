"""Kinetic-model fit of ultrafast electron diffraction data (qdots.ued): Debye-Waller -> dT(t) -> Auger/trapping.

    verdi run examples/ued.py --msd-slope PK [--data PK] [--submit]

Without ``--data`` the package's synthetic demo set (labelled synthetic, at the seed's conditions) is made with the
``--msd-slope`` it is then analysed with: the ``msd_slope`` output of a qdots.phonons run (or a stored Dict with
slope_A2_per_K, slope_stderr_A2_per_K).
"""

from aiida import orm

from aiida_qdots.functions.ued import synthetic_ued
from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.ued import UedWorkChain

parser = example_parser(__doc__, UedWorkChain)
parser.add_argument('--data', help='PK/UUID of a UED ArrayData (aiida-qdots import ued).')
parser.add_argument('--msd-slope', required=True, help='PK/UUID of the d<u^2>/dT Dict.')
args = parser.parse_args()

slope = orm.load_node(args.msd_slope)
data = orm.load_node(args.data) if args.data else synthetic_ued(slope)
builder = UedWorkChain.get_builder_from_protocol(data, slope, args.protocol, args.overrides)
node = launch(builder, args.submit)
if node.is_finished_ok:
    fit = node.outputs.fit
    for name, value in fit['values'].items():
        print(f'{name} {value:.3g} ps, {fit["confidence"]:.0%} CI {fit["ci"][name][0]:.3g}-{fit["ci"][name][1]:.3g}')
    for pump in fit['sets']:
        print(f'{pump["wavelength_nm"]:g} nm: <N> {pump["mean_initial_pairs"]:.1f}, plateau {pump["plateau_k"]:.1f} K')
