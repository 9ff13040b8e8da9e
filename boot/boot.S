/*
 * boot/boot.S — where the machine enters kheap.
 *
 * Owns: the multiboot v1 header (GRUB or QEMU's loader finds it in the first
 * 8 KiB), the first stack, and the kernel's own GDT (the loader's GDT lives in
 * memory we do not own). On entry (multiboot spec): EAX = 0x2BADB002,
 * EBX = physical address of the multiboot information, protected mode, paging
 * off, interrupts off. We load our GDT, reload the segment registers, and call
 * kernel_entry(magic, info) with the flat 4 GiB code/data segments.
 */

#define MULTIBOOT_MAGIC      0x1BADB002
#define MULTIBOOT_PAGE_ALIGN (1 << 0)   /* modules page aligned */
#define MULTIBOOT_MEMORY     (1 << 1)   /* we want mem_* and the mmap */
#define MULTIBOOT_FLAGS      (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY)

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10

    .section .multiboot, "a"
    .align 4
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

    .section .bss
    .align 16
    .global boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .skip 64 * 1024
boot_stack_top:

    /* In .data, not .rodata: the CPU writes descriptors' accessed bits, and .rodata is read-only. */
    .section .data
    .align 8
gdt:
    .quad 0x0000000000000000    /* null */
    .quad 0x00CF9A000000FFFF    /* 0x08: code, base 0, limit 4 GiB, ring 0, 32-bit */
    .quad 0x00CF92000000FFFF    /* 0x10: data, base 0, limit 4 GiB, ring 0 */
gdt_end:
gdt_descriptor:
    .word gdt_end - gdt - 1
    .long gdt

    .section .text
    .global _start
    .type _start, @function
_start:
    cli
    mov $boot_stack_top, %esp
    mov %eax, %esi              /* keep magic and info across the GDT load */
    mov %ebx, %edi

    lgdt gdt_descriptor
    ljmp $KERNEL_CS, $1f
1:  mov $KERNEL_DS, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss

    xor %ebp, %ebp              /* end of the frame-pointer chain for backtraces */
    push %edi                   /* info */
    push %esi                   /* magic */
    call kernel_entry
    /* kernel_entry does not return; if it does, stop here. */
2:  cli
    hlt
    jmp 2b
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits
