/* tcpserver: a wasi:cli/command component serving TCP through wasi:sockets.
 * argv: ADDRESS PORT (IPv4).  Binds and listens, prints "listening on
 * ADDRESS:PORT", then answers every connection with one greeting line and
 * closes it.  When a socket call fails it prints which one and the
 * wasi:sockets error code, and exits 1. */
#include "cabi.h"

#define TCP "wasi:sockets/tcp@0.2.6"

IMPORT("wasi:sockets/instance-network@0.2.6", "instance-network") i32 instance_network(void);
IMPORT("wasi:sockets/tcp-create-socket@0.2.6", "create-tcp-socket") void create_tcp_socket(i32 family, void *ret);
IMPORT(TCP, "[method]tcp-socket.start-bind")
void start_bind(i32 self, i32 network, i32 family, i32 port, i32 a, i32 b, i32 c, i32 d, i32 p6, i32 p7,
                i32 p8, i32 p9, i32 p10, i32 p11, void *ret);
IMPORT(TCP, "[method]tcp-socket.finish-bind") void finish_bind(i32 self, void *ret);
IMPORT(TCP, "[method]tcp-socket.start-listen") void start_listen(i32 self, void *ret);
IMPORT(TCP, "[method]tcp-socket.finish-listen") void finish_listen(i32 self, void *ret);
IMPORT(TCP, "[method]tcp-socket.accept") void accept_(i32 self, void *ret);
IMPORT(TCP, "[method]tcp-socket.subscribe") i32 tcp_subscribe(i32 self);
IMPORT(TCP, "[resource-drop]tcp-socket") void drop_socket(i32 self);
IMPORT(POLL, "[method]pollable.block") void block(i32 self);
IMPORT(POLL, "[resource-drop]pollable") void drop_pollable(i32 self);
IMPORT(IO, "[resource-drop]input-stream") void drop_input(i32 self);
IMPORT(IO, "[resource-drop]output-stream") void drop_output(i32 self);

#define WOULD_BLOCK 8

typedef struct { u8 tag; u8 pad[3]; i32 a, b, c; } result3;

static int fail(const char *what, i32 code) {
    puts_(what);
    puts_(" failed: wasi:sockets error-code ");
    putnum(code);
    puts_("\n");
    flush();
    return 1;
}

/* Calls `start`/`finish` pairs, blocking on the socket's pollable while the
 * finish step says would-block. */
static int finish(i32 sock, void (*step)(i32, void *), const char *what) {
    result3 r;
    for (;;) {
        step(sock, &r);
        if (!r.tag) return 0;
        if ((u8)r.a != WOULD_BLOCK) return fail(what, (u8)r.a);
        i32 p = tcp_subscribe(sock);
        block(p);
        drop_pollable(p);
    }
}

static int run(void) {
    str_list argv = arguments();
    if (argv.len < 3) { puts_("usage: tcpserver ADDRESS PORT\n"); return 2; }
    u8 ip[4] = {0, 0, 0, 0};
    str addr = argv.ptr[1];
    for (size_t i = 0, part = 0; i < addr.len && part < 4; i++) {
        if (addr.ptr[i] == '.') part++;
        else ip[part] = ip[part] * 10 + (addr.ptr[i] - '0');
    }
    i32 port = (i32)satoi(argv.ptr[2]);
    i32 net = instance_network();
    result3 r;
    create_tcp_socket(0, &r);
    if (r.tag) return fail("create-tcp-socket", (u8)r.a);
    i32 sock = r.a;
    start_bind(sock, net, 0, port, ip[0], ip[1], ip[2], ip[3], 0, 0, 0, 0, 0, 0, &r);
    if (r.tag) return fail("bind", (u8)r.a);
    if (finish(sock, finish_bind, "bind")) return 1;
    start_listen(sock, &r);
    if (r.tag) return fail("listen", (u8)r.a);
    if (finish(sock, finish_listen, "listen")) return 1;
    puts_("listening on ");
    putstr(addr);
    puts_(":");
    putnum(port);
    puts_("\n");
    for (;;) {
        accept_(sock, &r);
        if (r.tag) {
            if ((u8)r.a != WOULD_BLOCK) return fail("accept", (u8)r.a);
            i32 p = tcp_subscribe(sock);
            block(p);
            drop_pollable(p);
            continue;
        }
        static const char greeting[] = "hello from a component server\n";
        u8 ret[12] __attribute__((aligned(4)));
        output_write(r.c, greeting, sizeof greeting - 1, ret);
        drop_input(r.b);
        drop_output(r.c);
        drop_socket(r.a);
        puts_("answered a connection\n");
    }
}

EXPORT("wasi:cli/run@0.2.6#run")
i32 wasi_run(void) {
    int code = run();
    flush();
    if (code) exit_with_code(code);
    return 0;
}
