"""Output nodes that explain themselves in ``verdi node show`` / ``verdi process show``."""

from __future__ import annotations

from collections.abc import Mapping

from aiida import orm


class LabelledOutputsMixin:
    """Before an output is attached, give it a label ``<Process> <output>`` and its port's help as description,
    unless the node already has them (results reused from elsewhere keep theirs)."""

    def on_output_emitting(self, output_port: str, value) -> None:
        self._label_outputs(output_port, value)
        super().on_output_emitting(output_port, value)

    def _label_outputs(self, output_port: str, value) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                self._label_outputs(f'{output_port}.{key}', item)
            return
        if not isinstance(value, orm.Data):
            return
        port = self.spec().outputs
        for name in output_port.split('.'):
            port = port.get(name) if hasattr(port, 'get') else None
        if not value.label:
            value.label = f'{self.node.process_label} {output_port}'
        if not value.description and port is not None and port.help:
            value.description = port.help
