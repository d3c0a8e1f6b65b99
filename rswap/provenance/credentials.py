"""Signed C2PA Content Credentials on the files rswap writes, with the official c2pa-python.

The manifest says what happened, in C2PA's words:
- actions: `c2pa.opened` the target (the parent ingredient), then `c2pa.edited` with
  digitalSourceType `compositeWithTrainedAlgorithmicMedia` (IPTC): the output is real
  footage with generated faces pasted in, not wholly generated media; softwareAgent
  rswap and its version.
- ingredients: the target file (parentOf) and each source photo (inputTo), without their
  pixels: thumbnails are off and a source photo's title is a neutral "source face photo
  N", never its file name. The face photo of a person is the most sensitive input and a
  reader learns from the manifest only that one was used; a source that carries its own
  Content Credentials brings them along (c2pa does that), which is its owner's choice.
- signed with the user's certificate and key (`--sign-cert/--sign-key`, or the
  `[credentials]` table of config.toml in the config directory), otherwise with a local
  signer that rswap makes once per installation (see `local_identity`).

Signing happens on the finished temporary file, before it is renamed into place
(`ContentCredentials.sign_in_place`), so the output appears signed or not at all.
c2pa embeds the manifest in its own box/chunk and leaves the media data as it is: the
audio and video packets of a signed MP4 are bit-identical to the unsigned ones (tested).
"""

from __future__ import annotations

import contextlib
import datetime
import mimetypes
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rswap import __version__
from rswap.atomic import make_temp_file
from rswap.errors import RswapError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: c2pa-python brings the `toml` package
    import toml as tomllib

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
SOFTWARE = {"name": "rswap", "version": __version__}

# Formats c2pa can embed a manifest in, among those rswap writes (by output suffix).
MIME_BY_SUFFIX = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".avi": "video/x-msvideo",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
    ".tif": "image/tiff", ".tiff": "image/tiff",
}
# c2pa settings: no thumbnails (they would put the inputs' pixels into the manifest).
SIGN_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


