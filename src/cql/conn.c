/*
 * conn.c - one non-blocking connection to a Cassandra node.
 *
 * States: CONNECTING (non-blocking connect) -> TLS (handshake, when enabled) ->
 * OPTIONS (only to learn whether lz4 is supported, when compression is asked) ->
 * STARTUP -> AUTH (PasswordAuthenticator, SASL PLAIN) -> USE (when a keyspace is
 * set) -> READY; any failure -> CLOSED. Every state change is logged at debug level.
 *
 * Requests are encoded straight into the connection's output buffer; nothing is
 * written until cql_conn_flush, which the session calls once per loop turn, so many
 * requests leave in one send(). Responses are decoded from the input buffer
 * (cql_decoder) and matched to requests by stream id (up to 32767 in flight).
 * A request that timed out keeps its stream id reserved ("orphan") until its late
 * response arrives, so a stream is never reused while the server may still answer it.
 *
 * The connection knows its owner only through the cql_conn_config it was opened with
 * (session_int.h): it calls back when ready, lost, answered or told an event.
 */
#include "cql/session_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>

#include "util/clock.h"
#include "util/log.h"

static const char *state_name(conn_state st)
{
    static const char *names[] = {"connecting", "tls", "options", "startup", "auth", "use", "ready", "closed"};
    return names[st];
}

static void set_state(cql_conn *c, conn_state st)
{
    ce_debug("msg=\"cql connection state\" host=%s from=%s to=%s", c->addr,
             state_name(c->state), state_name(st));
    c->state = st;
}

void cql_conn_fail(cql_conn *c, ce_err e, const char *fmt, ...)
{
    if (c->state == CS_CLOSED)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    ce_info("msg=\"cql connection closed\" host=%s err=%s reason=\"%s\"", c->addr,
            ce_errname(e), c->errmsg);
    set_state(c, CS_CLOSED);
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->cb.on_lost(c->cb.owner, c, e);
}

/* Overwrite the encoder's buffers, where the SASL PLAIN response (user and password in
 * clear) was built and sent from; the bytes are gone once the server answered it. */
static void wipe_auth(cql_conn *c)
{
    if (!c->auth_unwiped)
        return;
    if (c->enc.out.data)
        explicit_bzero(c->enc.out.data, c->enc.out.cap);
    if (c->enc.env.data)
        explicit_bzero(c->enc.env.data, c->enc.env.cap);
    c->auth_unwiped = false;
}

void cql_conn_free(cql_conn *c)
{
    if (!c)
        return;
    wipe_auth(c);
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    cql_decoder_free(&c->dec);
    cql_encoder_free(&c->enc);
    free(c->streams);
    free(c->free_ids);
    free(c);
}

void cql_conn_release_stream(cql_conn *c, int stream)
{
    if (stream <= 0 || stream >= CQL_MAX_STREAMS || !c->streams[stream])
        return;
    c->streams[stream] = NULL;
    c->free_ids[c->nfree++] = (int16_t)stream;
}

static int take_stream(cql_conn *c, cql_future *owner)
{
    if (c->nfree == 0)
        return -1;
    int id = c->free_ids[--c->nfree];
    c->streams[id] = owner;
    return id;
}

/* ---------------------------------------------------------------- handshake messages */

static ce_err send_simple(cql_conn *c, uint8_t opcode, int stream, ce_err (*body)(ce_buf *, cql_conn *))
{
    size_t mark;
    ce_buf *b = cql_encoder_begin(&c->enc, (int16_t)stream, opcode, &mark);
    if (!b)
        return CE_ENOMEM;
    ce_err e = body ? body(b, c) : CE_OK;
    if (e) {
        cql_encoder_abort(&c->enc, mark);
        return e;
    }
    return cql_encoder_end(&c->enc, mark);
}

static ce_err body_startup(ce_buf *b, cql_conn *c) { return cql_msg_startup(b, c->lz4); }

static ce_err body_auth(ce_buf *b, cql_conn *c)
{
    return cql_msg_auth_plain(b, c->o->username, c->o->password ? c->o->password : "");
}

static ce_err body_use(ce_buf *b, cql_conn *c)
{
    ce_buf q = CE_BUF_INIT;
    ce_err e = ce_buf_append_str(&q, "USE ");
    if (!e)
        e = cql_quote_ident(&q, c->o->keyspace);
    cql_params p = {0};
    if (!e)
        e = cql_msg_query(b, c->version, q.data, q.len, &p);
    ce_buf_free(&q);
    return e;
}

