/* admin_page: the operator page's files (gateway/admin/), built into the gateway by
 * cmake/embed.cmake and served at /admin/. */
#ifndef IMSGW_ADMIN_PAGE_H
#define IMSGW_ADMIN_PAGE_H

#include <stddef.h>

struct admin_asset {
    const char *path; /* URL path */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

extern const struct admin_asset admin_assets[]; /* ends with a NULL path */

/* The asset served at uri ("/admin" names the page too), or NULL. */
const struct admin_asset *admin_page_find(const char *uri);

#endif
