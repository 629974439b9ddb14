/*
 * tlscert: a throw-away certificate authority and a server certificate for
 * 127.0.0.1 and localhost, made at start with OpenSSL's libcrypto, so the
 * sandbox can serve HTTPS the way api.vimeo.com and its upload hosts do and
 * a client can be tested with a CA file it must be told about.
 *
 * The CA certificate is written to DIR/ca.pem (clients verify against it);
 * the server's certificate and key stay in memory, as PEM text for
 * libmicrohttpd. Keys are ECDSA P-256: quick to make and GnuTLS takes them.
 */
#ifndef TLSCERT_H
#define TLSCERT_H

#include <stdbool.h>
#include <stddef.h>

struct tlscert {
    char ca_path[4096];
    char *cert_pem; /* the server's chain: its certificate, then the CA's */
    char *key_pem;
};

/* Make both certificates, valid from an hour ago for 30 days; on failure
 * writes a one-line reason to err and returns false. */
bool tlscert_make(const char *dir, struct tlscert *out, char *err, size_t errlen);
void tlscert_free(struct tlscert *t);

#endif
