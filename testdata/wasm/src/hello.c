/* hello: prints its argv and environment, the file named by $INPUT_FILE (if
 * set), writes $OUTPUT_FILE (if set) and exits with $EXIT_CODE (default 0). */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

int main(int argc, char **argv) {
    printf("hello from wasm\n");
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++) printf("env %s\n", *e);
    const char *in = getenv("INPUT_FILE");
    if (in) {
        FILE *f = fopen(in, "r");
        if (!f) { fprintf(stderr, "cannot open %s\n", in); return 4; }
        char buf[256];
        size_t n;
        printf("input:");
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
        printf("\n");
        fclose(f);
    }
    const char *out = getenv("OUTPUT_FILE");
    if (out) {
        FILE *f = fopen(out, "w");
        if (!f) { fprintf(stderr, "cannot write %s\n", out); return 5; }
        fputs("written by hello\n", f);
        fclose(f);
    }
    fprintf(stderr, "hello on stderr\n");
    const char *code = getenv("EXIT_CODE");
    fflush(stdout);
    return code ? atoi(code) : 0;
}
