/* gw_files: lws's own file mount is not used because it serves from the ISSUING_FILE state, in
 * which libwebsockets 4.1.6 busy-loops over pipelined bytes it has buffered (see gw_http.c);
 * gw_http streams the file itself from LWS_CALLBACK_HTTP_WRITEABLE instead. */
#include "gw_files.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *ext, *mime;
} gw_files_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".wasm", "application/wasm"},
    {".map", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *gw_files_mime(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(gw_files_types) / sizeof(gw_files_types[0]); i++)
        if (strcmp(dot, gw_files_types[i].ext) == 0)
            return gw_files_types[i].mime;
    return NULL; /* unknown types are not served */
}

/* Only [A-Za-z0-9._-/], no segment starting with '.', no empty segment. */
static int gw_files_path_ok(const char *uri)
{
    if (uri[0] != '/')
        return 0;
    for (const char *p = uri; *p; p++) {
        if (*p == '/') {
            if (p[1] == '.' || p[1] == '/')
                return 0;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    }
    return 1;
}

int gw_files_open(const char *root, const char *uri, size_t *size, const char **mime)
{
    char path[1024];
    if (!root || !root[0] || !gw_files_path_ok(uri))
        return -1;
    int n = snprintf(path, sizeof(path), "%s%s%s", root, uri,
                     uri[strlen(uri) - 1] == '/' ? "index.html" : "");
    if (n < 0 || (size_t)n >= sizeof(path) || !(*mime = gw_files_mime(path)))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    *size = (size_t)st.st_size;
    return fd;
}
