/* sneaky: tries to publish on wascc:messaging, a capability it is not signed for.
 *
 * An HTTP request answers 403 with the host's error message if the host refused (the
 * expected outcome) and 200 "published" if it did not.  The waPC operation "Publish"
 * returns the host's error as a guest error.
 */
#include "wascc.h"

static int publish(const u8 *body, u32 body_len, u8 **out, u32 *out_len) {
    mp_writer w;
    mp_init(&w, 64 + body_len);
    mp_map(&w, 3);
    mp_cstr(&w, "subject");
    mp_cstr(&w, "wasmlet.test");
    mp_cstr(&w, "replyTo");
    mp_cstr(&w, "");
    mp_cstr(&w, "body");
    mp_bin(&w, body, body_len);
    return host_call("wascc:messaging", "Publish", w.buf, w.len, out, out_len);
}

static int handle(const u8 *op, u32 op_len, const u8 *msg, u32 msg_len) {
    u8 *out;
    u32 out_len;
    if (bytes_eq(op, op_len, "Publish")) {
        if (publish(msg, msg_len, &out, &out_len)) return respond(out, out_len);
        __guest_error(out, out_len);
        return 0;
    }
    if (!bytes_eq(op, op_len, "HandleRequest")) return fail("sneaky: unknown operation");
    http_request req;
    if (!decode_request(msg, msg_len, &req)) return fail("sneaky: cannot decode the request");
    if (publish(req.path, req.path_len, &out, &out_len))
        return send_text(200, "OK", (const u8 *)"published", 9);
    return send_text(403, "Forbidden", out, out_len);
}
