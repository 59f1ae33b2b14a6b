/* spin: the waPC operation "Spin" (or a request to /spin) never returns, to test the
 * host's per-call deadline; "Echo" returns its payload and other requests answer "ok".
 */
#include "wascc.h"

static void spin_forever(void) {
    volatile u32 n = 0;
    for (;;) n++;
}

static int handle(const u8 *op, u32 op_len, const u8 *msg, u32 msg_len) {
    if (bytes_eq(op, op_len, "Echo")) return respond(msg, msg_len);
    if (bytes_eq(op, op_len, "Spin")) spin_forever();
    if (!bytes_eq(op, op_len, "HandleRequest")) return fail("spin: unknown operation");
    http_request req;
    if (!decode_request(msg, msg_len, &req)) return fail("spin: cannot decode the request");
    if (bytes_eq(req.path, req.path_len, "/spin")) spin_forever();
    return send_text(200, "OK", (const u8 *)"ok", 2);
}
