/* bencode: the decoder is recursive with an explicit depth bound and a node budget, so neither
 * the stack nor the node array can be exhausted by input; integers are checked for overflow and
 * the canonical form (no "-0", no leading zeros) since a peer that sends otherwise is broken. */
#include "bencode.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void benc_init(struct benc *b, char *buf, size_t len)
{
    b->buf = buf;
    b->len = len;
    b->used = 0;
    b->depth = 0;
    b->err = len == 0;
}

static void benc_put(struct benc *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (n >= b->len - b->used) { /* keep room for a NUL so the buffer can also be logged */
        b->err = 1;
        return;
    }
    memcpy(b->buf + b->used, s, n);
    b->used += n;
    b->buf[b->used] = '\0';
}

static void benc_open(struct benc *b, const char *c)
{
    if (++b->depth > BENC_MAX_DEPTH)
        b->err = 1;
    benc_put(b, c, 1);
}

void benc_dict(struct benc *b)
{
    benc_open(b, "d");
}

void benc_list(struct benc *b)
{
    benc_open(b, "l");
}

void benc_end(struct benc *b)
{
    if (b->depth-- <= 0)
        b->err = 1;
    benc_put(b, "e", 1);
}

void benc_strn(struct benc *b, const char *s, size_t n)
{
    char head[24];
    int h = snprintf(head, sizeof(head), "%zu:", n);
    benc_put(b, head, (size_t)h);
    benc_put(b, s, n);
}

void benc_str(struct benc *b, const char *s)
{
    benc_strn(b, s, strlen(s));
}

void benc_int(struct benc *b, int64_t v)
{
    char num[32];
    int h = snprintf(num, sizeof(num), "i%" PRId64 "e", v);
    benc_put(b, num, (size_t)h);
}

void benc_kv(struct benc *b, const char *key, const char *value)
{
    benc_str(b, key);
    benc_str(b, value);
}

long benc_finish(struct benc *b)
{
    return b->err || b->depth != 0 ? -1 : (long)b->used;
}

struct bdec_in {
    const char *p, *end;
};

static int bdec_node(struct bdoc *d, struct bdec_in *in, int depth);

static int bdec_new(struct bdoc *d, enum bnode_type t)
{
    if (d->count >= d->cap)
        return -1;
    struct bnode *n = &d->nodes[d->count];
    memset(n, 0, sizeof(*n));
    n->type = t;
    n->child = n->next = -1;
    return d->count++;
}

/* Digits up to the terminator; canonical, no overflow. */
static int bdec_number(struct bdec_in *in, char term, int allow_neg, int64_t *out)
{
    int neg = 0;
    if (allow_neg && in->p < in->end && *in->p == '-') {
        neg = 1;
        in->p++;
    }
    const char *start = in->p;
    uint64_t v = 0;
    while (in->p < in->end && *in->p >= '0' && *in->p <= '9') {
        uint64_t digit = (uint64_t)(*in->p - '0');
        if (v > (UINT64_C(9223372036854775807) - digit) / 10)
            return -1;
        v = v * 10 + digit;
        in->p++;
    }
    size_t ndig = (size_t)(in->p - start);
    if (ndig == 0 || in->p >= in->end || *in->p != term)
        return -1;
    if ((ndig > 1 && *start == '0') || (neg && v == 0))
        return -1;
    in->p++;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static int bdec_string(struct bdoc *d, struct bdec_in *in)
{
    int64_t n;
    if (bdec_number(in, ':', 0, &n) < 0 || n > in->end - in->p)
        return -1;
    int i = bdec_new(d, BNODE_STR);
    if (i < 0)
        return -1;
    d->nodes[i].str = in->p;
    d->nodes[i].len = (size_t)n;
    in->p += n;
    return i;
}

static int bdec_container(struct bdoc *d, struct bdec_in *in, int depth, enum bnode_type t)
{
    int i = bdec_new(d, t), prev = -1, items = 0;
    if (i < 0)
        return -1;
    in->p++;
    while (in->p < in->end && *in->p != 'e') {
        /* dictionary keys are byte strings */
        int c = t == BNODE_DICT && items % 2 == 0
                    ? (*in->p >= '0' && *in->p <= '9' ? bdec_string(d, in) : -1)
                    : bdec_node(d, in, depth + 1);
        if (c < 0)
            return -1;
        if (prev < 0)
            d->nodes[i].child = c;
        else
            d->nodes[prev].next = c;
        prev = c;
        items++;
    }
    if (in->p >= in->end || (t == BNODE_DICT && items % 2))
        return -1;
    in->p++;
    return i;
}

static int bdec_node(struct bdoc *d, struct bdec_in *in, int depth)
{
    if (depth > BENC_MAX_DEPTH || in->p >= in->end)
        return -1;
    switch (*in->p) {
    case 'i': {
        in->p++;
        int64_t v;
        int i = bdec_number(in, 'e', 1, &v) < 0 ? -1 : bdec_new(d, BNODE_INT);
        if (i >= 0)
            d->nodes[i].num = v;
        return i;
    }
    case 'l':
        return bdec_container(d, in, depth, BNODE_LIST);
    case 'd':
        return bdec_container(d, in, depth, BNODE_DICT);
    default:
        return *in->p >= '0' && *in->p <= '9' ? bdec_string(d, in) : -1;
    }
}

int bdec_parse(struct bdoc *d, const char *buf, size_t len)
{
    struct bdec_in in = {buf, buf + len};
    d->count = 0;
    if (!buf || bdec_node(d, &in, 1) != 0 || in.p != in.end) {
        d->count = 0;
        return -1;
    }
    return 0;
}

const struct bnode *bdec_child(const struct bdoc *d, const struct bnode *n)
{
    return n && n->child >= 0 ? &d->nodes[n->child] : NULL;
}

const struct bnode *bdec_next(const struct bdoc *d, const struct bnode *n)
{
    return n && n->next >= 0 ? &d->nodes[n->next] : NULL;
}

int bdec_is(const struct bnode *n, const char *s)
{
    return n && n->type == BNODE_STR && n->len == strlen(s) && memcmp(n->str, s, n->len) == 0;
}

const struct bnode *bdec_get(const struct bdoc *d, const struct bnode *dict, const char *key)
{
    if (!dict || dict->type != BNODE_DICT)
        return NULL;
    for (const struct bnode *k = bdec_child(d, dict); k; k = bdec_next(d, bdec_next(d, k)))
        if (bdec_is(k, key))
            return bdec_next(d, k);
    return NULL;
}

int bdec_copy(const struct bnode *n, char *out, size_t outlen)
{
    if (!n || n->type != BNODE_STR || n->len >= outlen || memchr(n->str, '\0', n->len))
        return -1;
    memcpy(out, n->str, n->len);
    out[n->len] = '\0';
    return 0;
}
