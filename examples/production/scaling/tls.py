"""A private certificate authority and a server certificate, made on the spot with trustme, for
nginx's TLS in chapter 23 and its tests. Nothing here is fit to protect real traffic: the CA's
key lives in a temporary folder and every certificate is for localhost only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Certificates:
    ca_bundle: Path  # the CA's own certificate: what a client trusts (`requests` verify=)
    chain: Path  # the server's certificate, then the CA's: what nginx presents
    key: Path  # the server's private key: what nginx keeps and nobody else sees


def make_certificates(directory: Path, names: tuple[str, ...] = ("localhost", "127.0.0.1")):
    """A new CA and a certificate it signed for `names`, written as PEM files in `directory`."""
    authority = trustme.CA(organization_name="Serving ML book, private test CA")
    server = authority.issue_cert(*names)
    files = Certificates(
        directory / "ca.pem", directory / "server-chain.pem", directory / "server-key.pem"
    )
    authority.cert_pem.write_to_path(str(files.ca_bundle))
    server.private_key_and_cert_chain_pem.write_to_path(str(files.chain))
    server.private_key_pem.write_to_path(str(files.key))
    files.key.chmod(0o600)
    return files
