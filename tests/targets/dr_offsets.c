/* Prints what the C compiler says about struct user (sys/user.h), for comparison with hwdbg._ptrace. */
#include <stddef.h>
#include <stdio.h>
#include <sys/user.h>

int main(void)
{
    printf("u_debugreg %zu\n", offsetof(struct user, u_debugreg));
    printf("debugreg_size %zu\n", sizeof(((struct user *)0)->u_debugreg[0]));
    printf("num_debugregs %zu\n", sizeof(((struct user *)0)->u_debugreg) / sizeof(((struct user *)0)->u_debugreg[0]));
    printf("eflags %zu\n", offsetof(struct user, regs.eflags));
    printf("sizeof_user %zu\n", sizeof(struct user));
    return 0;
}
