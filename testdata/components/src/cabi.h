/* cabi.h: the little a freestanding C core module needs to be a WASI 0.2
 * component (no libc, no preview 1 adapter): a bump allocator exported as
 * cabi_realloc (the host allocates returned lists and strings through it),
 * memory and string helpers, and stdout/stderr/exit through the canonical ABI
 * of wasi:cli and wasi:io.  Each function import names its WIT interface and
 * function; the lowered signatures follow the component model's canonical ABI
 * (results wider than one value are written through a return pointer). */
#ifndef CABI_H
#define CABI_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int i32;
typedef long long i64;
typedef unsigned long size_t;

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))
#define IO "wasi:io/streams@0.2.6"
#define POLL "wasi:io/poll@0.2.6"

typedef struct { const char *ptr; size_t len; } str;

extern u8 __heap_base;
static size_t heap_top;

/* Grows linear memory as needed; returns 0 when memory.grow is refused. */
static void *bump(size_t size, size_t align) {
    if (!heap_top) heap_top = (size_t)&__heap_base;
    size_t at = (heap_top + align - 1) & ~(align - 1);
    size_t end = at + size;
    size_t have = __builtin_wasm_memory_size(0) << 16;
    if (end > have) {
        size_t pages = (end - have + 0xffff) >> 16;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return 0;
    }
    heap_top = end;
    return (void *)at;
}

EXPORT("cabi_realloc")
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
    u8 *fresh = bump(new_size, align);
    if (fresh && old) {
        for (size_t i = 0; i < old_size && i < new_size; i++) fresh[i] = ((u8 *)old)[i];
    }
    if (!fresh) __builtin_trap();
    return fresh;
}

static size_t slen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static int seq(str a, const char *b) {
    size_t n = slen(b);
    if (a.len != n) return 0;
    for (size_t i = 0; i < n; i++) if (a.ptr[i] != b[i]) return 0;
    return 1;
}

static int sprefix(str a, str prefix) {
    if (a.len < prefix.len) return 0;
    for (size_t i = 0; i < prefix.len; i++) if (a.ptr[i] != prefix.ptr[i]) return 0;
    return 1;
}

static long satoi(str s) {
    long n = 0;
    for (size_t i = 0; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++) n = n * 10 + (s.ptr[i] - '0');
    return n;
}

/* -- stdout, stderr -------------------------------------------------------- */

IMPORT("wasi:cli/stdout@0.2.6", "get-stdout") i32 get_stdout(void);
IMPORT("wasi:cli/stderr@0.2.6", "get-stderr") i32 get_stderr(void);
IMPORT(IO, "[method]output-stream.blocking-write-and-flush")
void output_write(i32 stream, const void *ptr, size_t len, void *ret);

static i32 out_stream = -1, err_stream = -1;

/* blocking-write-and-flush takes at most 4096 bytes a call. */
static void write_all(i32 stream, const char *ptr, size_t len) {
    u8 ret[12] __attribute__((aligned(4)));
    while (len) {
        size_t n = len > 4096 ? 4096 : len;
        output_write(stream, ptr, n, ret);
        if (ret[0]) return;
        ptr += n;
        len -= n;
    }
}

/* stdout is line-buffered, so a log line is one write (as with wasi-libc). */
static char out_buf[1024];
static size_t out_len;

static void flush(void) {
    if (out_stream < 0) out_stream = get_stdout();
    write_all(out_stream, out_buf, out_len);
    out_len = 0;
}

static void out(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        out_buf[out_len++] = s[i];
        if (s[i] == '\n' || out_len == sizeof out_buf) flush();
    }
}
static void puts_(const char *s) { out(s, slen(s)); }
static void putstr(str s) { out(s.ptr, s.len); }
static void eputs(const char *s) {
    flush();
    if (err_stream < 0) err_stream = get_stderr();
    write_all(err_stream, s, slen(s));
}

static void putnum(long n) {
    char buf[24];
    int i = sizeof buf;
    int neg = n < 0;
    unsigned long v = neg ? -(unsigned long)n : (unsigned long)n;
    do { buf[--i] = '0' + v % 10; v /= 10; } while (v);
    if (neg) buf[--i] = '-';
    out(buf + i, sizeof buf - i);
}

/* -- environment, exit ----------------------------------------------------- */

IMPORT("wasi:cli/environment@0.2.6", "get-arguments") void get_arguments(void *ret);
IMPORT("wasi:cli/environment@0.2.6", "get-environment") void get_environment(void *ret);
IMPORT("wasi:cli/exit@0.2.6", "exit-with-code") void exit_with_code(i32 code);

typedef struct { str *ptr; size_t len; } str_list;
typedef struct { str name, value; } env_pair;
typedef struct { env_pair *ptr; size_t len; } env_list;

static str_list arguments(void) { str_list l; get_arguments(&l); return l; }

static env_list environment(void) { env_list l; get_environment(&l); return l; }

static int getenv_(const char *name, str *value) {
    env_list env = environment();
    for (size_t i = 0; i < env.len; i++) {
        if (seq(env.ptr[i].name, name)) { *value = env.ptr[i].value; return 1; }
    }
    return 0;
}

#endif
