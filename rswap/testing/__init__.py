"""Made-up media for tests, benchmarks and the demo: clips rendered from a still photo.
Product code (live, convert, training) never imports this package; it is also the only
place that may need scikit-image (the dev extra)."""
