/* Nested structs, unions and arrays of structs for set print pretty (compared with gdb). */
struct pair { int a; int b; };
struct inner { char name[8]; struct pair p; };
struct outer { int id; struct inner in; struct pair arr[2]; int nums[3]; union { int i; float f; } u; struct pair *ptr; struct { int x; } anon; };
struct empty {};
struct outer o = {7, {"abc", {1, 2}}, {{3, 4}, {5, 6}}, {9, 8, 7}, {5}, 0, {11}};
struct pair pairs[3] = {{1,2},{3,4},{5,6}};
struct inner inners[2] = {{"x", {1, 2}}, {"y", {3, 4}}};
int matrix[2][3] = {{1,2,3},{4,5,6}};
struct pair same[12];
int main(void) { return o.id - 7; }
