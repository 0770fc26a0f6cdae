/* waf_store: the WAF's database, SQLite (<data-dir>/waf.sqlite, WAL, the default) or PostgreSQL
 * (shared by WAF replicas), through the waf_db seam: users and their IMPUs, the schema and its
 * migrations. Every statement is prepared with bound parameters. */
#ifndef IMSGW_WAF_STORE_H
#define IMSGW_WAF_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "waf_db.h"
#include "waf_kek.h"

#include "waf_user.h"

#define WAF_STORE_FILE "waf.sqlite"

enum waf_store_rc {
    WAF_STORE_OK = 0,
    WAF_STORE_ERROR = -1,        /* the database failed; err says why */
    WAF_STORE_EXISTS = -2,       /* a user with that name exists */
    WAF_STORE_NOT_FOUND = -3,    /* no user with that name */
    WAF_STORE_INVALID = -4,      /* the input failed validation; err says why */
    WAF_STORE_BUSY = -5,         /* another process holds the write lock */
    WAF_STORE_CANNOT_WRITE = -6, /* disk full, I/O error or read-only file */
};

struct waf_store;
/* Called once per user by waf_store_user_list(); a non-zero return stops the walk. */
typedef int (*waf_store_user_fn)(const struct waf_user *u, void *arg);

/* Opens (creating and migrating) <data_dir>/waf.sqlite; 0, or -1 with err. */
int waf_store_open(struct waf_store **out, const char *data_dir, char *err, size_t errlen);
/* Opens database ("" = <data_dir>/waf.sqlite, or a postgresql:// URL) and migrates it, with the
 * key-encryption key from kek_file (NULL or "": the environment, or none). */
int waf_store_open_db(struct waf_store **out, const char *database, const char *data_dir,
                      const char *kek_file, char *err, size_t errlen);
/* The key-encryption key for the signing keys (k->set 0 when none is configured). */
const struct waf_kek *waf_store_kek(struct waf_store *st);
/* Closes the database and frees st (NULL is fine). */
void waf_store_close(struct waf_store *st);
/* The schema version this build migrates to. */
int waf_store_schema_version(void);
/* Adds u (its id and created_at are assigned) with an argon2id hash, all or nothing. */
int waf_store_user_add(struct waf_store *st, struct waf_user *u, const char *password_hash,
                       char *err, size_t errlen);
/* Loads the user called name with its IMPUs in order. */
int waf_store_user_get(struct waf_store *st, const char *name, struct waf_user *out, char *err,
                       size_t errlen);
/* Copies the user's encoded password hash into out (for sign-in). */
int waf_store_user_password(struct waf_store *st, const char *name, char *out, size_t outlen,
                            char *err, size_t errlen);
/* Calls fn for every user, ordered by name. */
int waf_store_user_list(struct waf_store *st, waf_store_user_fn fn, void *arg, char *err,
                        size_t errlen);
/* Deletes the user called name and its IMPUs (and, by cascade, everything issued to it). */
int waf_store_user_del(struct waf_store *st, const char *name, char *err, size_t errlen);
/* Loads the user with that id; 0, WAF_STORE_NOT_FOUND or WAF_STORE_ERROR. */
int waf_store_user_by_id(struct waf_store *st, int64_t id, struct waf_user *out);
/* Replaces the user's password hash and revokes every token family, access token and pending
 * code of the user, in one transaction. */
int waf_store_user_set_password(struct waf_store *st, const char *name, const char *password_hash,
                                char *err, size_t errlen);
/* The connection, for the OAuth modules' own prepared statements. */
struct waf_db *waf_store_db(struct waf_store *st);
/* An exclusive write transaction across every process on the database (waf_db_begin); 0 or -1. */
int waf_store_begin(struct waf_store *st);
/* COMMIT (rolls back when the commit fails); 0 or -1. */
int waf_store_commit(struct waf_store *st);
/* ROLLBACK of the open transaction. */
void waf_store_rollback(struct waf_store *st);
/* Longest wait for another process's write lock, ms (default 2000, the daemon waits less). */
void waf_store_set_busy_wait(struct waf_store *st, int ms);
/* Why the last statement failed, when the store itself is unavailable rather than the request
 * wrong: WAF_STORE_BUSY (locked by another process), WAF_STORE_CANNOT_WRITE (disk full, I/O
 * error, read-only), else 0. */
int waf_store_unavailable(struct waf_store *st);
/* Deletes expired codes, tokens, families and retired keys past their overlap. */
void waf_store_gc(struct waf_store *st, int64_t now);

#endif
