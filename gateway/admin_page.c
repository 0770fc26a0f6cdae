#include "admin_page.h"

#include <string.h>

const struct admin_asset *admin_page_find(const char *uri)
{
    if (strcmp(uri, "/admin") == 0)
        uri = "/admin/";
    for (const struct admin_asset *a = admin_assets; a->path; a++)
        if (strcmp(a->path, uri) == 0)
            return a;
    return NULL;
}
