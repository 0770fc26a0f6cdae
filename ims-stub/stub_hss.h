/* stub_hss: the stub's HSS, a read-only table of private identities (IMPI) and the public
 * identities (IMPU) each may register, loaded once at startup. */
#ifndef IMSGW_STUB_HSS_H
#define IMSGW_STUB_HSS_H

#include <stddef.h>

#define STUB_HSS_MAX_ENTRIES 100000
#define STUB_HSS_MAX_IMPU 64
#define STUB_HSS_MAX_LEN 256

struct stub_hss_entry {
    char *impi;
    char *password; /* Digest password of a native client, NULL when the user has none */
    char **impu;    /* as configured, first = default IMPU */
    char **aor;     /* canonical form of each impu (stub_aor), for comparisons */
    size_t n_impu;
};

struct stub_hss {
    struct stub_hss_entry *entries;
    size_t n;
    size_t *index;     /* open addressing on the IMPI: entry number + 1, 0 = empty slot */
    size_t index_mask; /* slots - 1; slots is a power of two, at least twice the entries */
};

/* Loads path (entries {"impi":…, "impu":[…], "password":…} with password optional), or the
 * demo table (alice@ims.test, bob@ims.test) when path is NULL or "".
 * On error: -1, h left empty, err names the file and the position or entry. */
int stub_hss_load(struct stub_hss *h, const char *path, char *err, size_t errlen);
/* The entry of impi, or NULL. */
const struct stub_hss_entry *stub_hss_find(const struct stub_hss *h, const char *impi);
/* Index of the canonical AOR aor among e's IMPUs, or -1 when not associated. */
int stub_hss_impu_index(const struct stub_hss_entry *e, const char *aor);
/* Frees the table. */
void stub_hss_free(struct stub_hss *h);

#endif
