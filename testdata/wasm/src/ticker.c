/* ticker: prints "tick N" every INTERVAL ms (argv[1], default 100), COUNT
 * times (argv[2], default 0 = forever).  Long-running; blocks in poll_oneoff. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    long interval = argc > 1 ? atol(argv[1]) : 100;
    long count = argc > 2 ? atol(argv[2]) : 0;
    struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
    for (long i = 1; count == 0 || i <= count; i++) {
        printf("tick %ld\n", i);
        fflush(stdout);
        nanosleep(&ts, NULL);
    }
    return 0;
}
