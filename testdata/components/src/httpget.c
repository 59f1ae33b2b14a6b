/* httpget: a wasi:cli/command component making one outgoing wasi:http
 * request.  argv: AUTHORITY PATH (plain http).  Prints the response status
 * and body and exits 0 for a 2xx answer; when the request fails it prints the
 * wasi:http error-code number and exits 1. */
#include "cabi.h"

#define HTTP "wasi:http/types@0.2.6"

IMPORT(HTTP, "[constructor]fields") i32 fields_new(void);
IMPORT(HTTP, "[constructor]outgoing-request") i32 request_new(i32 headers);
IMPORT(HTTP, "[method]outgoing-request.set-method") i32 set_method(i32 self, i32 tag, const char *p, size_t n);
IMPORT(HTTP, "[method]outgoing-request.set-scheme")
i32 set_scheme(i32 self, i32 some, i32 tag, const char *p, size_t n);
IMPORT(HTTP, "[method]outgoing-request.set-authority") i32 set_authority(i32 self, i32 some, const char *p, size_t n);
IMPORT(HTTP, "[method]outgoing-request.set-path-with-query")
i32 set_path(i32 self, i32 some, const char *p, size_t n);
IMPORT("wasi:http/outgoing-handler@0.2.6", "handle") void handle(i32 request, i32 some, i32 options, void *ret);
IMPORT(HTTP, "[method]future-incoming-response.subscribe") i32 future_subscribe(i32 self);
IMPORT(HTTP, "[method]future-incoming-response.get") void future_get(i32 self, void *ret);
IMPORT(HTTP, "[method]incoming-response.status") i32 response_status(i32 self);
IMPORT(HTTP, "[method]incoming-response.consume") void response_consume(i32 self, void *ret);
IMPORT(HTTP, "[method]incoming-body.stream") void body_stream(i32 self, void *ret);
IMPORT(POLL, "[method]pollable.block") void block(i32 self);
IMPORT(POLL, "[resource-drop]pollable") void drop_pollable(i32 self);
IMPORT(IO, "[method]input-stream.blocking-read") void blocking_read(i32 self, u64 len, void *ret);

static int fail(const char *what, u8 code) {
    puts_(what);
    puts_(" failed: wasi:http error-code ");
    putnum(code);
    puts_("\n");
    return 1;
}

static int run(void) {
    str_list argv = arguments();
    if (argv.len < 3) { puts_("usage: httpget AUTHORITY PATH\n"); return 2; }
    i32 req = request_new(fields_new());
    set_method(req, 0, 0, 0); /* get */
    set_scheme(req, 1, 0, 0, 0); /* http */
    set_authority(req, 1, argv.ptr[1].ptr, argv.ptr[1].len);
    set_path(req, 1, argv.ptr[2].ptr, argv.ptr[2].len);
    u8 handled[48] __attribute__((aligned(8)));
    handle(req, 0, 0, handled);
    if (handled[0]) return fail("handle", handled[8]);
    i32 future = *(i32 *)(handled + 8);
    u8 got[64] __attribute__((aligned(8)));
    for (;;) {
        future_get(future, got);
        if (got[0]) break;
        i32 p = future_subscribe(future);
        block(p);
        drop_pollable(p);
    }
    if (got[8]) return fail("get", 0);
    if (got[16]) return fail("request", got[24]);
    i32 response = *(i32 *)(got + 24);
    i32 status = response_status(response);
    puts_("status ");
    putnum(status);
    puts_("\n");
    struct { u8 tag; u8 pad[3]; i32 value; } r;
    response_consume(response, &r);
    if (r.tag) return fail("consume", 0);
    body_stream(r.value, &r);
    if (r.tag) return fail("stream", 0);
    for (;;) {
        struct { u8 tag; u8 pad[3]; const char *ptr; size_t len; } chunk;
        blocking_read(r.value, 4096, &chunk);
        if (chunk.tag) break; /* closed: the body is complete */
        out(chunk.ptr, chunk.len);
    }
    puts_("\n");
    return status >= 200 && status < 300 ? 0 : 1;
}

EXPORT("wasi:cli/run@0.2.6#run")
i32 wasi_run(void) {
    int code = run();
    flush();
    if (code) exit_with_code(code);
    return 0;
}
