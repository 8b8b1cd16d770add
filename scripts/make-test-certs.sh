#!/usr/bin/env bash
# Makes a throwaway CA and server certificates for tests and the demo, in directory $1:
#   ca.pem / ca.key            the test CA (what --ca-file trusts)
#   server.pem / server.key    localhost + 127.0.0.1, signed by the CA
#   other-host.pem / .key      signed by the CA, but for another host name
#   expired.pem / .key         localhost, signed by the CA, expired
#   untrusted.pem / .key       localhost, signed by a second CA that nobody trusts
# Nothing here is a secret worth keeping: the keys are made fresh and never committed.
set -euo pipefail
dir=${1:?usage: make-test-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

quiet() { "$@" >/dev/null 2>&1 || { echo "make-test-certs: failed: $*" >&2; "$@"; exit 1; }; }

make_ca() { # name subject
    quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

make_leaf() { # name ca san [extra x509 options...]
    local name=$1 ca=$2 san=$3
    shift 3
    quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$name.key" -out "$name.csr" -subj "/CN=dirsyncd test server"
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" \
        >"$name.ext"
    quiet openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
        -out "$name.pem" -extfile "$name.ext" "$@"
    rm -f "$name.csr" "$name.ext"
}

make_ca ca "dirsyncd test CA"
make_ca rogue-ca "untrusted test CA"
make_leaf server ca "DNS:localhost,IP:127.0.0.1" -days 2
make_leaf other-host ca "DNS:api.example.invalid" -days 2
make_leaf untrusted rogue-ca "DNS:localhost,IP:127.0.0.1" -days 2
# Expired: notAfter a day before notBefore (OpenSSL 3.0 accepts a negative -days).
make_leaf expired ca "DNS:localhost,IP:127.0.0.1" -days -1
rm -f ./*.srl
chmod 600 ./*.key
