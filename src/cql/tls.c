/*
 * tls.c - OpenSSL glue for CQL connections: context from the session options
 * (CA file or system store, optional client certificate), per-connection SSL with
 * SNI and host-name / IP verification (on unless tls_no_verify), non-blocking
 * handshake steps. Reading and writing stay in conn.c.
 */
#include "cql/session_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

void cql_tls_describe_error(char *err, size_t cap, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[160] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, cap, "%s: %s", what, e ? buf : "unknown TLS error");
    ERR_clear_error();
}

ce_err cql_tls_ctx_new(const cql_session_opts *o, SSL_CTX **out, char *err, size_t cap)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        cql_tls_describe_error(err, cap, "SSL_CTX_new");
        return CE_ETLS;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (o->tls_ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, o->tls_ca_file, NULL) != 1) {
            cql_tls_describe_error(err, cap, "cannot load CA file");
            SSL_CTX_free(ctx);
            return CE_ETLS;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        cql_tls_describe_error(err, cap, "cannot load the system CA store");
        SSL_CTX_free(ctx);
        return CE_ETLS;
    }
    if (o->tls_cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert_file) != 1) {
            cql_tls_describe_error(err, cap, "cannot load client certificate");
            SSL_CTX_free(ctx);
            return CE_ETLS;
        }
        const char *key = o->tls_key_file ? o->tls_key_file : o->tls_cert_file;
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
            cql_tls_describe_error(err, cap, "cannot load client key");
            SSL_CTX_free(ctx);
            return CE_ETLS;
        }
    }
    SSL_CTX_set_verify(ctx, o->tls_no_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    *out = ctx;
    return CE_OK;
}

ce_err cql_tls_attach(SSL_CTX *ctx, int fd, const char *host, bool verify, SSL **out, char *err, size_t cap)
{
    *out = NULL;
    SSL *ssl = SSL_new(ctx);
    if (!ssl) {
        cql_tls_describe_error(err, cap, "SSL_new");
        return CE_ETLS;
    }
    SSL_set_fd(ssl, fd);
    SSL_set_connect_state(ssl);
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (!is_ip)
        SSL_set_tlsext_host_name(ssl, host);
    if (verify) {
        int ok;
        if (is_ip) {
            X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
            ok = X509_VERIFY_PARAM_set1_ip_asc(param, host);
        } else {
            ok = SSL_set1_host(ssl, host);
        }
        if (ok != 1) {
            cql_tls_describe_error(err, cap, "cannot set the host name to verify");
            SSL_free(ssl);
            return CE_ETLS;
        }
    }
    *out = ssl;
    return CE_OK;
}

int cql_tls_handshake(SSL *ssl, char *err, size_t cap)
{
    ERR_clear_error();
    int r = SSL_do_handshake(ssl);
    if (r == 1)
        return 0;
    int se = SSL_get_error(ssl, r);
    if (se == SSL_ERROR_WANT_READ)
        return 1;
    if (se == SSL_ERROR_WANT_WRITE)
        return 2;
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        snprintf(err, cap, "TLS handshake: certificate verification failed: %s",
                 X509_verify_cert_error_string(vr));
        ERR_clear_error();
    } else {
        cql_tls_describe_error(err, cap, "TLS handshake");
    }
    return -1;
}