static ce_err body_register(ce_buf *b, cql_conn *c)
{
    (void)c;
    static const char *const ev[] = {"TOPOLOGY_CHANGE", "STATUS_CHANGE"};
    return cql_msg_register(b, ev, 2);
}

static void start_protocol(cql_conn *c)
{
    ce_err e;
    if (c->o->compression) {
        e = send_simple(c, CQL_OP_OPTIONS, 0, NULL);
        set_state(c, CS_OPTIONS);
    } else {
        e = send_simple(c, CQL_OP_STARTUP, 0, body_startup);
        set_state(c, CS_STARTUP);
    }
    if (e)
        cql_conn_fail(c, e, "cannot encode startup");
}

static void become_ready(cql_conn *c)
{
    set_state(c, CS_READY);
    for (int id = CQL_MAX_STREAMS - 1; id >= 1; id--)
        c->free_ids[c->nfree++] = (int16_t)id;
    c->cb.on_ready(c->cb.owner, c);
}

static void after_auth(cql_conn *c)
{
    if (c->o->keyspace && *c->o->keyspace) {
        ce_err e = send_simple(c, CQL_OP_QUERY, 0, body_use);
        if (e) {
            cql_conn_fail(c, e, "cannot encode USE");
            return;
        }
        set_state(c, CS_USE);
    } else {
        become_ready(c);
    }
}

static void switch_framing(cql_conn *c)
{
    if (c->version >= 5) {
        cql_encoder_set_mode(&c->enc, CQL_WIRE_V5_FRAMES, c->lz4);
        cql_decoder_set_mode(&c->dec, CQL_WIRE_V5_FRAMES, c->lz4);
    } else {
        cql_encoder_set_mode(&c->enc, CQL_WIRE_ENVELOPES, c->lz4);
    }
}

static void handshake_error(cql_conn *c, cql_msg *m, ce_err kind)
{
    cql_error_info info;
    if (cql_error_parse(m, c->version, &info, NULL)) {
        cql_conn_fail(c, CE_EPROTO, "malformed ERROR during %s", state_name(c->state));
        return;
    }
    if (info.code == 0x000A && c->state <= CS_STARTUP && c->version >= 5) {
        c->version_rejected = true;
        cql_conn_fail(c, CE_EUNSUPPORTED, "protocol v%d refused: %s", c->version, info.message);
        return;
    }
    if (info.code == 0x0100)
        kind = CE_EAUTH;
    cql_conn_fail(c, kind, "%s failed: server error 0x%04x: %s", state_name(c->state), (unsigned)info.code,
                  info.message);
}

static void on_handshake_msg(cql_conn *c, cql_msg *m)
{
    if (m->stream != 0) {
        cql_conn_fail(c, CE_EPROTO, "unexpected stream %d during %s", m->stream, state_name(c->state));
        return;
    }
    if (m->opcode == CQL_OP_ERROR) {
        handshake_error(c, m, c->state == CS_AUTH ? CE_EAUTH : CE_EPROTO);
        return;
    }
    if (m->version != c->version) {
        cql_conn_fail(c, CE_EPROTO, "server answered with protocol v%d to v%d", m->version, c->version);
        return;
    }
    ce_err e = CE_OK;
    switch (c->state) {
    case CS_OPTIONS:
        if (m->opcode != CQL_OP_SUPPORTED)
            break;
        c->lz4 = cql_supported_has(m, "COMPRESSION", "lz4");
        if (!c->lz4)
            ce_warn("msg=\"server does not offer lz4; compression off\" host=%s", c->addr);
        e = send_simple(c, CQL_OP_STARTUP, 0, body_startup);
        if (e)
            cql_conn_fail(c, e, "cannot encode STARTUP");
        else
            set_state(c, CS_STARTUP);
        return;
    case CS_STARTUP:
        if (m->opcode == CQL_OP_READY) {
            switch_framing(c);
            after_auth(c);
            return;
        }
        if (m->opcode == CQL_OP_AUTHENTICATE) {
            switch_framing(c);
            if (!c->o->username) {
                char cls[128] = "";
                cql_authenticate_parse(m, cls, sizeof cls);
                cql_conn_fail(c, CE_EAUTH, "server requires authentication (%s) and no username is set", cls);
                return;
            }
            e = send_simple(c, CQL_OP_AUTH_RESPONSE, 0, body_auth);
            c->auth_unwiped = true;
            if (e)
                cql_conn_fail(c, e, "cannot encode AUTH_RESPONSE");
            else
                set_state(c, CS_AUTH);
            return;
        }
        break;
    case CS_AUTH:
        wipe_auth(c); /* answered: the response was sent whole and nothing else is queued */
        if (m->opcode == CQL_OP_AUTH_SUCCESS) {
            after_auth(c);
            return;
        }
        if (m->opcode == CQL_OP_AUTH_CHALLENGE) {
            cql_conn_fail(c, CE_EAUTH, "unsupported SASL challenge (only PLAIN is implemented)");
            return;
        }
        break;
    case CS_USE:
        if (m->opcode == CQL_OP_RESULT) {
            become_ready(c);
            return;
        }
        break;
    default:
        break;
    }
    cql_conn_fail(c, CE_EPROTO, "unexpected opcode 0x%02x during %s", m->opcode, state_name(c->state));
}

