/* stub_hss: a JSON file stands in for the Cx interface, which is enough to test that the
 * registrar identifies a user by the pair (To IMPU, Authorization username IMPI). */
#include "stub_hss.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <sofia-sip/su_alloc.h>

#include "stub_addr.h"

static void stub_hss_entry_free(struct stub_hss_entry *e)
{
    for (size_t i = 0; i < e->n_impu; i++) {
        free(e->impu[i]);
        free(e->aor[i]);
    }
    free(e->impu);
    free(e->aor);
    free(e->impi);
    if (e->password) {
        OPENSSL_cleanse(e->password, strlen(e->password));
        free(e->password);
    }
}

void stub_hss_free(struct stub_hss *h)
{
    for (size_t i = 0; i < h->n; i++)
        stub_hss_entry_free(&h->entries[i]);
    free(h->entries);
    free(h->index);
    h->entries = NULL;
    h->index = NULL;
    h->n = 0;
    h->index_mask = 0;
}

/* FNV-1a: IMPIs come from the operator's file or from a trusted peer's REGISTER. */
static size_t stub_hss_hash(const char *impi)
{
    uint32_t x = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)impi; *c; c++)
        x = (x ^ *c) * 16777619u;
    return x;
}

/* The index is sized once for capacity entries (a lookup per REGISTER must not walk the table:
 * the bench's HSS has 60,000 users). */
static int stub_hss_index_init(struct stub_hss *h, size_t capacity)
{
    size_t slots = 16;
    while (slots < 2 * capacity)
        slots *= 2;
    h->index = calloc(slots, sizeof(*h->index));
    h->index_mask = slots - 1;
    return h->index ? 0 : -1;
}

/* The slot of impi: its entry's, or the empty one where it would go. */
static size_t *stub_hss_slot(const struct stub_hss *h, const char *impi)
{
    size_t i = stub_hss_hash(impi) & h->index_mask;
    while (h->index[i] && strcmp(h->entries[h->index[i] - 1].impi, impi) != 0)
        i = (i + 1) & h->index_mask;
    return &h->index[i];
}

/* Adds one entry; the caller has checked the shapes. -1 with err when an IMPU is not a URI. */
static int stub_hss_add(struct stub_hss *h, const char *impi, const char *password,
                        const char *const *impu, size_t n, const char *where, size_t index,
                        char *err, size_t errlen)
{
    if (stub_hss_find(h, impi)) {
        snprintf(err, errlen, "%s: entry %zu: impi \"%s\" is listed twice", where, index, impi);
        return -1;
    }
    struct stub_hss_entry *e = &h->entries[h->n];
    su_home_t home[1] = {SU_HOME_INIT(home)};
    int rc = -1;
    memset(e, 0, sizeof(*e));
    e->impi = strdup(impi);
    e->password = password ? strdup(password) : NULL;
    e->impu = calloc(n, sizeof(char *));
    e->aor = calloc(n, sizeof(char *));
    if (!e->impi || !e->impu || !e->aor || (password && !e->password))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        char *aor = stub_aor_text(home, impu[i]);
        if (!aor) {
            snprintf(err, errlen, "%s: entry %zu: impu \"%s\" is not a sip:, sips: or tel: URI",
                     where, index, impu[i]);
            goto out;
        }
        e->impu[i] = strdup(impu[i]);
        e->aor[i] = strdup(aor);
        e->n_impu++;
        if (!e->impu[i] || !e->aor[i])
            goto nomem;
    }
    *stub_hss_slot(h, e->impi) = ++h->n;
    rc = 0;
    goto out;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
out:
    if (rc < 0)
        stub_hss_entry_free(e);
    su_home_deinit(home);
    return rc;
}

static int stub_hss_load_demo(struct stub_hss *h, char *err, size_t errlen)
{
    static const char *const alice[] = {"sip:alice@ims.test"};
    static const char *const bob[] = {"sip:bob@ims.test"};
    h->entries = calloc(2, sizeof(*h->entries));
    if (!h->entries || stub_hss_index_init(h, 2) < 0) {
        snprintf(err, errlen, "demo HSS: out of memory");
        stub_hss_free(h);
        return -1;
    }
    if (stub_hss_add(h, "alice@ims.test", NULL, alice, 1, "demo HSS", 1, err, errlen) < 0 ||
        stub_hss_add(h, "bob@ims.test", NULL, bob, 1, "demo HSS", 2, err, errlen) < 0) {
        stub_hss_free(h);
        return -1;
    }
    return 0;
}