def config_dir() -> Path:
    """rswap's per-user configuration directory: $XDG_CONFIG_HOME/rswap or ~/.config/rswap."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "rswap"


def can_sign(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in MIME_BY_SUFFIX


@dataclass(frozen=True)
class SigningIdentity:
    """A certificate chain (PEM, leaf first) and its private key (PEM)."""

    chain: bytes
    key: bytes
    alg: str  # c2pa.C2paSigningAlg member name
    subject: str  # the leaf's common name (or whole subject), for messages
    local: bool  # made by rswap for this installation

    def signer(self):
        import c2pa

        info = c2pa.C2paSignerInfo(getattr(c2pa.C2paSigningAlg, self.alg), self.chain, self.key, None)
        return c2pa.Signer.from_info(info)


# ---------------------------------------------------------------- identities

LOCAL_DIR = "c2pa"  # under config_dir(): signer.pem (chain), signer.key (0600), ca.pem
LOCAL_SUBJECT = "rswap local signer"


def local_identity(config: Path | None = None) -> SigningIdentity:
    """This installation's signer, made on first use.

    c2pa-rs checks the signing certificate's profile (a leaf, not a CA, digitalSignature
    key usage, an EKU such as emailProtection, not self-signed), so rswap makes a small
    chain: a local CA that signs one leaf, and throws the CA's key away (nothing else
    can ever be issued under it). ECDSA P-256 (ES256). The names say only "rswap": no
    host or user name goes into every output. The directory is created complete under a
    temporary name and renamed into place, so two first runs cannot mix two key pairs;
    the private key file is readable by the user only (0600, directory 0700).
    """
    home = (config or config_dir()) / LOCAL_DIR
    if not home.is_dir():
        home.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".c2pa.", dir=home.parent))  # mkdtemp: mode 0700
        try:
            ca_pem, chain, key = _make_local_chain()
            (tmp / "ca.pem").write_bytes(ca_pem)
            (tmp / "signer.pem").write_bytes(chain)
            fd = os.open(tmp / "signer.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key)
            os.chmod(tmp / "signer.key", 0o600)  # whatever the umask
            try:
                os.rename(tmp, home)
            except OSError:
                if not home.is_dir():  # not a lost race: a real failure
                    raise
        except OSError as e:
            raise RswapError(f"cannot create rswap's local signing key in {home}: {e.strerror or e}") from e
        finally:
            if tmp.exists():
                for p in tmp.iterdir():
                    p.unlink()
                tmp.rmdir()
    return load_identity(home / "signer.pem", home / "signer.key", local=True)


def local_trust_anchor(config: Path | None = None) -> bytes | None:
    """The local CA certificate, when this installation has made one (verify trusts it)."""
    path = (config or config_dir()) / LOCAL_DIR / "ca.pem"
    return path.read_bytes() if path.is_file() else None


def _make_local_chain() -> tuple[bytes, bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=3650)

    def usage(sign_certs: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not sign_certs, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=sign_certs, crl_sign=sign_certs, encipher_only=False, decipher_only=False,
        )

    org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "rswap (self-issued, identity not verified)")
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rswap local CA"), org])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOCAL_SUBJECT), org])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder().subject_name(leaf_name).issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    ca_pem = ca.public_bytes(pem)
    return ca_pem, leaf.public_bytes(pem) + ca_pem, key_pem


def load_identity(cert: str | os.PathLike, key: str | os.PathLike, local: bool = False) -> SigningIdentity:
    """A user's certificate chain and private key (PEM files), checked to belong together."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        chain, key_pem = Path(cert).read_bytes(), Path(key).read_bytes()
    except OSError as e:
        raise RswapError(f"cannot read the signing certificate or key: {e.filename}: {e.strerror}") from e
    try:
        certs = x509.load_pem_x509_certificates(chain)
    except ValueError:
        raise RswapError(f"signing certificate is not a PEM certificate chain: {cert}") from None
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise RswapError(f"signing key is not an unencrypted PEM private key: {key}") from None
    leaf = certs[0]
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(serialization.Encoding.DER, pub) != private.public_key().public_bytes(serialization.Encoding.DER, pub):
        raise RswapError(f"signing key {key} does not belong to the first certificate in {cert}")
    if isinstance(private, ec.EllipticCurvePrivateKey):
        alg = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}.get(private.curve.name)
    elif isinstance(private, rsa.RSAPrivateKey):
        alg = "PS256"
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        alg = "ED25519"
    else:
        alg = None
    if alg is None:
        raise RswapError(f"signing key type is not one C2PA allows (EC P-256/384/521, RSA, Ed25519): {key}")
    names = leaf.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    subject = str(names[0].value) if names else leaf.subject.rfc4514_string()
    return SigningIdentity(chain, key_pem, alg, subject, local)


def configured_identity(cert: str | None, key: str | None, config: Path | None = None) -> SigningIdentity:
    """The flags' certificate and key, else config.toml's `[credentials] cert/key`, else the local signer."""
    if bool(cert) != bool(key):
        raise RswapError("--sign-cert and --sign-key go together")
    if cert:
        return load_identity(cert, key)
    path = (config or config_dir()) / "config.toml"
    if path.is_file():
        try:
            table = tomllib.loads(path.read_text()).get("credentials", {})
        except ValueError as e:  # both parsers' decode errors (and UnicodeDecodeError) are ValueErrors
            raise RswapError(f"{path} is not valid TOML: {e}") from None
        if table.get("cert") or table.get("key"):
            if not (table.get("cert") and table.get("key")):
                raise RswapError(f"{path}: [credentials] needs both cert and key")
            base = path.parent
            return load_identity(base / os.path.expanduser(table["cert"]), base / os.path.expanduser(table["key"]))
    return local_identity(config)


# ---------------------------------------------------------------- signing


