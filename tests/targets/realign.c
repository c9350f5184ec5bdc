/* Functions that realign the stack before setting up their frame (gdb's
 * amd64_analyze_stack_align): gcc's own (a variable-length array beside an over-aligned
 * local: leaq 8(%rsp),%r10; andq $-64,%rsp; pushq -8(%r10)), and the other forms in
 * assembler: a callee-saved register (pushq %rbx; leaq 16(%rsp),%rbx), an andq with a
 * 32-bit immediate, an extended register, a mismatched register (not a realignment). */
#include <stdio.h>
#include <string.h>

int aligned_work(int n)
{
    char vla[n + 1];
    double __attribute__((aligned(64))) buf[8];
    memset(vla, 1, n + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = n * i + vla[i % (n + 1)];
    return (int)buf[n & 7];
}

#define BODY "push %rbp\n mov %rsp,%rbp\n mov %edi,%eax\n add $1,%eax\n leave\n"
asm(".text\n"
    ".globl callee_saved\n .type callee_saved,@function\n callee_saved:\n"
    " push %rbx\n lea 0x10(%rsp),%rbx\n and $-32,%rsp\n pushq -0x8(%rbx)\n" BODY
    " lea -0x10(%rbx),%rsp\n pop %rbx\n ret\n .size callee_saved,.-callee_saved\n"
    ".globl wide_mask\n .type wide_mask,@function\n wide_mask:\n"
    " lea 0x8(%rsp),%r11\n and $-256,%rsp\n pushq -0x8(%r11)\n" BODY
    " lea -0x8(%r11),%rsp\n ret\n .size wide_mask,.-wide_mask\n"
    ".globl extended_saved\n .type extended_saved,@function\n extended_saved:\n"
    " push %r13\n lea 0x10(%rsp),%r13\n and $-16,%rsp\n pushq -0x8(%r13)\n" BODY
    " lea -0x10(%r13),%rsp\n pop %r13\n ret\n .size extended_saved,.-extended_saved\n"
    ".globl mismatched\n .type mismatched,@function\n mismatched:\n"
    " lea 0x8(%rsp),%r10\n and $-16,%rsp\n pushq -0x8(%r11)\n" BODY
    " lea -0x8(%r10),%rsp\n ret\n .size mismatched,.-mismatched\n");

int callee_saved(int), wide_mask(int), extended_saved(int), mismatched(int);

int main(int argc, char **argv)
{
    int total = aligned_work(argc + 2);
    total += callee_saved(1) + wide_mask(2) + extended_saved(3);
    printf("%d\n", total);
    return argc > 5 ? mismatched(0) : 0;
}
