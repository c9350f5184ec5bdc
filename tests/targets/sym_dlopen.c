/* dlopen()s the shared library named by argv[1] once a line arrives on stdin,
 * so a test can see a library appear between two refreshes. Exits 0 at EOF. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char line[64];

    if (argc < 2)
        return 0;
    printf("ready\n");
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL)
        return 0;
    void *handle = dlopen(argv[1], RTLD_NOW);
    printf("%s\n", handle != NULL ? "loaded" : dlerror());
    fflush(stdout);
    while (fgets(line, sizeof line, stdin) != NULL)
        ;
    return 0;
}
