"""Exceptions raised by the package's builders and importers."""


class QdotsInputError(ValueError):
    """An input (structure recipe, file, option) is invalid; the message names the problem."""


class TrajectoryFormatError(QdotsInputError):
    """An input file (trajectory, levels, UED) is malformed; the message names the file, frame, row or line.
    :class:`~aiida_qdots.common.validation.RuleViolation` adds the rule it breaks."""
