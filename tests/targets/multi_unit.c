/* The second unit of multi_defs: its own static helper(). */
static int helper(int x)
{
    return x * 3;
}

int unit_call(int x)
{
    return helper(x) + 1;
}
