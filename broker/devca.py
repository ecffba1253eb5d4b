"""A development certificate authority: CA, broker server certificate, client certificates.

For tests, the demo and a staging broker; production may use the same layout with a
CA kept offline, or a public CA for the server certificate. Keys are ECDSA P-256
(fast on a Pi, accepted by Mosquitto's OpenSSL). Private keys are written 0600.

Files in the directory (existing ones are reused, never overwritten):

    ca.crt  ca.key            the CA; ca.crt is what agents and the ingest trust
    server.crt  server.key    the broker's certificate, SAN = the given hosts
    client-NAME.crt/.key      client certificates (the service listener requires one)

Needs the ``broker`` extra (cryptography); the agent never imports this module.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from broker.acl import validate_account_name
from broker.errors import TlsConfigError

DEFAULT_HOSTS = ("localhost", "127.0.0.1")
CA_DAYS = 3650
LEAF_DAYS = 825
"""Apple's and browsers' ceiling for a leaf certificate; plenty for a dev CA."""

_Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class DevCa:
    """Paths of the files ``ensure_dev_ca`` made or found, and which ones it wrote now."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_certs: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)


def ensure_dev_ca(
    directory: Path, *, hosts: Sequence[str] = DEFAULT_HOSTS, clients: Iterable[str] = ()
) -> DevCa:
    """Create what is missing in ``directory``: CA, server cert for ``hosts``, client certs."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    ca_cert_path, ca_key_path = directory / "ca.crt", directory / "ca.key"
    if ca_cert_path.exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(loaded, _Key):
            raise TlsConfigError(f"{ca_key_path} is not an EC key: not a CA made by dev-ca")
        ca_key = loaded
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _ca_certificate(ca_key)
        written += _write_pair(ca_cert_path, ca_cert, ca_key_path, ca_key)

    server_cert, server_key = directory / "server.crt", directory / "server.key"
    if not (server_cert.exists() and server_key.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _leaf(ca_cert, ca_key, key, hosts[0], server_hosts=hosts)
        written += _write_pair(server_cert, cert, server_key, key)

    client_paths: dict[str, tuple[Path, Path]] = {}
    for name in clients:
        validate_account_name(name)
        crt, key_path = directory / f"client-{name}.crt", directory / f"client-{name}.key"
        if not (crt.exists() and key_path.exists()):
            key = ec.generate_private_key(ec.SECP256R1())
            written += _write_pair(crt, _leaf(ca_cert, ca_key, key, name), key_path, key)
        client_paths[name] = (crt, key_path)
    return DevCa(
        directory, ca_cert_path, ca_key_path, server_cert, server_key, client_paths, written
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "exhibit-fleet development CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(key: _Key) -> x509.Certificate:
    now = datetime.now(UTC)
    # A unique name: OpenSSL looks issuers up by name, and two dev CAs called the same
    # would make its errors about the wrong one.
    name = _name(f"exhibit-fleet dev CA {os.urandom(4).hex()}")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf(
    ca_cert: x509.Certificate,
    ca_key: _Key,
    key: _Key,
    common_name: str,
    *,
    server_hosts: Sequence[str] = (),
) -> x509.Certificate:
    """A server certificate when ``server_hosts`` is given, else a client certificate."""
    now = datetime.now(UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server_hosts else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server_hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_san(host) for host in server_hosts]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write_pair(cert_path: Path, cert: x509.Certificate, key_path: Path, key: _Key) -> list[Path]:
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # A fresh file created 0600: the key is never readable by others, not even briefly
    # (an existing file would keep its old mode through O_CREAT).
    key_path.unlink(missing_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as key_file:
        key_file.write(pem_key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return [cert_path, key_path]