/* Checks one array element's shape and adds it. index is 1-based for people. */
static int stub_hss_load_entry(struct stub_hss *h, json_t *item, const char *path, size_t index,
                               char *err, size_t errlen)
{
    if (!json_is_object(item)) {
        snprintf(err, errlen, "%s: entry %zu: must be an object {\"impi\":…,\"impu\":[…]}", path,
                 index);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(item, key, v)
    {
        if (strcmp(key, "impi") && strcmp(key, "impu") && strcmp(key, "password")) {
            snprintf(err, errlen, "%s: entry %zu: unknown key \"%s\"", path, index, key);
            return -1;
        }
    }
    json_t *impi = json_object_get(item, "impi");
    json_t *impu = json_object_get(item, "impu");
    json_t *password = json_object_get(item, "password");
    if (password && (!json_is_string(password) || json_string_length(password) == 0 ||
                     json_string_length(password) > STUB_HSS_MAX_LEN ||
                     strlen(json_string_value(password)) != json_string_length(password))) {
        snprintf(err, errlen, "%s: entry %zu: \"password\" must be a non-empty string", path,
                 index);
        return -1;
    }
    if (!json_is_string(impi) || json_string_length(impi) == 0 ||
        json_string_length(impi) > STUB_HSS_MAX_LEN) {
        snprintf(err, errlen, "%s: entry %zu: \"impi\" must be a non-empty string", path, index);
        return -1;
    }
    size_t n = json_array_size(impu);
    if (!json_is_array(impu) || n == 0 || n > STUB_HSS_MAX_IMPU) {
        snprintf(err, errlen, "%s: entry %zu: \"impu\" must be an array of 1 to %d URIs", path,
                 index, STUB_HSS_MAX_IMPU);
        return -1;
    }
    const char *uris[STUB_HSS_MAX_IMPU];
    for (size_t i = 0; i < n; i++) {
        json_t *u = json_array_get(impu, i);
        if (!json_is_string(u) || json_string_length(u) > STUB_HSS_MAX_LEN) {
            snprintf(err, errlen, "%s: entry %zu: \"impu\"[%zu] must be a URI string", path, index,
                     i);
            return -1;
        }
        uris[i] = json_string_value(u);
    }
    return stub_hss_add(h, json_string_value(impi), password ? json_string_value(password) : NULL,
                        uris, n, path, index, err, errlen);
}

int stub_hss_load(struct stub_hss *h, const char *path, char *err, size_t errlen)
{
    memset(h, 0, sizeof(*h));
    if (!path || !*path)
        return stub_hss_load_demo(h, err, errlen);

    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return -1;
    }
    size_t n = json_array_size(root);
    int rc = -1;
    if (!json_is_array(root) || n == 0) {
        snprintf(err, errlen, "%s: the top level must be a non-empty JSON array of entries", path);
        goto out;
    }
    if (n > STUB_HSS_MAX_ENTRIES) {
        snprintf(err, errlen, "%s: %zu entries, at most %d allowed", path, n, STUB_HSS_MAX_ENTRIES);
        goto out;
    }
    h->entries = calloc(n, sizeof(*h->entries));
    if (!h->entries || stub_hss_index_init(h, n) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (stub_hss_load_entry(h, json_array_get(root, i), path, i + 1, err, errlen) < 0)
            goto out;
    rc = 0;
out:
    if (rc < 0)
        stub_hss_free(h);
    json_decref(root);
    return rc;
}

const struct stub_hss_entry *stub_hss_find(const struct stub_hss *h, const char *impi)
{
    if (!impi || !h->index)
        return NULL;
    size_t k = *stub_hss_slot(h, impi);
    return k ? &h->entries[k - 1] : NULL;
}

int stub_hss_impu_index(const struct stub_hss_entry *e, const char *aor)
{
    for (size_t i = 0; e && aor && i < e->n_impu; i++)
        if (strcmp(e->aor[i], aor) == 0)
            return (int)i;
    return -1;
}
