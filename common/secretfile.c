/* secretfile: fstat on the opened descriptor, so the file checked is the file read. */
#include "secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int secretfile_check_stat(const char *what, const char *path, const struct stat *st,
                                 char *err, size_t errlen)
{
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "%s %s: not a regular file", what, path);
        return -1;
    }
    if (st->st_uid != geteuid()) {
        snprintf(err, errlen, "%s %s: owned by uid %u, not by this user (uid %u); chown it", what,
                 path, (unsigned)st->st_uid, (unsigned)geteuid());
        return -1;
    }
    if (st->st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen,
                 "%s %s: readable or writable by group or others (mode %04o); run chmod 600 on it",
                 what, path, (unsigned)(st->st_mode & 07777));
        return -1;
    }
    return 0;
}

int secretfile_open(const char *what, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        close(fd);
        return -1;
    }
    if (secretfile_check_stat(what, path, &st, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    /* O_NONBLOCK only kept a FIFO from blocking the open; a regular file reads the same. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

int secretfile_check_path(const char *what, const char *path, int missing_ok, char *err,
                          size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT && missing_ok)
            return 0;
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    return secretfile_check_stat(what, path, &st, err, errlen);
}
