/* WAF HTTP server in process on a kernel-chosen port, driven over a real TCP socket: routes,
 * status codes, headers, and a token verified with the JWKS fetched from the server. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "jwk.h"
#include "jws.h"
#include "log.h"
#include "waf_http.h"
#include "waf_token.h"

char *waf_test_tmpdir(void);
void waf_test_rmtree(char *dir);

struct fixture {
    char *dir;
    struct waf_settings s;
    struct waf_app app;
    struct waf_http *h;
    int port;
};

struct reply {
    int status;
    char head[2048];
    char body[4096];
    int closed;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256];
    log_init("test", 0, LOGL_WARN);
    umask(077); /* as the daemon: the store threads reopen the database and check its mode */
    f->dir = waf_test_tmpdir();
    waf_settings_defaults(&f->s);
    f->s.port = 0;
    cfg_set_str(&f->s.issuer, "https://waf.example.net");
    cfg_set_str(&f->s.data_dir, f->dir);
    f->s.argon2_t_cost = 1;
    f->s.argon2_m_cost_kib = 1024;
    if (waf_app_open(&f->app, &f->s, err, sizeof(err)) < 0 ||
        !(f->h = waf_http_create(&f->app, err, sizeof(err)))) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    f->port = waf_http_port(f->h);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    waf_http_destroy(f->h);
    waf_app_close(&f->app);
    waf_settings_free(&f->s);
    waf_test_rmtree(f->dir);
    free(f);
    return 0;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Header value of name in r->head (lower-case name), or NULL. */
static const char *header(struct reply *r, const char *name, char *out, size_t size)
{
    char key[64];
    snprintf(key, sizeof(key), "\r\n%s:", name);
    const char *p = strcasestr(r->head, key);
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r");
    snprintf(out, size, "%.*s", (int)n, p);
    return out;
}

static void assert_header(struct reply *r, const char *name, const char *want)
{
    char v[256];
    const char *got = header(r, name, v, sizeof(v));
    if (!got || strcmp(got, want) != 0)
        fail_msg("header %s: got \"%s\", want \"%s\"", name, got ? got : "(none)", want);
}

/* Sends raw and services the loop until one whole response (or a close) has arrived. */
static void exchange(struct fixture *f, int fd, const char *raw, struct reply *r)
{
    char buf[8192];
    size_t got = 0;
    memset(r, 0, sizeof(*r));
    assert_int_equal(write(fd, raw, strlen(raw)), (ssize_t)strlen(raw));
    alarm(10); /* a hang is a failure, not a stuck test run */
    for (;;) {
        ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            r->closed = 1;
            break;
        }
        if (n > 0) {
            got += (size_t)n;
            buf[got] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            if (end) {
                snprintf(r->head, sizeof(r->head), "%.*s", (int)(end - buf), buf);
                char len[16];
                size_t want = header(r, "content-length", len, sizeof(len)) ? atol(len) : 0;
                size_t have = got - (size_t)(end + 4 - buf);
                if (strncmp(raw, "HEAD", 4) == 0 || have >= want) {
                    snprintf(r->body, sizeof(r->body), "%.*s", (int)want, end + 4);
                    if (strncmp(raw, "HEAD", 4) == 0)
                        r->body[0] = '\0';
                    break;
                }
            }
            continue;
        }
        assert_true(waf_http_service(f->h) >= 0);
    }
    alarm(0);
    r->status = atoi(r->head + strlen("HTTP/1.1 "));
}

static void get(struct fixture *f, const char *raw, struct reply *r)
{
    int fd = connect_to(f->port);
    exchange(f, fd, raw, r);
    close(fd);
}

static void test_healthz_and_headers(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    get(f, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok");
    assert_header(&r, "x-content-type-options", "nosniff");
    assert_header(&r, "cache-control", "no-store");
}

static void test_metadata(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    get(f, "GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "content-type", "application/json");
    json_t *m = json_loads(r.body, 0, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "issuer")), "https://waf.example.net");
    assert_string_equal(json_string_value(json_object_get(m, "jwks_uri")),
                        "https://waf.example.net/jwks.json");
    json_decref(m);
}

static void test_jwks_verifies_issued_token(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    char err[256];
    get(f, "GET /jwks.json HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    json_t *jwks = json_loads(r.body, 0, NULL);
    json_t *jwk = json_array_get(json_object_get(jwks, "keys"), 0);
    assert_null(json_object_get(jwk, "d"));
    assert_string_equal(json_string_value(json_object_get(jwk, "kid")),
                        waf_keyring_current(&f->app.keys)->kid);
    EVP_PKEY *pub = jwk_to_ec_key(jwk, err, sizeof(err));
    assert_non_null(pub);

    const char *impus[] = {"sip:alice@ims.test"};
    struct waf_user u;
    assert_int_equal(waf_user_build(&u, "alice", NULL, "ims.test", impus, 1, err, sizeof(err)), 0);
    struct waf_token_request req = {f->s.issuer, f->s.audience, "imsgw-cli", WAF_SCOPE_DEFAULT,
                                    1767225600,  900,           NULL};
    char *tok = waf_token_issue(waf_keyring_current(&f->app.keys), &req, &u, err, sizeof(err));
    struct jws_parsed p;
    assert_int_equal(jws_parse(tok, strlen(tok), &p, err, sizeof(err)), 0);
    assert_int_equal(jws_verify_es256(&p, pub, err, sizeof(err)), 0);
    jws_parsed_free(&p);
    free(tok);
    EVP_PKEY_free(pub);
    json_decref(jwks);
}

static void test_errors_and_methods(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    get(f, "GET /token HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 405);
    assert_header(&r, "allow", "POST");
    get(f, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"error\":\"not_found\"}");
    assert_header(&r, "content-type", "application/json");

    get(f, "POST /jwks.json HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na=b", &r);
    assert_int_equal(r.status, 405);
    assert_header(&r, "allow", "GET, HEAD");
    assert_string_equal(r.body, "{\"error\":\"method_not_allowed\"}");

    get(f, "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 405);

    get(f, "HEAD /jwks.json HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
}

static void test_one_request_per_connection(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    /* libwebsockets 4.1.6 loops on replayed pipelined requests (docs/security-http.md): every
     * answer closes its connection, and nothing sent after a request is taken as another */
    int fd = connect_to(f->port);
    exchange(f, fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "connection", "close");
    exchange(f, fd, "GET /jwks.json HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_true(r.closed);
    assert_int_equal(r.head[0], '\0');
    close(fd);

    /* a body where none is taken is refused unread */
    fd = connect_to(f->port);
    exchange(f, fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 28\r\n\r\n", &r);
    assert_int_equal(r.status, 413);
    assert_header(&r, "connection", "close");
    exchange(f, fd, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_true(r.closed);
    assert_int_equal(r.head[0], '\0');
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthz_and_headers),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_jwks_verifies_issued_token),
        cmocka_unit_test(test_errors_and_methods),
        cmocka_unit_test(test_one_request_per_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
