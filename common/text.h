/* text: checks for identifiers that end up in headers, pages, SQL parameters and logs. */
#ifndef IMSGW_TEXT_H
#define IMSGW_TEXT_H

#include <stddef.h>

/* 1 when s has 1 to max characters, all visible ASCII (no space, no control character). */
int text_visible(const char *s, size_t max);

#endif
