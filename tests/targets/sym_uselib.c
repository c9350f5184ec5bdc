/* Links libsym_lib.so. Touches lib_counter only through the library's functions,
 * so no copy relocation moves it into the executable. With argument "wait" it
 * prints "ready" and blocks until stdin closes. */
#include <stdio.h>
#include <string.h>

int lib_bump(int by);
void lib_report(void);

int shared_name = 100;

int main(int argc, char **argv)
{
    lib_report();
    printf("addr shared_name=%p\n", (void *)&shared_name);
    printf("lib_counter=%d\n", lib_bump(4));
    if (argc > 1 && strcmp(argv[1], "wait") == 0) {
        printf("ready\n");
        fflush(stdout);
        while (getchar() != EOF)
            ;
    }
    return 0;
}
