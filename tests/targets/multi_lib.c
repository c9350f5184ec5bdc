/* libmulti_lib.so for multi_defs: a third static helper(), and a twice() the executable's
 * own interposes. */
static int helper(int x)
{
    return x * 5;
}

int twice(int x)
{
    return 2 * x;
}

int lib_call(int x)
{
    return helper(x) + twice(x);
}
