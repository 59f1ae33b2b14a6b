/* scripted: runs the commands given as arguments, in order, so a test can
 * state what a pod should see in the pod spec itself (like Krustlet's
 * wasmerciser).  Each command takes a fixed number of following words:
 *
 *   echo TEXT            print TEXT and a newline on stdout
 *   stderr TEXT          print TEXT and a newline on stderr
 *   assert_exists PATH   fail unless PATH can be opened for reading
 *   assert_not_exists PATH
 *   read PATH            print the contents of PATH on stdout
 *   assert_content PATH TEXT   fail unless PATH holds exactly TEXT
 *   wait_for_content PATH TEXT MS   re-read PATH every 20 ms until it holds
 *                        exactly TEXT; fail after MS milliseconds
 *   write PATH TEXT      create or truncate PATH and write TEXT
 *   append PATH TEXT     append TEXT to PATH
 *   env NAME             print NAME=value, fail if NAME is unset
 *   assert_env NAME VALUE
 *   sleep MS             sleep MS milliseconds (poll_oneoff)
 *   spin MS              burn CPU for MS milliseconds
 *   alloc MIB            allocate and touch MIB MiB
 *   flood KIB            print KIB KiB on stdout, as 128-byte numbered lines
 *                        ("flood 000000001 xxx...")
 *   symlink TARGET LINK  create the symbolic link LINK pointing at TARGET
 *   mkdir PATH           create the directory PATH
 *   nest N PATH          create N directories nested in PATH (PATH/d/d/...)
 *   open_many N          open the root preopen up to N times and keep every fd
 *                        open; prints "opened K", the count reached
 *   trap                 execute `unreachable`
 *   exit N               exit with status N
 *
 * A failed command prints "ERR: ..." on stderr and exits 1; running off the
 * end exits 0. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>

static void *volatile keep[4096];
static int nkeep;

static int fail(const char *what, const char *arg) {
    fprintf(stderr, "ERR: %s %s: %s\n", what, arg, strerror(errno));
    return 1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Read at most cap-1 bytes of path into buf; -1 if it cannot be opened. */
static long slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    return (long)n;
}

