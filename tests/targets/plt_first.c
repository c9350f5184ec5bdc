/* Calls into the C library through the PLT, each function twice: the first call of each goes
   through the dynamic linker's lazy binding (strlen also through its IFUNC selector). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *s = argc > 5 ? argv[0] : "hello";
    size_t a = strlen(s);
    size_t b = strlen(s + 1);
    puts(s);
    puts(s + 1);
    return (int)(a - b - 1);
}
