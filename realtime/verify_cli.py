"""`rswap verify FILE...`: is this file synthetic by rswap? Reads its Content Credentials
(valid, tampered or absent; who signed) and looks for the invisible watermark (frames
sampled across a video). One line per file, or a JSON report with --json.

Exit 0 when every file is "synthetic by rswap" (an intact rswap manifest, or the
watermark), 1 otherwise (a real photo, a tampered manifest), 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from rswap.media.paths import require_input_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="videos or images to check")
    parser.add_argument("--json", action="store_true", help="print a JSON report instead of one line per file")
    parser.add_argument("--trust-anchors", metavar="PEM",
                        help="CA certificates to trust besides this installation's own (e.g. your organisation's)")


def run(args: argparse.Namespace) -> int:
    from rswap.provenance.verify import verify_file

    for f in args.files:  # all inputs checked before any work
        require_input_file(f, "file to verify")
    anchors = require_input_file(args.trust_anchors, "trust anchors").read_bytes() if args.trust_anchors else None
    reports = [verify_file(f, anchors) for f in args.files]
    if args.json:
        json.dump([r.as_dict() for r in reports], sys.stdout, indent=2)
        print()
    else:
        for r in reports:
            print(r.line())
    return 0 if all(r.synthetic_by_rswap for r in reports) else 1
