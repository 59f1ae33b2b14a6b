/* writer: writes TEXT (argv[2], default "hello") to PATH (argv[1]).
 * Exits 1 with the error on stderr when the write is refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/data/out.txt";
    const char *text = argc > 2 ? argv[2] : "hello";
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("wrote %s\n", path);
    return 0;
}