@dataclass
class ContentCredentials:
    """What one output's manifest states, and who signs it."""

    identity: SigningIdentity
    target: Path | None = None  # the file whose faces were swapped (parent ingredient)
    sources: list[Path] = field(default_factory=list)  # source face photos (inputTo, no pixels)

    def manifest(self, title: str) -> dict:
        edited = {"action": "c2pa.edited", "digitalSourceType": DIGITAL_SOURCE_TYPE, "softwareAgent": SOFTWARE,
                  "description": "faces swapped by rswap"}
        actions = []
        if self.target is not None:
            actions.append({"action": "c2pa.opened", "parameters": {"ingredientIds": ["target"]}})
        if self.sources:
            edited["parameters"] = {"ingredientIds": [f"source{i}" for i in range(len(self.sources))]}
        actions.append(edited)
        return {
            "claim_generator_info": [SOFTWARE],
            "title": title,
            "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
        }

    def check(self) -> None:
        """Sign a tiny PNG in memory: a certificate c2pa refuses fails here, before any work."""
        import io

        import cv2
        import numpy as np

        ok, png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
        self._sign_stream("check.png", "image/png", io.BytesIO(png.tobytes()), io.BytesIO(), ingredients=False)

    def sign_in_place(self, tmp: str | os.PathLike, dest: str | os.PathLike) -> None:
        """Embed the signed manifest in the finished temporary file `tmp` bound for `dest`."""
        tmp, dest = Path(tmp), Path(dest)
        mime = MIME_BY_SUFFIX.get(dest.suffix.lower())
        if mime is None:
            raise RswapError(f"Content Credentials cannot be embedded in {dest.suffix} files: {dest}")
        # named like every writer's temporary file, so a run killed while signing leaves
        # nothing that the next run does not clear (rswap.atomic.remove_stale_temps)
        signed = None
        try:
            signed = make_temp_file(dest, suffix=".part.c2pa")
            with open(tmp, "rb") as src, open(signed, "w+b") as out:
                self._sign_stream(dest.name, mime, src, out)
            os.replace(signed, tmp)
        except BaseException:
            if signed is not None:
                with contextlib.suppress(OSError):
                    os.unlink(signed)
            raise

    def _sign_stream(self, title: str, mime: str, src, out, ingredients: bool = True) -> None:
        import c2pa

        manifest = self.manifest(title) if ingredients else _bare_manifest(title)
        parts = self._ingredients() if ingredients else []
        # a format c2pa cannot parse (e.g. a .mkv target) is named in the manifest, not read
        manifest["ingredients"] = [
            {**ing, "format": mimetypes.guess_type(path.name)[0] or "application/octet-stream"}
            for path, ing in parts if path.suffix.lower() not in MIME_BY_SUFFIX
        ]
        try:
            with c2pa.Context(c2pa.Settings.from_dict(SIGN_SETTINGS)) as context:
                with c2pa.Builder(manifest, context) as builder:
                    for path, ing in parts:
                        if path.suffix.lower() in MIME_BY_SUFFIX:
                            # by stream, so c2pa records the format and carries over the
                            # input's own Content Credentials (e.g. from a camera), if any
                            with open(path, "rb") as f:
                                builder.add_ingredient(ing, MIME_BY_SUFFIX[path.suffix.lower()], f)
                    with self.identity.signer() as signer:
                        builder.sign(signer, mime, src, out)
        except c2pa.C2paError as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise RswapError(f"cannot sign Content Credentials with the certificate of {self.identity.subject!r}: {reason}") from e
        except OSError as e:
            raise RswapError(f"cannot read {e.filename} for the Content Credentials: {e.strerror}") from e

    def _ingredients(self) -> list[tuple[Path, dict]]:
        parts = []
        if self.target is not None:
            parts.append((self.target, {"title": self.target.name, "relationship": "parentOf", "label": "target"}))
        for i, source in enumerate(self.sources):
            parts.append((source, {"title": f"source face photo {i + 1}", "relationship": "inputTo", "label": f"source{i}"}))
        return parts


def _bare_manifest(title: str) -> dict:
    return {"claim_generator_info": [SOFTWARE], "title": title,
            "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE, "softwareAgent": SOFTWARE}]}}]}
