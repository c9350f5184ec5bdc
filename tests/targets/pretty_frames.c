/* Structs as arguments, locals, returned values and displays, for set print pretty on in
   info args, info locals, finish and display (compared with gdb). */
struct inner { int x; int y; };
struct outer { int id; struct inner in; char name[8]; };
struct outer global_o = { 9, { 8, 7 }, "glob" };

__attribute__((noinline)) struct outer build(struct outer src, int id)
{
    struct outer o = src;
    o.id = id;
    return o;
}

__attribute__((noinline)) struct inner small(int x)
{
    struct inner s = { x, x + 1 };
    return s;
}

int main(void)
{
    struct outer a = { 1, { 2, 3 }, "abc" };
    struct outer b = build(a, 7);
    struct inner c = small(4);
    return b.id + c.x - 11;
}
