/* reg_quota: counted by connection id rather than on the connection, so a REGISTER whose flow
 * closed while it waited still gives its place back; an id leaves the table at zero. */
#include "reg_quota.h"

#include <glib.h>

static GHashTable *reg_quota_table; /* conn id (gint64 key) → count */

int reg_quota_take(uint64_t conn_id)
{
    if (!reg_quota_table)
        reg_quota_table = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    gint64 key = (gint64)conn_id;
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(reg_quota_table, &key));
    if (n >= REG_QUOTA_PER_FLOW)
        return 0;
    if (n == 0)
        g_hash_table_insert(reg_quota_table, g_memdup2(&key, sizeof(key)), GUINT_TO_POINTER(1));
    else
        g_hash_table_replace(reg_quota_table, g_memdup2(&key, sizeof(key)),
                             GUINT_TO_POINTER(n + 1));
    return 1;
}

void reg_quota_give(uint64_t conn_id)
{
    gint64 key = (gint64)conn_id;
    if (!reg_quota_table)
        return;
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(reg_quota_table, &key));
    if (n <= 1)
        g_hash_table_remove(reg_quota_table, &key);
    else
        g_hash_table_replace(reg_quota_table, g_memdup2(&key, sizeof(key)),
                             GUINT_TO_POINTER(n - 1));
}
