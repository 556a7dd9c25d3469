"""Units, constants and errors shared by every part of the package."""