/* ---------------------------------------------------------------- open */

static void after_connect(cql_conn *c)
{
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->last_io = ce_mono_ms();
    if (c->ssl_ctx) {
        char err[200];
        const char *check = c->name[0] ? c->name : c->addr;
        if (cql_tls_attach(c->ssl_ctx, c->fd, check, !c->o->tls_no_verify, &c->ssl, err, sizeof err)) {
            cql_conn_fail(c, CE_ETLS, "%s", err);
            return;
        }
        set_state(c, CS_TLS);
        c->tls_want_write = true;
        return;
    }
    start_protocol(c);
}

ce_err cql_conn_open(const cql_conn_config *cfg, int host, int version, cql_conn **out)
{
    *out = NULL;
    cql_conn *c = calloc(1, sizeof *c);
    if (!c)
        return CE_ENOMEM;
    c->cb = cfg->cb;
    c->o = cfg->o;
    c->ssl_ctx = cfg->ssl_ctx;
    snprintf(c->addr, sizeof c->addr, "%s", cfg->addr);
    snprintf(c->name, sizeof c->name, "%s", cfg->name ? cfg->name : "");
    c->port = cfg->port;
    c->host = host;
    c->fd = -1;
    c->version = version;
    c->state = CS_CONNECTING;
    cql_decoder_init(&c->dec, c->o->max_message_bytes);
    cql_encoder_init(&c->enc, version);
    c->streams = calloc(CQL_MAX_STREAMS, sizeof *c->streams);
    c->free_ids = malloc(CQL_MAX_STREAMS * sizeof *c->free_ids);
    if (!c->streams || !c->free_ids) {
        cql_conn_free(c);
        return CE_ENOMEM;
    }
    c->deadline = ce_mono_ms() + c->o->connect_timeout_ms;

    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)c->port);
    int rc = getaddrinfo(c->addr, port, &hints, &ai);
    if (rc || !ai) {
        snprintf(c->errmsg, sizeof c->errmsg, "bad address %s: %s", c->addr, gai_strerror(rc));
        c->state = CS_CLOSED;
        *out = c;
        return CE_EINVAL;
    }
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        freeaddrinfo(ai);
        snprintf(c->errmsg, sizeof c->errmsg, "socket: %s", strerror(errno));
        c->state = CS_CLOSED;
        *out = c;
        return CE_EIO;
    }
    rc = connect(c->fd, ai->ai_addr, ai->ai_addrlen);
    int err = errno;
    freeaddrinfo(ai);
    *out = c;
    ce_debug("msg=\"cql connecting\" host=%s port=%u proto=%d", c->addr, (unsigned)c->port, version);
    if (rc == 0) {
        after_connect(c);
    } else if (err != EINPROGRESS) {
        snprintf(c->errmsg, sizeof c->errmsg, "connect %s:%u: %s", c->addr, (unsigned)c->port, strerror(err));
        close(c->fd);
        c->fd = -1;
        c->state = CS_CLOSED;
        return CE_EIO;
    }
    return CE_OK;
}

/* ---------------------------------------------------------------- I/O */

