/* hello: a wasi:cli/command component.  Prints its argv and environment and
 * the file named by $INPUT_FILE (an absolute path beneath a preopen), then
 * exits with $EXIT_CODE (default 0) through wasi:cli/exit.  argv[1] may pick
 * another mode: "spin" loops forever, "alloc N" grows linear memory to N MiB
 * and exits 2 when memory.grow is refused. */
#include "cabi.h"

#define FS "wasi:filesystem/types@0.2.6"

IMPORT("wasi:filesystem/preopens@0.2.6", "get-directories") void get_directories(void *ret);
IMPORT(FS, "[method]descriptor.open-at")
void open_at(i32 self, i32 path_flags, const char *path, size_t len, i32 open_flags, i32 flags, void *ret);
IMPORT(FS, "[method]descriptor.read") void fd_read(i32 self, u64 length, u64 offset, void *ret);

typedef struct { i32 fd; str name; } preopen;

static int print_file(str path) {
    struct { preopen *ptr; size_t len; } dirs;
    get_directories(&dirs);
    for (size_t i = 0; i < dirs.len; i++) {
        str dir = dirs.ptr[i].name;
        if (!sprefix(path, dir) || path.len <= dir.len + 1 || path.ptr[dir.len] != '/') continue;
        str rest = {path.ptr + dir.len + 1, path.len - dir.len - 1};
        struct { u8 tag; u8 pad[3]; i32 value; } opened;
        open_at(dirs.ptr[i].fd, 1, rest.ptr, rest.len, 0, 1, &opened);
        if (opened.tag) { eputs("cannot open the input file\n"); return 4; }
        puts_("input:");
        u64 offset = 0;
        for (;;) {
            struct { u8 tag; u8 pad[3]; u8 *ptr; size_t len; u8 end; } got;
            fd_read(opened.value, 4096, offset, &got);
            if (got.tag) { eputs("cannot read the input file\n"); return 4; }
            out((const char *)got.ptr, got.len);
            offset += got.len;
            if (got.end || !got.len) break;
        }
        puts_("\n");
        return 0;
    }
    eputs("the input file is under no preopened directory\n");
    return 4;
}

static int hog(long mib) {
    for (long i = 0; i < mib; i++) {
        volatile u8 *p = bump(1 << 20, 16);
        if (!p) {
            eputs("memory.grow refused after ");
            puts_("");
            putnum(i);
            eputs(" MiB\n");
            return 2;
        }
        for (long j = 0; j < (1 << 20); j += 4096) p[j] = (u8)i;
    }
    puts_("allocated ");
    putnum(mib);
    puts_(" MiB\n");
    return 0;
}

static int run(void) {
    str_list argv = arguments();
    if (argv.len > 1 && seq(argv.ptr[1], "spin")) {
        puts_("spinning\n");
        for (volatile long n = 0;; n++) {}
    }
    if (argv.len > 2 && seq(argv.ptr[1], "alloc")) return hog(satoi(argv.ptr[2]));
    puts_("hello from a component\n");
    for (size_t i = 0; i < argv.len; i++) {
        puts_("argv[");
        putnum((long)i);
        puts_("]=");
        putstr(argv.ptr[i]);
        puts_("\n");
    }
    env_list env = environment();
    for (size_t i = 0; i < env.len; i++) {
        puts_("env ");
        putstr(env.ptr[i].name);
        puts_("=");
        putstr(env.ptr[i].value);
        puts_("\n");
    }
    str value;
    if (getenv_("INPUT_FILE", &value)) {
        int failed = print_file(value);
        if (failed) return failed;
    }
    eputs("hello on stderr\n");
    return getenv_("EXIT_CODE", &value) ? (int)satoi(value) : 0;
}

EXPORT("wasi:cli/run@0.2.6#run")
i32 wasi_run(void) {
    int code = run();
    flush();
    if (code) exit_with_code(code);
    return 0; /* result::ok */
}
