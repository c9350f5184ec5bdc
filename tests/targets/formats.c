/* print/F, x/F, output, printf, echo and call: globals of each kind for the format tests. */
#include <stdio.h>
char msg[] = "hello";
const char *ptr = "world";
int arr[6] = {1, 2, 3, 4, 5, 6};
int val = 65;
long neg = -5;
double dd = 2.5;
unsigned char ub = 200;
struct S { int a; char c; } sv = { 7, 'x' };
struct S *sp = &sv;
void vf(void) { val++; }
int fn(int x) { return x + 1; }
int main(void) { vf(); printf("%d\n", fn(val)); return 0; }
