/* Thread-locals: each of three threads writes its own instance of the executable's
 * tcount, of libtls_lib.so's lib_tls and of errno, then stops in at_checkpoint();
 * the main thread dlopen()s argv[1] (if given) and writes its thread-locals too.
 * Threads take turns (a mutex), so the order of writes is the same under any debugger. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

__thread long tcount;
_Thread_local int tarr[4] = {1, 2, 3, 4};
static __thread char tname[8] = "main";
extern __thread int lib_tls;
int lib_tls_bump(int by);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
int (*dyn_bump)(int);
long checkpoint_id;  /* the id of the thread in at_checkpoint */

void at_checkpoint(long id)
{
    checkpoint_id = id;
}

static void *worker(void *arg)
{
    long id = (long)arg;
    pthread_mutex_lock(&lock);  /* one thread at a time: the order of hits is the same for every debugger */
    for (int i = 0; i < 3; i++)
        tcount += id;
    tarr[id % 4] = (int)(id * 10);
    tname[0] = (char)('a' + id);
    tname[1] = 0;
    lib_tls_bump((int)id);
    if (dyn_bump)
        dyn_bump((int)id + 1);
    errno = (int)(100 + id);
    at_checkpoint(id);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t threads[3];
    if (argc > 1) {
        void *handle = dlopen(argv[1], RTLD_NOW);
        if (handle == NULL) {
            fprintf(stderr, "%s\n", dlerror());
            return 1;
        }
        dyn_bump = (int (*)(int))dlsym(handle, "dyn_tls_bump");
    }
    tcount = 5;
    errno = 42;
    lib_tls_bump(0);
    if (dyn_bump)
        dyn_bump(0);
    at_checkpoint(0);
    pthread_mutex_lock(&lock);  /* every worker exists before the first ends: none reuses another's TLS */
    for (long i = 0; i < 3; i++)
        pthread_create(&threads[i], NULL, worker, (void *)(i + 1));
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    tcount += 2;
    errno = 43;
    at_checkpoint(9);
    return (int)tcount;
}
