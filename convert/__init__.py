"""`rswap convert`: offline, lossless conversion of video and image files (and batches of them).
It runs on the live app's conveyor (realtime.pipeline, realtime.swap_stages) with ordered,
lossless links, and shares live's swap, detection and signing flags (realtime.*_options).
The embedded demo (`python -m convert.demo DIR`, what `make demo` runs) is a conversion too."""
