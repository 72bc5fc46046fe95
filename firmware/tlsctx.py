# The TLS context of a board whose broker uses TLS: loaded only by such a board (link._tls),
# so a plain-MQTT board keeps neither its code nor its names in the heap.
import ssl

CA_FILE = 'ca.der'      # the site CA (DER), written over serial with the secrets


def make():
    """TLS that trusts only the site CA and checks the broker's name. Without the CA file
    the board does not connect at all (it never falls back to plain MQTT): OSError."""
    try:
        with open(CA_FILE, 'rb') as f:
            ca = f.read()
    except OSError:
        raise OSError('the config asks for TLS but the board has no %s: push it over serial' % CA_FILE)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=ca)
    return ctx
