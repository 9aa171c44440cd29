"""HTTPS receivers: the sender connects to the address it checked, yet verifies the certificate
against the URL's name (TLS SNI), with the CA of WEBHOOK_CA_FILE."""

from __future__ import annotations

import datetime
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from launchsequence.app import create_app
from launchsequence.config import Settings
from tests.support.api import signup
from tests.support.live import LiveServer
from tests.support.receiver import Receiver


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca_and_certificate(where: Path, dns_name: str) -> tuple[Path, ssl.SSLContext]:
    """A CA (its PEM file) and a server context with a certificate for `dns_name` it signed."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test CA"))
        .issuer_name(_name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = where / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = where / f"{dns_name}.pem"
    chain.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return ca_file, context


def test_https_receivers_are_verified_by_name(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    ca_file, good_tls = make_ca_and_certificate(tmp_path / "good", "localhost")
    _, other_ca_tls = make_ca_and_certificate(tmp_path / "bad", "localhost")
    good, untrusted = Receiver(good_tls).start(), Receiver(other_ca_tls).start()
    settings = make_settings(webhook_allow_private_addresses="true", webhook_ca_file=str(ca_file))
    server = LiveServer(create_app(settings)).start()
    try:
        alice = signup(server.url, "alice@example.com")
        org = f"/api/v1/orgs/{alice.org}"
        for url in (good.url + "/tls", untrusted.url + "/tls"):
            made = alice.post(f"{org}/webhooks", json={"url": url, "events": ["flag.created"]})
            assert made.status_code == 201, made.text
        assert alice.post(f"{org}/projects/default/flags", json={"key": "tls"}).status_code == 201
        [got] = good.wait_for(lambda r: len(r) == 1, "/tls")
        assert got.json["flag"] == "tls"
        assert got.headers["host"] == good.url.removeprefix("https://")

        # The receiver whose certificate another CA signed gets nothing; the delivery says why.
        deliveries = f"{org}/webhooks/2/deliveries"
        for _ in range(200):
            [delivery] = alice.get(deliveries).json()["deliveries"]
            if delivery["attempts"]:
                break
            time.sleep(0.05)
        assert delivery["status"] == "pending"
        assert "CERTIFICATE_VERIFY_FAILED" in delivery["error"], delivery
        assert untrusted.received() == []
    finally:
        server.stop()
        good.stop()
        untrusted.stop()
