"""Exceptions raised by the package's builders and importers."""


class QdotsInputError(ValueError):
    """An input (structure recipe, file, option) is invalid; the message names the problem."""


class TrajectoryFormatError(QdotsInputError):
    """A trajectory or levels file is malformed; the message names the file, frame or line."""
