"""Swappers: the interface, the classical (no-network) swapper, and whole-frame swapping."""
