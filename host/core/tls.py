"""TLS for a site's broker: a site CA (kept with the site's secrets) and a broker
certificate signed by it for the broker's host name; boards and the host trust only that
CA and check the name."""
import datetime
import ipaddress
import os
from pathlib import Path

from .errors import EdgeError


def _write_private(path, data):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)


def _names(hostname):
    from cryptography import x509
    try:
        return [x509.IPAddress(ipaddress.ip_address(hostname))]
    except ValueError:
        return [x509.DNSName(hostname)]


def make_ca(folder, site):
    """site-ca.pem / site-ca.key in folder (the key 0600); kept if present."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    crt, key = folder / 'site-ca.pem', folder / 'site-ca.key'
    if crt.exists() and key.exists():
        return crt, key
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'edgectl site CA %s' % site)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(k, hashes.SHA256()))
    _write_private(key, k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return crt, key


def make_server(folder, ca_crt, ca_key, hostname, name='broker'):
    """NAME.pem / NAME.key (broker, web) for `hostname` (DNS name or IP), signed by the site CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    folder = Path(folder)
    ca = x509.load_pem_x509_certificate(Path(ca_crt).read_bytes())
    cak = serialization.load_pem_private_key(Path(ca_key).read_bytes(), None)
    k = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
            .issuer_name(ca.subject).public_key(k.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(_names(hostname)), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(cak, hashes.SHA256()))
    crt, key = folder / ('%s.pem' % name), folder / ('%s.key' % name)
    _write_private(key, k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return crt, key


def folder_for(site_path, site_name):
    p = Path(site_path)
    return p.parent / ('%s.tls' % site_name)


def ca_for(site_path, site_name):
    """The site CA certificate (PEM) for host clients, or None when there is none yet."""
    p = folder_for(site_path, site_name) / 'site-ca.pem'
    return p if p.exists() else None


def der(ca_pem):
    """The CA certificate as DER: what MicroPython's ssl loads (ca.der on the board)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    return x509.load_pem_x509_certificate(Path(ca_pem).read_bytes()).public_bytes(serialization.Encoding.DER)


def check_files(ca):
    if not Path(ca).is_file():
        raise EdgeError('no site CA certificate %s: run `edgectl broker --tls` first' % ca, 2)
