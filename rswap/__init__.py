"""rswap core library: faces, composition, swappers, media I/O. Imports no app package."""

__version__ = "0.1.0"
