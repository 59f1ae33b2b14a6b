/* wapc_guest.h: the guest half of the waPC ABI (wapc-guest 0.3 and later) for C actors.
 *
 * The host writes the operation name and payload into memory we allocate, we answer
 * through __guest_response / __guest_error, and we reach capabilities through the
 * 8-argument __host_call (binding, namespace, operation, payload).  There is no libc:
 * memory comes from a bump allocator above __heap_base that is reset on every call,
 * which is all a stateless request handler needs.
 */
#ifndef WAPC_GUEST_H
#define WAPC_GUEST_H

typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;

#define WAPC_IMPORT(name) __attribute__((import_module("wapc"), import_name(#name)))

WAPC_IMPORT(__guest_request) void __guest_request(u8 *op, u8 *msg);
WAPC_IMPORT(__guest_response) void __guest_response(const u8 *ptr, u32 len);
WAPC_IMPORT(__guest_error) void __guest_error(const u8 *ptr, u32 len);
WAPC_IMPORT(__host_call) i32 __host_call(const u8 *bd, u32 bd_len, const u8 *ns, u32 ns_len,
                                         const u8 *op, u32 op_len, const u8 *ptr, u32 len);
WAPC_IMPORT(__host_response_len) u32 __host_response_len(void);
WAPC_IMPORT(__host_response) void __host_response(u8 *ptr);
WAPC_IMPORT(__host_error_len) u32 __host_error_len(void);
WAPC_IMPORT(__host_error) void __host_error(u8 *ptr);

/* clang lowers struct copies and some loops to these; LLVM never turns the loops
 * inside functions with these names back into calls to themselves. */
void *memcpy(void *dst, const void *src, unsigned long n) {
    u8 *d = dst;
    const u8 *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, unsigned long n) {
    u8 *d = dst;
    while (n--) *d++ = (u8)c;
    return dst;
}

extern u8 __heap_base;
static u32 heap_top;

static void wapc_reset(void) { heap_top = (u32)&__heap_base; }

static void *wapc_alloc(u32 n) {
    u32 start = (heap_top + 7u) & ~7u;
    u32 end = start + n;
    u32 have = (u32)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        u32 pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (unsigned long)-1) __builtin_trap();
    }
    heap_top = end;
    return (void *)start;
}

static u32 cstrlen(const char *s) {
    u32 n = 0;
    while (s[n]) n++;
    return n;
}

static int bytes_eq(const u8 *p, u32 n, const char *s) {
    u32 i = 0;
    for (; i < n; i++)
        if (!s[i] || p[i] != (u8)s[i]) return 0;
    return s[i] == 0;
}

static int respond(const u8 *ptr, u32 len) {
    __guest_response(ptr, len);
    return 1;
}

static int fail(const char *message) {
    __guest_error((const u8 *)message, cstrlen(message));
    return 0;
}

/* Calls a capability on the "default" binding.  Returns 1 with the response, or 0
 * with the host's error message in *out. */
static int host_call(const char *ns, const char *op, const u8 *payload, u32 len, u8 **out,
                     u32 *out_len) {
    static const char binding[] = "default";
    i32 ok = __host_call((const u8 *)binding, sizeof binding - 1, (const u8 *)ns, cstrlen(ns),
                         (const u8 *)op, cstrlen(op), payload, len);
    u32 n = ok ? __host_response_len() : __host_error_len();
    u8 *buf = wapc_alloc(n + 1);
    if (ok)
        __host_response(buf);
    else
        __host_error(buf);
    *out = buf;
    *out_len = n;
    return ok;
}

/* Every actor defines this; op is not NUL-terminated. */
static int handle(const u8 *op, u32 op_len, const u8 *msg, u32 msg_len);

__attribute__((export_name("__guest_call"))) i32 __guest_call(i32 op_len, i32 msg_len) {
    wapc_reset();
    u8 *op = wapc_alloc((u32)op_len + 1);
    u8 *msg = wapc_alloc((u32)msg_len + 1);
    __guest_request(op, msg);
    return handle(op, (u32)op_len, msg, (u32)msg_len);
}

#endif
