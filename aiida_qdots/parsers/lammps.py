"""``qdots.lammps`` parser: LAMMPS screen output and dump files -> AiiDA nodes.

The text parsing is done by the pure functions of :mod:`aiida_qdots.readers.lammps`;
:class:`LammpsLogParser` turns their results into nodes. It parses any
``lammps.raw`` run; the extra outputs (``thermo``, ``trajectory``, ``structure``, ``forces``) are
attached only when the CalcJob declares them (``qdots.lammps`` / :class:`QdotsLammpsCalculation`).

Dump files are read from the ``retrieved_temporary_folder`` of the run when it holds them (the large dumps of
``qdots.lammps`` by default, see :class:`~aiida_qdots.calculations.lammps.QdotsLammpsCalculation`), else from
``retrieved``.

Units: thermo arrays and ``results['final_thermo']`` are kept as LAMMPS printed them (for ``units
metal``: energies eV, Time ps, Temp K, Press bar, lengths angstrom, forces eV/angstrom). Node outputs
that follow the package convention are converted: trajectory times in fs and velocities in
angstrom/fs (LAMMPS metal: angstrom/ps, divided by 1000).
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
from aiida import orm
from aiida.parsers import Parser

from aiida_qdots.calculations.lammps.inputs import (
    DYNMAT_FILENAME,
    FINAL_FILENAME,
    HESSIAN_FILENAME,
    TRAJECTORY_FILENAME,
    lammps_frame,
)
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.units import FS_PER_PS
from aiida_qdots.readers.lammps import (
    THERMO_UNITS_METAL,
    DumpFrame,
    LammpsLog,
    parse_dynamical_matrix,
    parse_hessian_dump,
    parse_lammps_dump,
    parse_lammps_log,
    sanitize_column,
    thermo_arrays,
)

UNITS_NOTE = (
    'thermo arrays and final_thermo in LAMMPS units (metal: eV, angstrom, ps, K, bar, eV/angstrom); '
    'energy/energy_per_atom in eV; trajectory converted to angstrom, angstrom/fs (metal velocities / 1000) '
    'and fs (metal time * 1000)'
)


class LammpsLogParser(Parser):
    """Parse a ``lammps.raw`` / ``qdots.lammps`` run: screen output, trajectory dump and final dump."""

    def parse(self, retrieved_temporary_folder: str | None = None, **kwargs):
        output_filename = self.node.get_option('output_filename')
        retrieved = self.retrieved
        available = set(retrieved.base.repository.list_object_names())
        if output_filename not in available:
            return self.exit_codes.ERROR_OUTFILE_MISSING
        log = parse_lammps_log(retrieved.base.repository.get_object_content(output_filename))
        stderr_name = self.node.get_option('scheduler_stderr')
        stderr = []
        if stderr_name and stderr_name in available:
            stderr = [line.strip() for line in retrieved.base.repository.get_object_content(stderr_name).splitlines()]
            log.errors += [line for line in stderr if line.startswith('ERROR') and line not in log.errors]
        units = self._units()
        settings = self.node.inputs.settings.get_dict() if 'settings' in self.node.inputs else {}
        phases = settings.get('qdots', {}).get('phases', [])

        results = self._results(log, units, phases)
        if phases == ['hessian']:  # one `run 0` block per displaced configuration: keep the first only
            results['blocks'] = results['blocks'][:1]
        self.out('results', orm.Dict(results))
        if log.blocks and self._declares('thermo') and phases != ['hessian']:
            self.out('thermo', self._thermo_node(log, units, phases))
        if log.errors:
            return self.exit_codes.ERROR_PARSER_DETECTED_LAMMPS_RUN_ERROR.format(error='; '.join(log.errors))
        if not log.finished:
            last = 'complete' if log.blocks and log.blocks[-1].complete else 'cut short'
            detail = f'no "Total wall time" line; {len(log.blocks)} thermo blocks, the last {last}'
            if any(stderr):
                detail += f'; stderr ends with: {[line for line in stderr if line][-1]}'
            return self._exit('ERROR_OUTPUT_INCOMPLETE', detail=detail)

        structure = self.node.inputs.structure if 'structure' in self.node.inputs else None
        frame = lammps_frame(structure) if structure is not None else None
        requested = [*(self.node.get_retrieve_list() or []), *(self.node.get_retrieve_temporary_list() or [])]
        requested = {r if isinstance(r, str) else r[0] for r in requested}
        for filename in (HESSIAN_FILENAME, DYNMAT_FILENAME, TRAJECTORY_FILENAME, FINAL_FILENAME):
            if filename not in requested:
                continue
            temporary = pathlib.Path(retrieved_temporary_folder or '', filename)
            if retrieved_temporary_folder and temporary.is_file():
                content = temporary.read_text()
            elif filename in available:
                content = retrieved.base.repository.get_object_content(filename)
            else:
                return self._exit('ERROR_DUMP_MISSING', filename=filename)
            try:
                if filename in (HESSIAN_FILENAME, DYNMAT_FILENAME):
                    displacement = settings['qdots']['displacement']
                    if filename == HESSIAN_FILENAME:
                        hessian = parse_hessian_dump(content, displacement)
                        method = 'central finite differences of LAMMPS forces'
                    else:
                        kind_mass = dict(zip(frame.kinds, frame.masses, strict=True))
                        hessian = parse_dynamical_matrix(
                            content, [kind_mass[site.kind_name] for site in structure.sites]
                        )
                        method = 'LAMMPS dynamical_matrix (PHONON package; central differences), times sqrt(m_i m_j)'
                    self.out('hessian', self._hessian_node(hessian, displacement, frame, method))
                    continue
                frames, dump_units = parse_lammps_dump(content)
                if not frames:
                    raise QdotsInputError('no frames')
                if (dump_units or units) != 'metal':
                    self.logger.warning(f'{filename}: units {dump_units or units} are not converted; skipped')
                    continue
                if filename == TRAJECTORY_FILENAME and self._declares('trajectory'):
                    self.out('trajectory', self._trajectory_node(frames, frame, structure))
                elif filename == FINAL_FILENAME:
                    self._final_outputs(frames[-1], frame, structure)
            except (QdotsInputError, KeyError, ValueError) as exc:
                return self._exit('ERROR_DUMP_INVALID', filename=filename, error=str(exc))
        return None

    @staticmethod
    def _hessian_node(hessian: np.ndarray, displacement: float, frame, method: str) -> orm.ArrayData:
        """The Hessian output, rotated from the LAMMPS frame back to the input frame."""
        n_atoms = hessian.shape[0] // 3
        rotation = frame.rotation if frame is not None else np.eye(3)
        blocks = hessian.reshape(n_atoms, 3, n_atoms, 3)
        hessian = np.einsum('ab,ibjc,dc->iajd', rotation, blocks, rotation).reshape(3 * n_atoms, 3 * n_atoms)
        node = orm.ArrayData()
        node.set_array('hessian', hessian)
        scale = np.abs(hessian).max()
        node.base.attributes.set_many(
            {
                'units': {'hessian': 'eV/angstrom^2'},
                'displacement_angstrom': float(displacement),
                'method': method,
                'convention': 'hessian[3i+a, 3j+b] = d2E / dx_ia dx_jb, atoms in input order; not symmetrised',
                'asymmetry': float(np.abs(hessian - hessian.T).max() / scale) if scale else 0.0,
            }
        )
        return node

    def _declares(self, name: str) -> bool:
        return name in self.node.process_class.spec().outputs

    def _exit(self, name: str, **kwargs):
        """Exit code ``name`` of the CalcJob, or lammps.raw's generic parsing failure if it lacks it."""
        if name in self.exit_codes:
            return getattr(self.exit_codes, name).format(**kwargs)
        self.logger.error(f'{name}: {kwargs}')
        return self.exit_codes.ERROR_PARSING_OUTFILE

    def _units(self) -> str:
        """The ``units`` style of the input script (LAMMPS' default is lj)."""
        script = self.node.inputs.script.get_content() if 'script' in self.node.inputs else ''
        found = re.findall(r'^\s*units\s+(\w+)', script, flags=re.MULTILINE)
        return found[-1] if found else 'lj'

    @staticmethod
    def _results(log: LammpsLog, units: str, phases: list[str]) -> dict:
        blocks = []
        for k, block in enumerate(log.blocks):
            info = {
                'kind': block.kind,
                'columns': block.columns,
                'num_rows': len(block.rows),
                'complete': block.complete,
                'loop_time_seconds': block.loop_time,
                'num_procs': block.num_procs,
                'num_steps': block.num_steps,
                'num_atoms': block.num_atoms,
            }
            if len(phases) == len(log.blocks):
                info['phase'] = phases[k]
            if block.loop_time and block.num_steps and block.num_atoms:
                info['atom_steps_per_second'] = block.num_steps * block.num_atoms / block.loop_time
            if block.rows and 'Step' in block.columns:
                column = block.columns.index('Step')
                info['first_step'], info['last_step'] = int(block.rows[0][column]), int(block.rows[-1][column])
            info.update(block.minimization)
            blocks.append(info)
        results = {
            'lammps_version': log.version,
            'units': units,
            'units_note': UNITS_NOTE,
            'num_atoms': log.num_atoms,
            'num_blocks': len(log.blocks),
            'blocks': blocks,
            'total_wall_time': log.total_wall_time,
            'wall_time_seconds': log.wall_time_seconds,
            'finished': log.finished,
            'warnings': log.warnings,
            'errors': log.errors,
        }
        last = next((b for b in reversed(log.blocks) if b.rows), None)
        if last is not None:
            final = {sanitize_column(c): v for c, v in zip(last.columns, last.rows[-1], strict=True)}
            results['final_thermo'] = final
            if units == 'metal' and 'PotEng' in final:
                results['energy'] = final['PotEng']
                if log.num_atoms:
                    results['energy_per_atom'] = final['PotEng'] / log.num_atoms
            if units == 'metal':
                for key in ('Fmax', 'Fnorm'):
                    if key in final:
                        results[key.lower()] = final[key]
        return results

    @staticmethod
    def _thermo_node(log: LammpsLog, units: str, phases: list[str]) -> orm.ArrayData:
        arrays, names = thermo_arrays(log.blocks)
        node = orm.ArrayData()
        for key, array in arrays.items():
            node.set_array(key, array)
        node.base.attributes.set('columns', names)
        node.base.attributes.set('lammps_units', units)
        if units == 'metal':
            units_map = {k: THERMO_UNITS_METAL[v] for k, v in names.items() if v in THERMO_UNITS_METAL}
            node.base.attributes.set('units', units_map)
        node.base.attributes.set(
            'blocks',
            [
                {
                    'kind': b.kind,
                    'phase': phases[k] if len(phases) == len(log.blocks) else None,
                    'num_rows': len(b.rows),
                }
                for k, b in enumerate(log.blocks)
            ],
        )
        return node

    @staticmethod
    def _vectors(dump: DumpFrame, names: tuple[str, str, str], frame) -> np.ndarray | None:
        if not all(n in dump.columns for n in names):
            return None
        vectors = np.stack([dump.columns[n] for n in names], axis=1)
        return frame.to_input_frame(vectors) if frame is not None else vectors

    def _positions(self, dump: DumpFrame, frame) -> np.ndarray:
        for names in (('xu', 'yu', 'zu'), ('x', 'y', 'z')):
            positions = self._vectors(dump, names, frame)
            if positions is not None:
                return positions
        raise QdotsInputError('the dump has neither x y z nor xu yu zu columns')

    def _cell(self, dump: DumpFrame, frame, structure) -> np.ndarray:
        if frame is None:
            return dump.box
        if not frame.periodic:
            return np.array(structure.cell, dtype=float)
        return frame.cell_to_input_frame(dump.box)

    def _symbols(self, dump: DumpFrame, structure) -> list[str]:
        if structure is not None:
            return [site.kind_name for site in structure.sites]
        if 'element' in dump.columns:
            return list(dump.columns['element'])
        raise QdotsInputError('no structure input and no element column: cannot name the atoms')

    def _trajectory_node(self, frames: list[DumpFrame], frame, structure) -> orm.TrajectoryData:
        natoms = {len(f.columns['id']) for f in frames}
        if len(natoms) != 1:
            raise QdotsInputError(f'the number of atoms changes between frames: {sorted(natoms)}')
        positions = np.array([self._positions(f, frame) for f in frames])
        velocities = [self._vectors(f, ('vx', 'vy', 'vz'), frame) for f in frames]
        velocities = None if velocities[0] is None else np.array(velocities) / FS_PER_PS
        times = None if frames[0].time is None else np.array([f.time for f in frames]) * FS_PER_PS
        pbc = tuple(structure.pbc) if structure is not None else tuple(b == 'pp' for b in frames[0].boundary)
        node = orm.TrajectoryData()
        node.set_trajectory(
            symbols=self._symbols(frames[0], structure),
            positions=positions,
            stepids=np.array([f.timestep for f in frames], dtype=np.int64),
            cells=np.array([self._cell(f, frame, structure) for f in frames]),
            times=times,
            velocities=velocities,
            pbc=pbc,
        )
        coordinates = 'unwrapped' if 'xu' in frames[0].columns else 'wrapped'
        node.base.attributes.set(
            'units', {'positions': 'angstrom', 'velocities': 'angstrom/fs', 'times': 'fs', 'cells': 'angstrom'}
        )
        node.base.attributes.set('source', f'{TRAJECTORY_FILENAME} (LAMMPS units metal, velocities / 1000)')
        node.base.attributes.set('coordinates', coordinates)
        return node

    def _final_outputs(self, dump: DumpFrame, frame, structure) -> None:
        forces = self._vectors(dump, ('fx', 'fy', 'fz'), frame)
        if forces is not None and self._declares('forces'):
            node = orm.ArrayData()
            node.set_array('forces', forces)
            node.base.attributes.set('units', {'forces': 'eV/angstrom'})
            self.out('forces', node)
        if structure is None or not self._declares('structure'):
            return
        final = structure.clone()
        final.reset_cell(self._cell(dump, frame, structure).tolist())
        # StructureData.reset_sites_positions rebuilds every site per site (quadratic: hours at 16 000 atoms)
        sites = final.base.attributes.get('sites')
        for site, position in zip(sites, self._positions(dump, frame).tolist(), strict=True):
            site['position'] = [float(x) for x in position]
        final.base.attributes.set('sites', sites)
        self.out('structure', final)
