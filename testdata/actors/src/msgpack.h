/* msgpack.h: the MessagePack subset waSCC's codec needs, for C actors without libc.
 *
 * Writer: maps, strings, binaries, integers and booleans into a buffer that grows in
 * the call's bump arena.  Reader: maps, arrays, strings/binaries and integers, plus
 * skipping any value, so a decoder can walk a struct-map and ignore fields it does
 * not know (the wascc-codec structs are maps keyed by camelCase field names).
 */
#ifndef MSGPACK_H
#define MSGPACK_H

#include "wapc_guest.h"

typedef struct {
    u8 *buf;
    u32 len, cap;
} mp_writer;

static void mp_init(mp_writer *w, u32 cap) {
    w->buf = wapc_alloc(cap);
    w->len = 0;
    w->cap = cap;
}

static void mp_reserve(mp_writer *w, u32 extra) {
    if (w->len + extra <= w->cap) return;
    u32 cap = w->cap * 2 > w->len + extra ? w->cap * 2 : w->len + extra + 64;
    u8 *buf = wapc_alloc(cap);
    memcpy(buf, w->buf, w->len);
    w->buf = buf;
    w->cap = cap;
}

static void mp_byte(mp_writer *w, u8 b) {
    mp_reserve(w, 1);
    w->buf[w->len++] = b;
}

