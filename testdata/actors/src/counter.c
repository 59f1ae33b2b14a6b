/* counter: every HTTP request atomically adds 1 to the key "counter:PATH" through
 * wascc:keyvalue ("Add") and answers with the new count as decimal text.
 */
#include "wascc.h"

static u32 format_int(long long v, u8 *out) {
    u8 digits[24];
    u32 n = 0, i = 0;
    int negative = v < 0;
    unsigned long long u = negative ? (unsigned long long)(-v) : (unsigned long long)v;
    do {
        digits[n++] = (u8)('0' + u % 10);
        u /= 10;
    } while (u);
    if (negative) out[i++] = '-';
    while (n) out[i++] = digits[--n];
    return i;
}

static int handle(const u8 *op, u32 op_len, const u8 *msg, u32 msg_len) {
    if (!bytes_eq(op, op_len, "HandleRequest")) return fail("counter: unknown operation");
    http_request req;
    if (!decode_request(msg, msg_len, &req)) return fail("counter: cannot decode the request");

    static const char prefix[] = "counter:";
    u32 key_len = sizeof prefix - 1 + req.path_len;
    u8 *key = wapc_alloc(key_len);
    memcpy(key, prefix, sizeof prefix - 1);
    memcpy(key + sizeof prefix - 1, req.path, req.path_len);

    mp_writer w;
    mp_init(&w, 32 + key_len);
    mp_map(&w, 2);
    mp_cstr(&w, "key");
    mp_str(&w, key, key_len);
    mp_cstr(&w, "value");
    mp_int(&w, 1);

    u8 *out;
    u32 out_len;
    if (!host_call("wascc:keyvalue", "Add", w.buf, w.len, &out, &out_len))
        return send_text(500, "Internal Server Error", out, out_len);

    mp_reader r = {out, out_len, 0, 0};
    long long value = 0;
    u32 n = mp_read_map(&r);
    while (n-- && !r.err) {
        const u8 *name;
        u32 name_len;
        if (!mp_read_bytes(&r, &name, &name_len)) break;
        if (bytes_eq(name, name_len, "value"))
            value = mp_read_int(&r);
        else
            mp_skip(&r);
    }
    if (r.err) return fail("counter: cannot decode the key-value response");

    u8 *text = wapc_alloc(32);
    u32 text_len = format_int(value, text);
    log_line(3, text, text_len);
    return send_text(200, "OK", text, text_len);
}