static int put(const char *path, const char *text, const char *mode) {
    FILE *f = fopen(path, mode);
    if (!f) return fail("cannot open", path);
    if (fputs(text, f) < 0) return fail("cannot write", path);
    if (fclose(f) != 0) return fail("cannot close", path);
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *cmd = argv[i];
        const char *a = i + 1 < argc ? argv[i + 1] : NULL;
        const char *b = i + 2 < argc ? argv[i + 2] : NULL;
        const char *c = i + 3 < argc ? argv[i + 3] : NULL;
        int need = 1;
        if (!strcmp(cmd, "trap")) need = 0;
        else if (!strcmp(cmd, "write") || !strcmp(cmd, "append") || !strcmp(cmd, "assert_env") ||
                 !strcmp(cmd, "assert_content") || !strcmp(cmd, "symlink") ||
                 !strcmp(cmd, "nest"))
            need = 2;
        else if (!strcmp(cmd, "wait_for_content")) need = 3;
        if ((need >= 1 && !a) || (need >= 2 && !b) || (need == 3 && !c)) {
            fprintf(stderr, "ERR: %s needs %d argument(s)\n", cmd, need);
            return 1;
        }
        if (!strcmp(cmd, "echo")) {
            printf("%s\n", a);
        } else if (!strcmp(cmd, "stderr")) {
            fprintf(stderr, "%s\n", a);
        } else if (!strcmp(cmd, "assert_exists") || !strcmp(cmd, "assert_not_exists")) {
            FILE *f = fopen(a, "r");
            int exists = f != NULL;
            if (f) fclose(f);
            if (exists != !strcmp(cmd, "assert_exists")) {
                fprintf(stderr, "ERR: %s %s failed\n", cmd, a);
                return 1;
            }
        } else if (!strcmp(cmd, "read")) {
            FILE *f = fopen(a, "r");
            if (!f) return fail("cannot read", a);
            char buf[512];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
            fclose(f);
        } else if (!strcmp(cmd, "assert_content")) {
            static char buf[65536];
            if (slurp(a, buf, sizeof buf) < 0) return fail("cannot read", a);
            if (strcmp(buf, b)) {
                fprintf(stderr, "ERR: %s holds \"%s\", not \"%s\"\n", a, buf, b);
                return 1;
            }
        } else if (!strcmp(cmd, "wait_for_content")) {
            static char buf[65536];
            double end = now_ms() + atof(c);
            for (;;) {
                long n = slurp(a, buf, sizeof buf);
                if (n >= 0 && !strcmp(buf, b)) break;
                if (now_ms() >= end) {
                    fprintf(stderr, "ERR: %s still holds \"%s\", not \"%s\"\n", a,
                            n >= 0 ? buf : "(unreadable)", b);
                    return 1;
                }
                struct timespec ts = {0, 20 * 1000000L};
                nanosleep(&ts, NULL);
            }
        } else if (!strcmp(cmd, "write")) {
            if (put(a, b, "w")) return 1;
        } else if (!strcmp(cmd, "append")) {
            if (put(a, b, "a")) return 1;
        } else if (!strcmp(cmd, "env")) {
            const char *v = getenv(a);
            if (!v) {
                fprintf(stderr, "ERR: env %s is not set\n", a);
                return 1;
            }
            printf("%s=%s\n", a, v);
        } else if (!strcmp(cmd, "assert_env")) {
            const char *v = getenv(a);
            if (!v || strcmp(v, b)) {
                fprintf(stderr, "ERR: env %s is %s, not %s\n", a, v ? v : "(unset)", b);
                return 1;
            }
        } else if (!strcmp(cmd, "sleep")) {
            long ms = atol(a);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            fflush(stdout);
            nanosleep(&ts, NULL);
        } else if (!strcmp(cmd, "spin")) {
            double end = now_ms() + atof(a);
            volatile unsigned long n = 0;
            while (now_ms() < end) for (int k = 0; k < 100000; k++) n++;
        } else if (!strcmp(cmd, "alloc")) {
            long mib = atol(a);
            for (long k = 0; k < mib && nkeep < 4096; k++) {
                void *p = malloc(1 << 20);
                if (!p) {
                    fprintf(stderr, "ERR: malloc failed after %ld MiB\n", k);
                    return 1;
                }
                memset(p, 1, 1 << 20);
                keep[nkeep++] = p;
            }
        } else if (!strcmp(cmd, "flood")) {
            static char line[129];
            memset(line, 'x', 127);
            line[127] = '\n';
            long lines = atol(a) * 8;
            for (long k = 1; k <= lines; k++) {
                char head[17];
                snprintf(head, sizeof head, "flood %09ld ", k);
                memcpy(line, head, 16);
                fwrite(line, 1, 128, stdout);
            }
        } else if (!strcmp(cmd, "symlink")) {
            if (symlink(a, b) != 0) return fail("cannot symlink", b);
        } else if (!strcmp(cmd, "mkdir")) {
            if (mkdir(a, 0755) != 0) return fail("cannot mkdir", a);
        } else if (!strcmp(cmd, "nest")) {
            static char path[8192];
            long levels = atol(a);
            size_t len = strlen(b);
            if (len >= sizeof path) return fail("path too long", b);
            memcpy(path, b, len + 1);
            for (long k = 0; k < levels && len + 2 < sizeof path; k++) {
                memcpy(path + len, "/d", 3);
                len += 2;
                if (mkdir(path, 0755) != 0) return fail("cannot mkdir", path);
            }
        } else if (!strcmp(cmd, "open_many")) {
            long want = atol(a), k = 0;
            for (; k < want; k++)
                if (open("/", O_RDONLY | O_DIRECTORY) < 0) break;
            printf("opened %ld\n", k);
        } else if (!strcmp(cmd, "trap")) {
            fflush(stdout);
            __builtin_trap();
        } else if (!strcmp(cmd, "exit")) {
            fflush(stdout);
            exit(atoi(a));
        } else {
            fprintf(stderr, "ERR: unknown command %s\n", cmd);
            return 1;
        }
        fflush(stdout);
        i += need;
    }
    return 0;
}
