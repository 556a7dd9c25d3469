"""Kinetic-model fit of ultrafast electron diffraction data (qdots.ued): Debye-Waller -> dT(t) -> Auger/trapping.

    verdi run examples/ued.py --msd-slope PK [--data PK] [--submit]

Without ``--data`` the package's synthetic demo set (labelled synthetic) is stored and fitted. ``--msd-slope`` is
the ``msd_slope`` output of a qdots.phonons run (or a stored Dict with slope_A2_per_K, slope_stderr_A2_per_K).
"""

from aiida import orm

from aiida_qdots.data.ued import synthetic_ued_node
from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.ued import UedWorkChain

parser = example_parser(__doc__)
parser.add_argument('--data', help='PK/UUID of a UED ArrayData (aiida-qdots import ued).')
parser.add_argument('--msd-slope', required=True, help='PK/UUID of the d<u^2>/dT Dict.')
args = parser.parse_args()

data = orm.load_node(args.data) if args.data else synthetic_ued_node()
builder = UedWorkChain.get_builder_from_protocol(data, orm.load_node(args.msd_slope), args.protocol, args.overrides)
node = launch(builder, args.submit)
if node.is_finished_ok:
    for pump in node.outputs.fit['sets']:
        print(
            f'{pump["wavelength_nm"]:g} nm: tau_AR {pump["model"]["tau_auger_ps"]:.0f} ps, '
            f'tau_trap {pump["model"]["tau_trap_ps"]} ps'
        )
