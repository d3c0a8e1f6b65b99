"""Provenance of rswap's outputs: an invisible watermark in every swapped frame
(watermark.py) and signed C2PA Content Credentials on every file convert writes
(credentials.py). `verify.py` reads both back."""
