/*
 * kernel/isr.S — entry stubs for the 32 CPU exceptions.
 *
 * Each stub pushes a dummy error code where the CPU pushes none, then the
 * vector number, saves the general registers and calls
 * exception_handler(ExceptionFrame*) (kernel/idt.cpp). The handler never returns
 * for a fault we cannot fix; if it does, we restore and iret.
 */
    .section .text

.macro EXC_NOERR n
    .global isr_stub_\n
isr_stub_\n:
    push $0
    push $\n
    jmp isr_common
.endm

.macro EXC_ERR n
    .global isr_stub_\n
isr_stub_\n:
    push $\n
    jmp isr_common
.endm

EXC_NOERR 0
EXC_NOERR 1
EXC_NOERR 2
EXC_NOERR 3
EXC_NOERR 4
EXC_NOERR 5
EXC_NOERR 6
EXC_NOERR 7
EXC_ERR   8
EXC_NOERR 9
EXC_ERR   10
EXC_ERR   11
EXC_ERR   12
EXC_ERR   13
EXC_ERR   14
EXC_NOERR 15
EXC_NOERR 16
EXC_ERR   17
EXC_NOERR 18
EXC_NOERR 19
EXC_NOERR 20
EXC_ERR   21
EXC_NOERR 22
EXC_NOERR 23
EXC_NOERR 24
EXC_NOERR 25
EXC_NOERR 26
EXC_NOERR 27
EXC_NOERR 28
EXC_ERR   29
EXC_ERR   30
EXC_NOERR 31

isr_common:
    pusha
    push %esp               /* ExceptionFrame* */
    cld
    call exception_handler
    add $4, %esp
    popa
    add $8, %esp            /* vector and error code */
    iret

    .section .rodata
    .align 4
    .global isr_stub_table
isr_stub_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long isr_stub_\n
    .endr

    .section .note.GNU-stack, "", @progbits
