/* Temporary data directories for the WAF unit tests (linked into each of them). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *waf_test_tmpdir(void);
void waf_test_rmtree(char *dir);

char *waf_test_tmpdir(void)
{
    char *dir = strdup("/tmp/imsgw-waf-test-XXXXXX");
    if (!dir || !mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    return dir;
}

static int waf_test_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void waf_test_rmtree(char *dir)
{
    nftw(dir, waf_test_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(dir);
}
