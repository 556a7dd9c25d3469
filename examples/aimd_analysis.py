"""RMSF and vibrational power spectra of a stored MD trajectory (qdots.aimd_analysis).

verdi run examples/aimd_analysis.py --trajectory PK [--parameters '{"last_frames": 1000}'] [--submit]
"""

import json

from aiida import orm

from aiida_qdots.scripting import example_parser, launch
from aiida_qdots.workchains.aimd_analysis import AimdAnalysisWorkChain

parser = example_parser(__doc__)
parser.add_argument('--trajectory', required=True, help='PK/UUID of a TrajectoryData (aiida-qdots import trajectory).')
parser.add_argument('--parameters', type=json.loads, default={}, help='Analysis parameters (JSON).')
args = parser.parse_args()

builder = AimdAnalysisWorkChain.get_builder()
builder.trajectory = orm.load_node(args.trajectory)
builder.parameters = orm.Dict(args.parameters)
node = launch(builder, args.submit)
if node.is_finished_ok:
    summary = node.outputs.summary
    print(f'RMSF by element (A): {summary["rmsf_by_element"]}; kinetic T {summary["kinetic_temperature_k"]:.0f} K')
