/* Software breakpoint target: sw_target MODE [N]. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

volatile long total;
volatile long watched;
int table[4] = {1, 2, 3, 4};

__attribute__((noinline)) int add(int a, int b)
{
    int sum = a + b;
    total += sum;
    return sum;
}

__attribute__((noinline)) int twice(int x)
{
    int y = add(x, x);

    return y;
}

static void *passer(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n; i++)
        add((int)i, 1);
    return NULL;
}

static void *writer(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n; i++)
        watched = i + 1;
    return NULL;
}

/* A debugger is attached (TracerPid in /proc/self/status is not 0). */
static int traced(void)
{
    char line[256];
    int pid = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "TracerPid: %d", &pid) == 1)
            break;
    if (f)
        fclose(f);
    return pid != 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "calls";
    long n = argc > 2 && strcmp(mode, "dlopen") ? atol(argv[2]) : 3;

    if (!strcmp(mode, "calls")) {            /* n calls of twice, each calling add */
        for (long i = 0; i < n; i++)
            twice((int)i);
        printf("total %ld\n", total);
        return 0;
    }
    if (!strcmp(mode, "fork")) {             /* the child calls add too; it must not die */
        pid_t pid = fork();
        if (pid == 0) {
            add(1, 2);
            _exit(total == 3 ? 0 : 7);
        }
        int status;
        waitpid(pid, &status, 0);
        add(3, 4);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 9;
    }
    if (!strcmp(mode, "threads")) {          /* 4 threads pass add n times; 2 write watched n times */
        pthread_t t[6];
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, passer, (void *)n);
        for (int i = 4; i < 6; i++)
            pthread_create(&t[i], NULL, writer, (void *)n);
        for (int i = 0; i < 6; i++)
            pthread_join(t[i], NULL);
        return 0;
    }
    if (!strcmp(mode, "forever")) {          /* prints its pid, calls add every 10 ms for n s once traced */
        printf("%d\n", (int)getpid());
        fflush(stdout);
        for (int ms = 0; !traced() && ms < 120000; ms++)  /* a loaded machine may be slow to attach */
            usleep(1000);
        for (long i = 0; i < n * 100; i++) {
            add(1, 1);
            usleep(10000);
        }
        return 0;
    }
    if (!strcmp(mode, "exec")) {             /* calls add, then runs itself again in "calls" mode */
        add(5, 5);
        execl("/proc/self/exe", argv[0], "calls", "2", (char *)NULL);
        return 3;
    }
    if (!strcmp(mode, "dlopen")) {           /* dlopens the library argv[2], calls its lib_bump twice */
        void *lib = dlopen(argv[2], RTLD_NOW);
        int (*bump)(int) = lib ? (int (*)(int))dlsym(lib, "lib_bump") : NULL;
        if (bump == NULL)
            return 4;
        bump(1);
        bump(2);
        return 0;
    }
    if (!strcmp(mode, "wait")) {             /* calls add, then waits for a newline on stdin */
        add(1, 1);
        getchar();
        add(2, 2);
        return total == 6 ? 0 : 5;
    }
    if (!strcmp(mode, "vfork")) {            /* vfork + exec of /bin/true, then add in the parent */
        pid_t pid = vfork();
        if (pid == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(8);
        }
        int status;
        waitpid(pid, &status, 0);
        add(1, 2);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 9;
    }
    if (!strcmp(mode, "oninput")) {          /* prints its pid, calls add after a line on stdin */
        printf("%d\n", (int)getpid());
        fflush(stdout);
        getchar();
        add(1, 1);
        return 0;
    }
    return 2;
}