short cql_conn_events(const cql_conn *c)
{
    if (c->state == CS_CLOSED || c->fd < 0)
        return 0;
    if (c->state == CS_CONNECTING)
        return POLLOUT;
    short ev = POLLIN;
    if (c->ssl) {
        if (c->tls_want_write || (c->state != CS_TLS && cql_encoder_pending(&c->enc)))
            ev |= POLLOUT;
    } else if (cql_encoder_pending(&c->enc)) {
        ev |= POLLOUT;
    }
    return ev;
}

/* >0 bytes, 0 would block, -1 closed/error (conn failed). */
static ssize_t conn_write(cql_conn *c, const void *p, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_write(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
        if (r > 0) {
            c->tls_want_write = false;
            return r;
        }
        int se = SSL_get_error(c->ssl, r);
        if (se == SSL_ERROR_WANT_WRITE || se == SSL_ERROR_WANT_READ) {
            c->tls_want_write = se == SSL_ERROR_WANT_WRITE;
            return 0;
        }
        char err[200];
        cql_tls_describe_error(err, sizeof err, "TLS write");
        cql_conn_fail(c, CE_ETLS, "%s", err);
        return -1;
    }
    ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    cql_conn_fail(c, CE_EIO, "send: %s", strerror(errno));
    return -1;
}

/* >0 bytes, 0 would block, -1 closed/error (conn failed). */
static ssize_t conn_read(cql_conn *c, void *p, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
        if (r > 0)
            return r;
        int se = SSL_get_error(c->ssl, r);
        if (se == SSL_ERROR_WANT_READ)
            return 0;
        if (se == SSL_ERROR_WANT_WRITE) {
            c->tls_want_write = true;
            return 0;
        }
        if (se == SSL_ERROR_ZERO_RETURN) {
            cql_conn_fail(c, CE_ECLOSED, "server closed the TLS connection");
            return -1;
        }
        char err[200];
        cql_tls_describe_error(err, sizeof err, "TLS read");
        cql_conn_fail(c, CE_ETLS, "%s", err);
        return -1;
    }
    ssize_t r = recv(c->fd, p, n, 0);
    if (r > 0)
        return r;
    if (r == 0) {
        cql_conn_fail(c, CE_ECLOSED, "server closed the connection");
        return -1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    cql_conn_fail(c, CE_EIO, "recv: %s", strerror(errno));
    return -1;
}

ce_err cql_conn_flush(cql_conn *c)
{
    if (c->state == CS_CLOSED || c->state == CS_CONNECTING || c->state == CS_TLS)
        return CE_OK;
    ce_err e = cql_encoder_flush(&c->enc);
    if (e) {
        cql_conn_fail(c, e, "cannot frame requests");
        return e;
    }
    while (cql_encoder_pending(&c->enc)) {
        ssize_t n = conn_write(c, c->enc.out.data + c->enc.out.off, cql_encoder_pending(&c->enc));
        if (n < 0)
            return CE_ECLOSED;
        if (n == 0)
            break;
        c->enc.out.off += (size_t)n;
        c->last_io = ce_mono_ms();
    }
    if (c->enc.out.off == c->enc.out.len) {
        c->enc.out.off = c->enc.out.len = 0;
        if (c->enc.out.cap > (8u << 20))
            ce_buf_free(&c->enc.out);
    }
    return CE_OK;
}

static void dispatch(cql_conn *c, cql_msg *m)
{
    if (m->dropped && (c->state != CS_READY || m->opcode == CQL_OP_EVENT || m->stream < 0)) {
        if (c->state != CS_READY)
            cql_conn_fail(c, CE_ELIMIT, "answer of %zu bytes over the message limit during %s", m->dropped,
                          state_name(c->state));
        else
            ce_warn("msg=\"cql event over the message limit dropped\" host=%s bytes=%zu", c->addr, m->dropped);
        return;
    }
    if (m->opcode == CQL_OP_EVENT || m->stream < 0) {
        if (m->opcode == CQL_OP_EVENT)
            c->cb.on_event(c->cb.owner, c, m);
        return;
    }
    if (c->state != CS_READY) {
        on_handshake_msg(c, m);
        return;
    }
    int id = m->stream;
    cql_future *f = id > 0 && id < CQL_MAX_STREAMS ? c->streams[id] : NULL;
    if (!f) {
        ce_warn("msg=\"cql response for unknown stream\" host=%s stream=%d", c->addr, id);
        return;
    }
    cql_conn_release_stream(c, id);
    if (f == CQL_STREAM_HEARTBEAT) {
        c->heartbeat_sent = 0;
        return;
    }
    if (f == CQL_STREAM_ORPHAN) {
        c->orphans--;
        return;
    }
    if (f == CQL_STREAM_REGISTER) {
        if (m->opcode != CQL_OP_READY)
            ce_warn("msg=\"cql REGISTER refused\" host=%s", c->addr);
        return;
    }
    c->inflight--;
    c->cb.on_response(c->cb.owner, c, f, m);
}

