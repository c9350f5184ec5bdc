/* The UI tests' counter: ui_counter [ROUNDS [EXIT_CODE]].
 * bump() changes counter ROUNDS times; same() writes it without changing it. */
#include <stdio.h>
#include <stdlib.h>

long counter;
struct config { int flags; int level; char name[8]; } config = { 1, 2, "demo" };
int table[4] = { 10, 20, 30, 40 };

__attribute__((noinline)) void bump(void) { counter++; }
__attribute__((noinline)) void same(void) { counter = counter * 1; }

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    for (int i = 0; i < rounds; i++) {
        bump();
        if (i == 1)
            same();
    }
    config.flags |= 4;
    table[2] = (int)counter;
    printf("counter = %ld\n", counter);
    return argc > 2 ? atoi(argv[2]) : 0;
}
