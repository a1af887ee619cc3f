"""sigma-ext: container and pod creation detection content, with the pySigma extensions to tune,
compile, test and hunt with it."""

__version__ = "0.1.0"