static void read_input(cql_conn *c)
{
    size_t total = 0;
    while (c->state != CS_CLOSED && total < (4u << 20)) {
        uint8_t *p = cql_decoder_space(&c->dec, 256 * 1024);
        if (!p) {
            if (c->dec.failed)
                cql_conn_fail(c, c->dec.failed, "bad response stream: %s", c->dec.errmsg);
            else
                cql_conn_fail(c, CE_ENOMEM, "out of memory");
            return;
        }
        size_t room = c->dec.in.cap - c->dec.in.len - 1;
        ssize_t n = conn_read(c, p, room);
        if (n <= 0)
            break;
        (void)cql_decoder_commit(&c->dec, (size_t)n); /* the space was given: not failed */
        total += (size_t)n;
        c->last_io = ce_mono_ms();
        for (;;) {
            cql_msg m;
            ce_err e = cql_decoder_next(&c->dec, &m);
            if (e == CE_EAGAIN)
                break;
            if (e) {
                cql_conn_fail(c, e, "bad response stream: %s", c->dec.errmsg);
                return;
            }
            dispatch(c, &m);
            cql_msg_clear(&m);
            if (c->state == CS_CLOSED)
                return;
        }
        if ((size_t)n < room && !c->ssl)
            break; /* drained the socket */
    }
}

ce_err cql_conn_io(cql_conn *c, short revents)
{
    if (c->state == CS_CLOSED)
        return CE_ECLOSED;
    if (c->state == CS_CONNECTING) {
        if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
            return CE_OK;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
            cql_conn_fail(c, CE_EIO, "connect %s:%u: %s", c->addr,
                          (unsigned)c->port, strerror(soerr));
            return CE_EIO;
        }
        after_connect(c);
        if (c->state != CS_TLS)
            return cql_conn_flush(c);
    }
    if (c->state == CS_TLS) {
        char err[256];
        int r = cql_tls_handshake(c->ssl, err, sizeof err);
        if (r < 0) {
            cql_conn_fail(c, CE_ETLS, "%s", err);
            return CE_ETLS;
        }
        c->tls_want_write = r == 2;
        if (r != 0)
            return CE_OK;
        c->tls_want_write = false;
        start_protocol(c);
        return cql_conn_flush(c);
    }
    if (revents & (POLLIN | POLLHUP | POLLERR))
        read_input(c);
    if (c->state != CS_CLOSED && (revents & POLLOUT))
        cql_conn_flush(c);
    return c->state == CS_CLOSED ? CE_ECLOSED : CE_OK;
}

ce_err cql_conn_send(cql_conn *c, cql_future *f)
{
    if (c->state != CS_READY)
        return CE_EAGAIN;
    int id = take_stream(c, f);
    if (id < 0)
        return CE_EAGAIN;
    ce_err e = cql_future_encode(f, c, id);
    if (e) {
        cql_conn_release_stream(c, id);
        return e;
    }
    c->inflight++;
    f->conn = c;
    f->stream = id;
    return CE_OK;
}

ce_err cql_conn_heartbeat(cql_conn *c)
{
    int id = take_stream(c, CQL_STREAM_HEARTBEAT);
    if (id < 0)
        return CE_EAGAIN;
    ce_err e = send_simple(c, CQL_OP_OPTIONS, id, NULL);
    if (e) {
        cql_conn_release_stream(c, id);
        return e;
    }
    c->heartbeat_sent = ce_mono_ms();
    return CE_OK;
}

ce_err cql_conn_register(cql_conn *c)
{
    int id = take_stream(c, CQL_STREAM_REGISTER);
    if (id < 0)
        return CE_EAGAIN;
    ce_err e = send_simple(c, CQL_OP_REGISTER, id, body_register);
    if (e) {
        cql_conn_release_stream(c, id);
        return e;
    }
    c->registered = true;
    return CE_OK;
}
