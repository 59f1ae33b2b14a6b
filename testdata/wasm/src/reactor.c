/* reactor: a library-style module (built with -mexec-model=reactor), so it
 * exports _initialize and `add` but no _start: not runnable as a pod. */
__attribute__((export_name("add"))) int add(int a, int b) { return a + b; }
