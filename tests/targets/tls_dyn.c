/* A library dlopen()ed by tls_target: its thread-locals live in dynamic TLS. */
__thread int dyn_tls = 11;
__thread char dyn_big[256];

int dyn_tls_bump(int by)
{
    dyn_tls += by;
    dyn_big[by] = (char)by;
    return dyn_tls;
}
