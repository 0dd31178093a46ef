#!/usr/bin/python3
"""Check every certificate and CRL in a certmint database with three
independent readers: pyca cryptography (Debian's python3-cryptography:
load, read every extension, verify the signature with the issuing CA's
key), `openssl verify -x509_strict` and GnuTLS `certtool --verify`.

Usage: conformance.py DATABASE CA_CERT_PEM [MAX_CERTTOOL]

cryptography checks every certificate; openssl (one process) a sample of
up to 300 per database and certtool (a process each) MAX_CERTTOOL of
those, spread over every profile: a load test's thousands of certificates
of one profile differ only in their names and keys.

CA_CERT_PEM is the CA that issued them (for a subordinate CA, its own
certificate: it is trusted directly). A renewed CA's certificates are read
from the database (ca_certs): each certificate is checked against the CA
certificate that signed it (certs.ca_idx) and each CRL against its key's
(crls.key_idx). Prints one line per problem and
exits 1 if there is any; 0 with a summary otherwise. Run with Debian's
/usr/bin/python3, never a PyPI cryptography.
"""
import base64
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa


MAX_OPENSSL = 300


def pem(der):
    return ("-----BEGIN CERTIFICATE-----\n"
            + base64.encodebytes(der).decode()
            + "-----END CERTIFICATE-----\n")


def verify_sig(pub, sig, tbs, hash_alg):
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(sig, tbs, ec.ECDSA(hash_alg))
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(sig, tbs, padding.PKCS1v15(), hash_alg)
    elif isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(sig, tbs)
    else:
        raise ValueError("unexpected CA key type")


def main():
    db, ca_path = sys.argv[1], sys.argv[2]
    max_certtool = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    ca_pem = open(ca_path, "rb").read()
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    # The CA certificates by index (a CRL's key_idx is its key's first).
    cas = {0: x509.load_pem_x509_certificate(ca_pem)}
    for idx, raw in conn.execute("SELECT idx, raw FROM ca_certs"):
        cas[idx] = x509.load_der_x509_certificate(raw)
    # Imported certificates were signed elsewhere (request_type 0).
    rows = conn.execute("SELECT c.serial, c.raw, r.profile, c.not_before, "
                        "c.not_after, c.ca_idx FROM certs c "
                        "JOIN requests r ON r.id = c.request_id "
                        "WHERE r.request_type <> 0 ORDER BY r.id").fetchall()
    signer = {serial: ca_idx for serial, _, _, _, _, ca_idx in rows}
    rows = [r[:5] for r in rows]
    certs = [(serial, raw) for serial, raw, _, _, _ in rows]
    # A certificate that has expired (tests make some) is verified at a
    # time within its validity, by openssl only: certtool has no -attime.
    # So is one that expires within the minute: it may have expired by the
    # time openssl looks (renewapi.sh makes one valid for a second).
    now = time.time() + 60
    expired = [(serial, raw, nb) for serial, raw, _, nb, na in rows
               if na < now]
    rows = [(serial, raw, profile) for serial, raw, profile, _, na in rows
            if na >= now]
    crls = conn.execute("SELECT number, raw, key_idx FROM crls").fetchall()
    bad = []
    for serial, raw in certs:
        try:
            c = x509.load_der_x509_certificate(raw)
            for e in c.extensions:   # parses each one strictly
                _ = e.value
            _ = c.subject.rfc4514_string(), c.public_key()
            verify_sig(cas[signer[serial]].public_key(), c.signature,
                       c.tbs_certificate_bytes, c.signature_hash_algorithm)
            if c.not_valid_after < c.not_valid_before:
                raise ValueError("notAfter before notBefore")
        except Exception as ex:   # noqa: BLE001 - any failure is a finding
            bad.append("cryptography: certificate %s: %s" % (serial, ex))
    for number, raw, key in crls:
        try:
            crl = x509.load_der_x509_crl(raw)
            if not crl.is_signature_valid(cas[key].public_key()):
                raise ValueError("signature does not verify")
            for e in crl.extensions:
                _ = e.value
        except Exception as ex:   # noqa: BLE001
            bad.append("cryptography: CRL %s: %s" % (number, ex))

    # openssl and certtool (a process per certificate) see a sample of a
    # big database: every profile, its first, last and evenly spaced ones.
    by_profile = {}
    for serial, raw, profile in rows:
        by_profile.setdefault(profile, []).append((serial, raw))
    sample = []
    for group in by_profile.values():
        k = max(1, MAX_OPENSSL // len(by_profile))
        step = max(1, len(group) // k)
        sample += group[::step][:k] + ([group[-1]] if len(group) > k else [])
    with tempfile.TemporaryDirectory() as d:
        # Every CA certificate, for openssl; the signer's, for certtool.
        ca_path = os.path.join(d, "cas.pem")
        with open(ca_path, "w") as f:
            for idx in sorted(cas):
                f.write(pem(cas[idx].public_bytes(
                    serialization.Encoding.DER)))
        ca_file = {}
        for idx in cas:
            ca_file[idx] = os.path.join(d, "ca%d.pem" % idx)
            with open(ca_file[idx], "w") as f:
                f.write(pem(cas[idx].public_bytes(
                    serialization.Encoding.DER)))
        files = []
        for serial, raw in sample:
            p = os.path.join(d, serial + ".pem")
            b64 = base64.encodebytes(raw).decode()
            with open(p, "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\n" + b64
                        + "-----END CERTIFICATE-----\n")
            files.append((serial, p))
        # One openssl process checks them all; -partial_chain: the CA
        # given is trusted even when it is a subordinate.
        if files:
            r = subprocess.run(["openssl", "verify", "-x509_strict",
                                "-partial_chain", "-CAfile", ca_path]
                               + [f for _, f in files],
                               capture_output=True, text=True)
            if r.returncode != 0:
                for line in (r.stdout + r.stderr).splitlines():
                    if not line.endswith(": OK"):
                        bad.append("openssl verify -x509_strict: " + line)
        for serial, raw, nb in expired[:MAX_OPENSSL]:
            p = os.path.join(d, serial + ".pem")
            b64 = base64.encodebytes(raw).decode()
            with open(p, "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\n" + b64
                        + "-----END CERTIFICATE-----\n")
            r = subprocess.run(["openssl", "verify", "-x509_strict",
                                "-partial_chain", "-attime", str(nb + 1),
                                "-CAfile", ca_path, p],
                               capture_output=True, text=True)
            if r.returncode != 0:
                bad.append("openssl verify -x509_strict (expired, at its "
                           "notBefore): " + (r.stdout + r.stderr).strip())
        spread = files[::max(1, len(files) // max(1, max_certtool))]
        for serial, f in spread[:max_certtool]:
            r = subprocess.run(["certtool", "--verify",
                                "--load-ca-certificate",
                                ca_file[signer[serial]],
                                "--infile", f],
                               capture_output=True, text=True)
            if r.returncode != 0 or "Chain verification output: Verified" \
                    not in r.stdout:
                out = [ln for ln in r.stdout.splitlines()
                       if "Verified" in ln or "Not verified" in ln
                       or "error" in ln.lower()]
                bad.append("certtool --verify: certificate %s: %s"
                           % (serial, "; ".join(out[-3:]) or r.stderr.strip()))
    for b in bad[:40]:
        print(b)
    if bad:
        print("%d problems in %d certificates and %d CRLs"
              % (len(bad), len(certs), len(crls)))
        return 1
    print("%d certificates and %d CRLs pass cryptography; %d of them "
          "openssl verify -x509_strict, %d certtool"
          % (len(certs), len(crls), len(files), min(len(files), max_certtool)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