static void mp_raw(mp_writer *w, const u8 *p, u32 n) {
    mp_reserve(w, n);
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void mp_be(mp_writer *w, u32 v, u32 nbytes) {
    while (nbytes--) mp_byte(w, (u8)(v >> (8 * nbytes)));
}

static void mp_head(mp_writer *w, u32 n, u8 fix, u32 fix_max, u8 m8, u8 m16, u8 m32) {
    if (fix && n <= fix_max) {
        mp_byte(w, (u8)(fix | n));
    } else if (m8 && n < 256) {
        mp_byte(w, m8);
        mp_be(w, n, 1);
    } else if (n < 65536) {
        mp_byte(w, m16);
        mp_be(w, n, 2);
    } else {
        mp_byte(w, m32);
        mp_be(w, n, 4);
    }
}

static void mp_map(mp_writer *w, u32 n) { mp_head(w, n, 0x80, 15, 0, 0xde, 0xdf); }

static void mp_str(mp_writer *w, const u8 *p, u32 n) {
    mp_head(w, n, 0xa0, 31, 0xd9, 0xda, 0xdb);
    mp_raw(w, p, n);
}

static void mp_cstr(mp_writer *w, const char *s) { mp_str(w, (const u8 *)s, cstrlen(s)); }

static void mp_bin(mp_writer *w, const u8 *p, u32 n) {
    mp_head(w, n, 0, 0, 0xc4, 0xc5, 0xc6);
    mp_raw(w, p, n);
}

static void mp_uint(mp_writer *w, u32 v) {
    if (v < 128) {
        mp_byte(w, (u8)v);
    } else if (v < 256) {
        mp_byte(w, 0xcc);
        mp_be(w, v, 1);
    } else if (v < 65536) {
        mp_byte(w, 0xcd);
        mp_be(w, v, 2);
    } else {
        mp_byte(w, 0xce);
        mp_be(w, v, 4);
    }
}

static void mp_int(mp_writer *w, i32 v) {
    if (v >= 0) {
        mp_uint(w, (u32)v);
    } else if (v >= -32) {
        mp_byte(w, (u8)v);
    } else {
        mp_byte(w, 0xd2);
        mp_be(w, (u32)v, 4);
    }
}

typedef struct {
    const u8 *p;
    u32 len, pos;
    int err;
} mp_reader;

static u8 mp_next(mp_reader *r) {
    if (r->pos >= r->len) {
        r->err = 1;
        return 0xc1; /* never used by MessagePack */
    }
    return r->p[r->pos++];
}

static u8 mp_peek(mp_reader *r) { return r->pos < r->len ? r->p[r->pos] : 0xc1; }

static unsigned long long mp_read_be(mp_reader *r, u32 nbytes) {
    unsigned long long v = 0;
    while (nbytes--) v = (v << 8) | mp_next(r);
    return v;
}

static u32 mp_read_container(mp_reader *r, u8 fix, u8 fix_mask, u8 m16, u8 m32) {
    u8 b = mp_next(r);
    if ((b & (u8)~fix_mask) == fix) return b & fix_mask;
    if (b == m16) return (u32)mp_read_be(r, 2);
    if (b == m32) return (u32)mp_read_be(r, 4);
    r->err = 1;
    return 0;
}

static u32 mp_read_map(mp_reader *r) { return mp_read_container(r, 0x80, 0x0f, 0xde, 0xdf); }

static u32 mp_read_array(mp_reader *r) { return mp_read_container(r, 0x90, 0x0f, 0xdc, 0xdd); }

/* A string or a binary: sets *out to the bytes inside the input (no copy). */
static int mp_read_bytes(mp_reader *r, const u8 **out, u32 *n) {
    u8 b = mp_next(r);
    u32 len;
    if ((b & 0xe0) == 0xa0)
        len = b & 0x1f;
    else if (b == 0xd9 || b == 0xc4)
        len = (u32)mp_read_be(r, 1);
    else if (b == 0xda || b == 0xc5)
        len = (u32)mp_read_be(r, 2);
    else if (b == 0xdb || b == 0xc6)
        len = (u32)mp_read_be(r, 4);
    else {
        r->err = 1;
        return 0;
    }
    if (r->err || len > r->len - r->pos) {
        r->err = 1;
        return 0;
    }
    *out = r->p + r->pos;
    *n = len;
    r->pos += len;
    return 1;
}

static long long mp_read_int(mp_reader *r) {
    u8 b = mp_next(r);
    if (b < 0x80) return b;
    if (b >= 0xe0) return (signed char)b;
    switch (b) {
    case 0xcc: return (long long)mp_read_be(r, 1);
    case 0xcd: return (long long)mp_read_be(r, 2);
    case 0xce: return (long long)mp_read_be(r, 4);
    case 0xcf: return (long long)mp_read_be(r, 8);
    case 0xd0: return (signed char)mp_read_be(r, 1);
    case 0xd1: return (short)mp_read_be(r, 2);
    case 0xd2: return (i32)mp_read_be(r, 4);
    case 0xd3: return (long long)mp_read_be(r, 8);
    }
    r->err = 1;
    return 0;
}

static void mp_skip_bytes(mp_reader *r, u32 n) {
    if (n > r->len - r->pos) {
        r->err = 1;
        r->pos = r->len;
    } else {
        r->pos += n;
    }
}

/* Skips one value of any type. */
static void mp_skip(mp_reader *r) {
    u8 b = mp_peek(r);
    u32 n;
    if (b < 0x80 || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        mp_next(r);
    } else if ((b >= 0xcc && b <= 0xcf) || (b >= 0xd0 && b <= 0xd3)) {
        mp_read_int(r);
    } else if (b == 0xca || b == 0xcb) {
        mp_next(r);
        mp_skip_bytes(r, b == 0xca ? 4 : 8);
    } else if ((b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb) || (b >= 0xc4 && b <= 0xc6)) {
        const u8 *p;
        mp_read_bytes(r, &p, &n);
    } else if ((b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd) {
        n = mp_read_array(r);
        while (n-- && !r->err) mp_skip(r);
    } else if ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf) {
        n = mp_read_map(r);
        while (n-- && !r->err) {
            mp_skip(r);
            mp_skip(r);
        }
    } else if (b >= 0xd4 && b <= 0xd8) { /* fixext: type byte plus 1..16 bytes */
        mp_next(r);
        mp_skip_bytes(r, 1 + (1u << (b - 0xd4)));
    } else if (b >= 0xc7 && b <= 0xc9) { /* ext 8/16/32 */
        mp_next(r);
        n = (u32)mp_read_be(r, b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4);
        mp_skip_bytes(r, n + 1);
    } else {
        r->err = 1;
    }
}

#endif
