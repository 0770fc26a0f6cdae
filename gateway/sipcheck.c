/* sipcheck: strict where a gateway at the edge of the trust domain must be; every check is a
 * bounded scan of bytes already bounded by the WebSocket message size. */
#include "sipcheck.h"

#include <string.h>
#include <strings.h>

#include <sofia-sip/sip_header.h>

/* RFC 3261 §25.1 token characters (a method is a token). */
static int sipcheck_is_token(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("-.!%*_+`'~", ch));
}

/* Request-Line = Method SP Request-URI SP SIP-Version CRLF, with exactly one SP each time and
 * nothing after the version (RFC 4475 §3.1.2.8–10: LWS in the URI, several SPs, trailing SP).
 * Returns 0, 400 or 505 (a well-formed version other than 2.0, §3.1.2.16). */
static int sipcheck_request_line(const char *data, size_t len)
{
    const char *end = memchr(data, '\r', len);
    if (!end || (size_t)(end - data) + 1 >= len || end[1] != '\n')
        return 400;
    const char *p = data;
    while (p < end && sipcheck_is_token((unsigned char)*p))
        p++;
    if (p == data || p >= end || *p++ != ' ')
        return 400;
    const char *uri = p;
    while (p < end && (unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    if (p == uri || p >= end || *p++ != ' ')
        return 400;
    const char *version = p;
    size_t vlen = (size_t)(end - version);
    if (vlen < 7 || strncasecmp(version, "SIP/", 4) != 0)
        return 400;
    const char *q = version + 4;
    size_t digits = strspn(q, "0123456789");
    if (!digits || q[digits] != '.' || !strspn(q + digits + 1, "0123456789") ||
        q + digits + 1 + strspn(q + digits + 1, "0123456789") != end)
        return 400;
    return vlen == 7 && memcmp(q, "2.0", 3) == 0 ? 0 : 505;
}

/* 1 when the header value v[0..n) (folded lines included) has whitespace inside <>: an
 * addr-spec in angle brackets holds none (RFC 3261 §25.1: LAQUOT and RAQUOT take the optional
 * space outside; RFC 4475 §3.1.2.14). Quoted display names are skipped. */
static int sipcheck_angle_space(const char *v, size_t n)
{
    int quoted = 0, angle = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (quoted) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                quoted = 0;
        } else if (ch == '"' && !angle) {
            quoted = 1;
        } else if (ch == '<') {
            angle = 1;
        } else if (ch == '>') {
            angle = 0;
        } else if (angle && (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')) {
            return 1;
        }
    }
    return 0;
}

/* The address headers, long and compact names (sofia-sip keeps no raw text of parsed headers,
 * so the check reads the message as received). */
static int sipcheck_is_address_header(const char *name, size_t n)
{
    static const char *const names[] = {"to",      "t", "from",  "f",
                                        "contact", "m", "route", "record-route"};
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], name, n) == 0)
            return 1;
    return 0;
}

/* Walks the header lines of the raw message (continuation lines belong to their header). */
static int sipcheck_addresses_ok(const char *data, size_t len)
{
    const char *p = memchr(data, '\n', len), *end = data + len;
    if (!p)
        return 1;
    for (p++; p < end && *p != '\r' && *p != '\n';) {
        const char *line = p, *next = p;
        do { /* the end of this header: a line end not followed by SP or HTAB */
            const char *nl = memchr(next, '\n', (size_t)(end - next));
            next = nl ? nl + 1 : end;
        } while (next < end && (*next == ' ' || *next == '\t'));
        const char *colon = memchr(line, ':', (size_t)(next - line));
        if (colon && sipcheck_is_address_header(line, (size_t)(colon - line)) &&
            sipcheck_angle_space(colon + 1, (size_t)(next - colon - 1)))
            return 0;
        p = next;
    }
    return 1;
}

int sipcheck_request(const char *data, size_t len, sip_t const *sip, const char **phrase)
{
    int status = sipcheck_request_line(data, len);
    if (status == 505) {
        *phrase = "Version Not Supported";
        return 505;
    }
    if (status) {
        *phrase = "Bad Request (malformed Request-Line)";
        return 400;
    }
    /* Headers in a Request-URI are for building a request, never in one (RFC 3261 §19.1.5,
     * RFC 4475 §3.1.2.11). */
    if (sip->sip_request->rq_url->url_headers) {
        *phrase = "Bad Request (headers in the Request-URI)";
        return 400;
    }
    if (!sipcheck_addresses_ok(data, len)) {
        *phrase = "Bad Request (space inside <> in an address)";
        return 400;
    }
    return 0;
}
