/* badimport: imports a function no WASI host provides (env.host_magic). */
#include <stdio.h>

__attribute__((import_module("env"), import_name("host_magic"))) int host_magic(int);

int main(void) {
    printf("%d\n", host_magic(1));
    return 0;
}
