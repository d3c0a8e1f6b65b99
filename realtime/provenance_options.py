"""Content Credentials flags (`--sign-cert/--sign-key`), shared by `convert` and `live -o FILE`.

Without the flags, the certificate and key named in the config directory's config.toml
(`[credentials] cert = "...", key = "..."`) sign; without those, this installation's
local signer (made once, see rswap.provenance.credentials.local_identity).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rswap.provenance.credentials import ContentCredentials, can_sign, configured_identity


def add_signing_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("content credentials (C2PA)")
    g.add_argument("--sign-cert", metavar="PEM",
                   help="sign the output's Content Credentials with this certificate chain (leaf first) "
                        "instead of rswap's local one")
    g.add_argument("--sign-key", metavar="PEM", help="the private key of --sign-cert (unencrypted PEM)")


def credentials_from_args(args: argparse.Namespace, output, target=None, prog: str = "rswap") -> ContentCredentials | None:
    """The signer for `output`, checked now (a certificate c2pa refuses fails before any work);
    None, with a note, when the output format cannot carry a manifest."""
    if not can_sign(output):
        print(f"{prog}: {Path(output).suffix} files cannot carry Content Credentials; "
              "use .mp4 or .mov to have them (the frames still carry the watermark)", file=sys.stderr)
        return None
    credentials = ContentCredentials(
        configured_identity(args.sign_cert, args.sign_key),
        target=Path(target) if target is not None else None,
        sources=[Path(s) for s in args.source],
    )
    credentials.check()
    return credentials
