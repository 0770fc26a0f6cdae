/* bencode: the encoding of the rtpengine ng control protocol (dictionaries, lists, byte strings,
 * integers). The encoder writes into a caller's bounded buffer; the decoder parses hostile input
 * into a bounded array of nodes that point into the input (no copies, no allocation). */
#ifndef IMSGW_BENCODE_H
#define IMSGW_BENCODE_H

#include <stddef.h>
#include <stdint.h>

#define BENC_MAX_DEPTH 32

struct benc {
    char *buf;
    size_t len, used;
    int depth;
    int err; /* set once the buffer overflowed or nesting was unbalanced; output unusable */
};

/* Starts encoding into buf[len]. */
void benc_init(struct benc *b, char *buf, size_t len);
void benc_dict(struct benc *b); /* opens a dictionary (keys must be added in sorted order by
                                   the caller only if the peer cares; rtpengine does not) */
void benc_list(struct benc *b);
void benc_end(struct benc *b); /* closes the innermost dictionary or list */
void benc_str(struct benc *b, const char *s);
void benc_strn(struct benc *b, const char *s, size_t n);
void benc_int(struct benc *b, int64_t v);
/* Dictionary shorthand: key then string value. */
void benc_kv(struct benc *b, const char *key, const char *value);
/* Length of a complete encoding, or -1 (overflow, unbalanced). */
long benc_finish(struct benc *b);

enum bnode_type { BNODE_INT, BNODE_STR, BNODE_LIST, BNODE_DICT };

struct bnode {
    enum bnode_type type;
    const char *str; /* BNODE_STR: into the input, not NUL-terminated */
    size_t len;
    int64_t num;
    int child; /* first child's index (lists: items; dicts: key, value, key, value…), -1 */
    int next;  /* next sibling's index, -1 */
};

struct bdoc {
    struct bnode *nodes;
    int cap, count;
};

/* Parses exactly one value filling all of buf[len] into d->nodes[0..cap); node 0 is the root.
 * Returns 0, or -1 (malformed, trailing bytes, too deep, too many nodes, integer overflow). */
int bdec_parse(struct bdoc *d, const char *buf, size_t len);
/* The value under key in a dictionary node, or NULL. */
const struct bnode *bdec_get(const struct bdoc *d, const struct bnode *dict, const char *key);
/* 1 when n is a byte string equal to s. */
int bdec_is(const struct bnode *n, const char *s);
/* Copies a byte string into out[outlen] NUL-terminated; -1 when n is not a string, holds a NUL
 * or does not fit. */
int bdec_copy(const struct bnode *n, char *out, size_t outlen);
/* The first child / next sibling, or NULL. */
const struct bnode *bdec_child(const struct bdoc *d, const struct bnode *n);
const struct bnode *bdec_next(const struct bdoc *d, const struct bnode *n);

#endif
