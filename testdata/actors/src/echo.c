/* echo: answers every HTTP request with its body (or "METHOD PATH?QUERY" when the body
 * is empty) and logs the request line through wascc:logging.
 *
 * Also: the waPC operation "Echo" returns its payload unchanged, "Trap" (or a request
 * to /trap) executes `unreachable`, to test how the host survives a trapping call.
 */
#include "wascc.h"

static int handle(const u8 *op, u32 op_len, const u8 *msg, u32 msg_len) {
    if (bytes_eq(op, op_len, "Echo")) return respond(msg, msg_len);
    if (bytes_eq(op, op_len, "Trap")) __builtin_trap();
    if (!bytes_eq(op, op_len, "HandleRequest")) return fail("echo: unknown operation");

    http_request req;
    if (!decode_request(msg, msg_len, &req)) return fail("echo: cannot decode the request");
    if (bytes_eq(req.path, req.path_len, "/trap")) __builtin_trap();
    u8 *line;
    u32 line_len = request_line(&req, &line);
    log_line(3, line, line_len);
    if (req.body_len)
        return send_response(200, "OK", "application/octet-stream", req.body, req.body_len);
    return send_text(200, "OK", line, line_len);
}
