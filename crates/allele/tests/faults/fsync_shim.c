/* LD_PRELOAD shim for fault tests: fsync/fdatasync fail with EIO or take
 * longer, as the file named by ALLELE_FAULT_FILE says ("fail", "slow MS"),
 * re-read on every call so a test can arm and disarm it while the server
 * runs. With no such file every call goes straight to libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fault(void) {
    const char *path = getenv("ALLELE_FAULT_FILE");
    if (!path) return 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char mode[32] = {0};
    long ms = 0;
    int n = fscanf(f, "%31s %ld", mode, &ms);
    fclose(f);
    if (n >= 1 && strcmp(mode, "fail") == 0) return -1;
    if (n == 2 && strcmp(mode, "slow") == 0 && ms > 0) usleep((useconds_t)ms * 1000);
    return 0;
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (fault() < 0) { errno = EIO; return -1; }
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (fault() < 0) { errno = EIO; return -1; }
    return real(fd);
}
