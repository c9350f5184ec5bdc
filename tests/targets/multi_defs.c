/* break on names defined more than once (gdb makes one breakpoint with a location for each):
 * a static helper() here, in multi_unit.c (a second unit, built in with it) and in
 * libmulti_lib.so; twice() here and in the library (the executable's is the one called); C
 * library functions with a copy in ld.so, older symbol versions and IFUNCs (memcpy, strlen,
 * strrchr), called through the PLT after main starts. */
#include <stdio.h>
#include <string.h>

static int helper(int x)
{
    return x * 2;
}

int twice(int x)
{
    return x + x;
}

int unit_call(int x);
int lib_call(int x);

int main(int argc, char **argv)
{
    char buf[16];
    int v = helper(argc) + unit_call(2) + lib_call(3) + twice(4);
    memcpy(buf, argc > 5 ? argv[1] : "hello", 6);
    v += (int)strlen(buf) + (strrchr(buf, 'l') != NULL);
    printf("%d\n", v);
    return 0;
}
