#include "tlscert.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

/* Add one extension, written the way openssl.cnf writes it. */
static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    bool ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* A certificate for key, named cn, signed by issuer_key (itself when issuer
 * is NULL: the CA). */
static X509 *new_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *cert = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    bool ok = cert && RAND_bytes(serial, sizeof serial) == 1;
    serial[0] &= 0x7F; /* a positive serial number */
    ok = ok && (bn = BN_bin2bn(serial, sizeof serial, NULL)) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    ok = ok && X509_set_version(cert, X509_VERSION_3) && X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600) && X509_set_pubkey(cert, key);
    X509_NAME *name = cert ? X509_get_subject_name(cert) : NULL;
    ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"vimeo-sandbox", -1, -1, 0) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
         X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509 *signer = issuer ? issuer : cert;
    if (!issuer)
        ok = ok && add_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE") &&
             add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             add_ext(cert, signer, NID_subject_key_identifier, "hash");
    else
        ok = ok && add_ext(cert, signer, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(cert, signer, NID_key_usage, "critical,digitalSignature") &&
             add_ext(cert, signer, NID_ext_key_usage, "serverAuth") &&
             add_ext(cert, signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1") &&
             add_ext(cert, signer, NID_authority_key_identifier, "keyid");
    ok = ok && X509_sign(cert, issuer_key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* The PEM text a BIO collected, as a NUL-terminated heap string. */
static char *bio_text(BIO *bio)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (text) {
        memcpy(text, data, (size_t)len);
        text[len] = '\0';
    }
    return text;
}

bool tlscert_make(const char *dir, struct tlscert *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    EVP_PKEY *ca_key = new_key(), *key = new_key();
    X509 *ca = ca_key ? new_cert(ca_key, "vimeo-sandbox test CA", NULL, ca_key) : NULL;
    X509 *cert = ca && key ? new_cert(key, "localhost", ca, ca_key) : NULL;
    BIO *chain = BIO_new(BIO_s_mem()), *pkey = BIO_new(BIO_s_mem());
    bool ok = cert && chain && pkey && PEM_write_bio_X509(chain, cert) && PEM_write_bio_X509(chain, ca) &&
              PEM_write_bio_PrivateKey(pkey, key, NULL, NULL, 0, NULL, NULL);
    if (ok) {
        out->cert_pem = bio_text(chain);
        out->key_pem = bio_text(pkey);
        ok = out->cert_pem && out->key_pem;
    }
    if (!ok)
        snprintf(err, errlen, "cannot make the TLS certificates");
    if (ok) {
        snprintf(out->ca_path, sizeof out->ca_path, "%s/ca.pem", dir);
        FILE *f = fopen(out->ca_path, "w");
        ok = f && PEM_write_X509(f, ca);
        if (f && fclose(f) != 0)
            ok = false;
        if (!ok)
            snprintf(err, errlen, "cannot write %s", out->ca_path);
    }
    BIO_free(chain);
    BIO_free(pkey);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    if (!ok)
        tlscert_free(out);
    return ok;
}

void tlscert_free(struct tlscert *t)
{
    free(t->cert_pem);
    free(t->key_pem);
    t->cert_pem = t->key_pem = NULL;
}
