/* Test vectors of spec/standards.md §11 (T19: JWT, TEST KEYS ONLY), used verbatim. */
#ifndef IMSGW_TEST_VECTORS_H
#define IMSGW_TEST_VECTORS_H

#define T19_NOW 1767225601

#define T19_PAYLOAD                                                                                \
    "eyJpc3MiOiJodHRwczovL3dhZi5leGFtcGxlLm5ldCIsInN1YiI6ImFsaWNlLXdlYi03NzMxIiwiYXVkIjoic2lwOmVw" \
    "Y3NjZi5leGFtcGxlLm5ldCIsImNsaWVudF9pZCI6Ind3c2YtcG9ydGFsIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3" \
    "NjcyMjkyMDAsImp0aSI6IjZmMWMyZDBlLTAwMDEiLCJzY29wZSI6ImltczpyZWdpc3RlciBpbXM6Y2FsbCIsImltcGki" \
    "OiJhbGljZV9wcml2YXRlQGltcy5leGFtcGxlLm5ldCIsImltcHUiOiJzaXA6YWxpY2VAaW1zLmV4YW1wbGUubmV0In0"

#define T19_TOKEN_HS256                                                                            \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImhzLXRlc3QtMSJ9." T19_PAYLOAD                \
    ".2oSILfA0EDqmVxwf13_VTNvf4qPaYg4Ql0XR6bNOPP8"

#define T19_TOKEN_ES256                                                                            \
    "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6IndhZi1lczI1Ni0xIn0." T19_PAYLOAD             \
    ".0g6Pwab6e5zv9J6JwS57SSoLgRGO3bYRPPlRija5SxvBuvI6qH93LdLx_hD_hobJad0CaLgvxoQjUfmamedW7w"

#define T19_TOKEN_NONE "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." T19_PAYLOAD "."

#define T19_JWK                                                                                    \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"waf-es256-1\",\"use\":\"sig\",\"alg\":\"ES256\"," \
    "\"x\":\"iYuX0j1yGveU1NXvPvQzm4_cQ8EzCH9TRMZHLfimm4c\","                                       \
    "\"y\":\"9YBjYjzypskywkLfZC9ndNBXTbH17VwCcp_nXLSnDP0\"}"

#define T19_D "uFHD1F7WrzgXejDSkyfwZrmvG9FPkSObfQ85uszzS1k"

#endif
