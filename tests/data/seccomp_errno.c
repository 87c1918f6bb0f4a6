/* Reports what the seccomp filter makes of a few raw syscalls, one line
 * each: the call's name and its result (-errno on failure). Built static by
 * tests/runtime_runc_edges.rs and run under runc and cradle with one profile.
 * Raw syscall(2), so that libc cannot rewrite an errno such as ENOSYS. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *call, long result)
{
	printf("%s %ld\n", call, result < 0 ? (long)-errno : result);
}

int main(void)
{
	report("nr-1000", syscall(1000, 0, 0, 0));
	report("acct", syscall(SYS_acct, NULL));
	report("process_vm_writev(1337)", syscall(SYS_process_vm_writev, 1337, NULL, 0, NULL, 0, 0));
	report("process_vm_writev(2020)", syscall(SYS_process_vm_writev, 2020, NULL, 0, NULL, 0, 0));
	report("process_vm_writev(7)", syscall(SYS_process_vm_writev, 7, NULL, 0, NULL, 0, 0));
	report("getppid", syscall(SYS_getppid));
	return 0;
}
