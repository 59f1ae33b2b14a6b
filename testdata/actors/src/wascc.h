/* wascc.h: the wascc-codec 0.6 messages the test actors speak (MessagePack struct maps).
 *
 * HTTP: Request{method,path,queryString,header,body} in, Response{statusCode,status,
 * header,body} out.  Logging: WriteLog{level,body}.  Only the fields the actors use
 * are decoded; everything else is skipped.
 */
#ifndef WASCC_H
#define WASCC_H

#include "msgpack.h"

typedef struct {
    const u8 *method, *path, *query, *body;
    u32 method_len, path_len, query_len, body_len;
} http_request;

static int decode_request(const u8 *msg, u32 len, http_request *req) {
    mp_reader r = {msg, len, 0, 0};
    memset(req, 0, sizeof *req);
    u32 n = mp_read_map(&r);
    while (n-- && !r.err) {
        const u8 *key;
        u32 key_len;
        if (!mp_read_bytes(&r, &key, &key_len)) break;
        if (bytes_eq(key, key_len, "method"))
            mp_read_bytes(&r, &req->method, &req->method_len);
        else if (bytes_eq(key, key_len, "path"))
            mp_read_bytes(&r, &req->path, &req->path_len);
        else if (bytes_eq(key, key_len, "queryString"))
            mp_read_bytes(&r, &req->query, &req->query_len);
        else if (bytes_eq(key, key_len, "body"))
            mp_read_bytes(&r, &req->body, &req->body_len);
        else
            mp_skip(&r);
    }
    return !r.err;
}

static int send_response(u32 code, const char *status, const char *content_type, const u8 *body,
                         u32 body_len) {
    mp_writer w;
    mp_init(&w, 96 + body_len);
    mp_map(&w, 4);
    mp_cstr(&w, "statusCode");
    mp_uint(&w, code);
    mp_cstr(&w, "status");
    mp_cstr(&w, status);
    mp_cstr(&w, "header");
    mp_map(&w, 1);
    mp_cstr(&w, "content-type");
    mp_cstr(&w, content_type);
    mp_cstr(&w, "body");
    mp_bin(&w, body, body_len);
    return respond(w.buf, w.len);
}

static int send_text(u32 code, const char *status, const u8 *text, u32 len) {
    return send_response(code, status, "text/plain; charset=utf-8", text, len);
}

/* Writes a line to the pod's log through wascc:logging (3 = INFO); errors are ignored. */
static void log_line(u32 level, const u8 *text, u32 len) {
    mp_writer w;
    u8 *out;
    u32 out_len;
    mp_init(&w, 32 + len);
    mp_map(&w, 2);
    mp_cstr(&w, "level");
    mp_uint(&w, level);
    mp_cstr(&w, "body");
    mp_str(&w, text, len);
    host_call("wascc:logging", "WriteLog", w.buf, w.len, &out, &out_len);
}

/* "METHOD PATH[?QUERY]" in the arena. */
static u32 request_line(const http_request *req, u8 **out) {
    u32 n = req->method_len + 1 + req->path_len + (req->query_len ? 1 + req->query_len : 0);
    u8 *p = wapc_alloc(n);
    u32 i = 0;
    memcpy(p + i, req->method, req->method_len);
    i += req->method_len;
    p[i++] = ' ';
    memcpy(p + i, req->path, req->path_len);
    i += req->path_len;
    if (req->query_len) {
        p[i++] = '?';
        memcpy(p + i, req->query, req->query_len);
        i += req->query_len;
    }
    *out = p;
    return n;
}

#endif
