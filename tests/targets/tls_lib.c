/* A shared library with thread-locals, for the TLS tests (linked in, or dlopen'd). */
__thread int lib_tls = 7;
__thread long lib_tls_arr[3];

int lib_tls_bump(int by)
{
    lib_tls += by;
    lib_tls_arr[by % 3] = by * 100;
    return lib_tls;
}
