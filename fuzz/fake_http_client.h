/* fake_http_client: the fuzz targets' stand-in for http_client.c (see fake_http_client.c). */
#ifndef IMSGW_FAKE_HTTP_CLIENT_H
#define IMSGW_FAKE_HTTP_CLIENT_H

#include "http_client.h"

#define FAKE_HC_MAX 16

/* Non-zero (the default): hc_start() refuses, as when the WAF cannot be reached. */
extern int fake_hc_refuse;
/* Answers every held request, oldest first, with status and body; returns how many. */
unsigned fake_hc_answer(int status, const char *body, size_t len);

#endif
