"""`rswap eval`: face-quality evaluation of swappers on folders of photos (identity, pose,
expression, defects), a product command of its own beside the benchmarks (which measure speed)."""
