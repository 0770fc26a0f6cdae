/* gw_files: the web client's static files (wwsf-dir) for gw_http. A request path maps to one
 * regular file under the folder, or to nothing: no "..", no hidden names, no odd bytes. */
#ifndef IMSGW_GW_FILES_H
#define IMSGW_GW_FILES_H

#include <stddef.h>

/* Opens the file for uri ("/" is index.html) under root; returns its fd and fills *size and
 * *mime, or -1 when there is no such servable file (the caller answers 404). */
int gw_files_open(const char *root, const char *uri, size_t *size, const char **mime);

#endif
