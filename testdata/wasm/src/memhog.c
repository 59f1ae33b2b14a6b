/* memhog: allocates and touches MIB MiB (argv[1], default 64) one MiB at a
 * time.  Pointers go to a volatile array so the optimiser cannot drop the
 * allocations.  Exits 2 when malloc fails, 0 when all were allocated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile keep[4096];

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 64;
    if (mib > 4096) mib = 4096;
    for (long i = 0; i < mib; i++) {
        void *p = malloc(1 << 20);
        if (!p) {
            fprintf(stderr, "malloc failed after %ld MiB\n", i);
            return 2;
        }
        memset(p, (int)i, 1 << 20);
        keep[i] = p;
    }
    printf("allocated %ld MiB\n", mib);
    return 0;
}
