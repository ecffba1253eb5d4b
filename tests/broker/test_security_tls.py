"""Development CA, TLS settings and broker URLs, without a broker (TLS over a socketpair)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from broker.devca import DevCa, ensure_dev_ca
from broker.endpoint import BrokerEndpoint
from broker.errors import BrokerUrlError, TlsConfigError
from broker.tls import TlsSettings


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DevCa:
    return ensure_dev_ca(tmp_path_factory.mktemp("ca"), clients=["fleet-ingest"])


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_server_certificate_names_loopback_and_localhost(ca: DevCa) -> None:
    cert = _cert(ca.server_cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.issuer == _cert(ca.ca_cert).subject


def test_client_certificate_is_for_client_auth(ca: DevCa) -> None:
    cert_path, _ = ca.client_certs["fleet-ingest"]
    usage = _cert(cert_path).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_private_keys_are_owner_only(ca: DevCa) -> None:
    keys = [ca.ca_key, ca.server_key, *(key for _, key in ca.client_certs.values())]
    assert {key.stat().st_mode & 0o777 for key in keys} == {0o600}


def test_second_run_keeps_files_and_adds_missing_clients(ca: DevCa) -> None:
    before = ca.ca_cert.read_bytes(), ca.server_key.read_bytes()
    again = ensure_dev_ca(ca.directory, clients=["fleet-ingest", "fleet-api"])
    assert (again.ca_cert.read_bytes(), again.server_key.read_bytes()) == before
    assert sorted(p.name for p in again.written) == ["client-fleet-api.crt", "client-fleet-api.key"]
    issuer = _cert(again.client_certs["fleet-api"][0]).issuer
    assert issuer == _cert(ca.ca_cert).subject


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> str | None:
    """TLS over an AF_UNIX socketpair: the client's peer-verification error, or None."""
    left, right = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server.wrap_socket(right, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(left, server_hostname=hostname) as tls:
            tls.sendall(b"x")
        return None
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message)
    finally:
        left.close()
        thread.join(10)
        right.close()


def _server_context(ca: DevCa) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca.server_cert, ca.server_key)
    return context


def _paho_like_client(settings: TlsSettings) -> ssl.SSLContext:
    """What paho's tls_set builds from our kwargs: CERT_REQUIRED, hostname checked."""
    kwargs = settings.tls_set_kwargs()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(kwargs["ca_certs"])
    if kwargs["certfile"]:
        context.load_cert_chain(kwargs["certfile"], kwargs["keyfile"])
    return context


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_agent_settings_verify_the_broker(ca: DevCa, hostname: str) -> None:
    client = _paho_like_client(TlsSettings(ca_file=ca.ca_cert))
    assert _handshake(_server_context(ca), client, hostname) is None


def test_agent_settings_refuse_a_name_not_in_the_certificate(ca: DevCa) -> None:
    client = _paho_like_client(TlsSettings(ca_file=ca.ca_cert))
    assert _handshake(_server_context(ca), client, "broker.example.org") == (
        "Hostname mismatch, certificate is not valid for 'broker.example.org'."
    )


def test_tls_set_kwargs_match_paho_parameter_names(ca: DevCa) -> None:
    cert, key = ca.client_certs["fleet-ingest"]
    settings = TlsSettings(ca_file=ca.ca_cert, cert_file=cert, key_file=key)
    assert settings.tls_set_kwargs() == {
        "ca_certs": str(ca.ca_cert),
        "certfile": str(cert),
        "keyfile": str(key),
    }
    assert TlsSettings().tls_set_kwargs() == {"ca_certs": None, "certfile": None, "keyfile": None}


def test_certificate_without_key_is_refused(ca: DevCa) -> None:
    with pytest.raises(ValueError, match="set both tls_cert_file and tls_key_file"):
        TlsSettings(ca_file=ca.ca_cert, cert_file=ca.server_cert)


def test_check_files_names_the_missing_setting(tmp_path: Path) -> None:
    settings = TlsSettings(ca_file=tmp_path / "missing.crt")
    with pytest.raises(TlsConfigError, match=r"^EXHIBIT_TLS_ca_file = .*missing\.crt does not"):
        settings.check_files(prefix="EXHIBIT_TLS_")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtts://broker.example.org", ("broker.example.org", 8883, True, "tcp")),
        ("mqtts://10.0.0.5:18883", ("10.0.0.5", 18883, True, "tcp")),
        ("wss://broker.example.org", ("broker.example.org", 443, True, "websockets")),
        ("mqtt://127.0.0.1:1883", ("127.0.0.1", 1883, False, "tcp")),
        ("ws://localhost:8080/ws", ("localhost", 8080, False, "websockets")),
    ],
)
def test_broker_urls(url: str, expected: tuple[str, int, bool, str]) -> None:
    endpoint = BrokerEndpoint.parse(url)
    assert (endpoint.host, endpoint.port, endpoint.tls, endpoint.transport) == expected
    assert BrokerEndpoint.parse(endpoint.url) == endpoint


def test_websocket_path_defaults_to_mqtt() -> None:
    assert BrokerEndpoint.parse("wss://b:443").path == "/mqtt"
    assert BrokerEndpoint.parse("wss://b:443").url == "wss://b:443/mqtt"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://b", "must start with"),
        ("mqtts://", "no host"),
        ("mqtts://b:99999", "invalid port"),
        ("mqtts://b/path", "only ws:// and wss://"),
        ("mqtts://b?x=1", "only scheme, host, port and path"),
    ],
)
def test_bad_broker_urls(url: str, message: str) -> None:
    with pytest.raises(BrokerUrlError, match=message):
        BrokerEndpoint.parse(url)


def test_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(BrokerUrlError) as info:
        BrokerEndpoint.parse("mqtts://exhibit-001:hunter2@broker:8883")
    assert "hunter2" not in str(info.value)
