#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/seed-*) from the tests'
messages, tokens and configurations. Run once when the formats change; scripts/fuzz.sh merges
what the fuzzer finds on top. Needs python3-cryptography (tokens are signed with the T19 test
key of tests/unit/vectors.h: TEST KEYS ONLY)."""
import base64, glob, hashlib, json, os, re, sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEP = b"\n--next-message--\n"  # fuzz/sip_ws.c FUZZ_SEPARATOR
# The gateway's Record-Route entries for flow 1 of the fuzz gateway (fixed flow key, see
# fuzz/fuzz_gw.c): the route set a client's in-dialog requests start with.
OUR_ROUTE = ("Route: <sip:vAm3fdQPDquaPQEAAAAAAAAAAAAB@127.0.0.1:5070;transport=ws;lr>, "
             "<sip:127.0.0.1:5070;transport=tcp;lr>, <sip:scscf.ims.test;lr>")


def vec(name):
    text = open(os.path.join(ROOT, "tests/unit/vectors.h")).read()
    body = text.split("#define %s " % name, 1)[1].split("\n#define", 1)[0].split("\n\n")[0]
    parts = re.findall(r'("(?:[^"\\]|\\.)*")|\b(T19_[A-Z0-9_]+)\b', body)
    return "".join(json.loads(lit) if lit else vec(ref) for lit, ref in parts)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def t19_key():
    d = int.from_bytes(base64.urlsafe_b64decode(vec("T19_D") + "=="), "big")
    return ec.derive_private_key(d, ec.SECP256R1())


def jws(claims, header=None, key=None):
    header = header or {"alg": "ES256", "typ": "at+jwt", "kid": "waf-es256-1"}
    si = b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64u(json.dumps(claims, separators=(",", ":")).encode())
    r, s = decode_dss_signature((key or t19_key()).sign(si.encode(), ec.ECDSA(hashes.SHA256())))
    return si + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


# The demo gateway's policy (gw_settings_defaults) and an exp in 2100: valid whenever run.
GW_CLAIMS = {"iss": "http://127.0.0.1:9090", "sub": "alice", "aud": "sip:ims.test",
             "client_id": "wic", "iat": 1767225600, "exp": 4102444800, "jti": "fuzz-1",
             "scope": "ims:register ims:call ims:message", "impi": "alice@ims.test",
             "impu": "sip:alice@ims.test"}


def write(target, name, data):
    d = os.path.join(ROOT, "fuzz/corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    open(os.path.join(d, "seed-" + name), "wb").write(data)


def sip(lines, body=""):
    return "\r\n".join(lines) + "\r\n\r\n" + body


def register(auth=None, cseq=1, expires=600, contact=None, extra=(), body="", to="alice"):
    lines = ["REGISTER sip:ims.test SIP/2.0",
             "Via: SIP/2.0/WS q7k2m9x4.invalid;branch=z9hG4bK-wic-%d" % cseq,
             "Max-Forwards: 70", "From: <sip:%s@ims.test>;tag=wtag1" % to,
             "To: <sip:%s@ims.test>" % to, "Call-ID: reg-fuzz", "CSeq: %d REGISTER" % cseq,
             contact or 'Contact: <sip:k3v9@q7k2m9x4.invalid;transport=ws>;'
             '+sip.instance="<urn:uuid:5f0c9a7e-3b1d-4c2e-9a51-0e8f6b2d7c11>";reg-id=1',
             "Supported: path, outbound, gruu"]
    if auth:
        lines.append("Authorization: " + auth)
    lines += ["Expires: %d" % expires, *extra, "Content-Length: %d" % len(body.encode())]
    return sip(lines, body)


def request(method, cseq=1, to_tag=None, extra=(), body="", ctype=None, branch="b1"):
    lines = ["%s sip:bob@ims.test SIP/2.0" % method,
             "Via: SIP/2.0/WS q7k2m9x4.invalid;branch=z9hG4bK-%s" % branch, "Max-Forwards: 70",
             "From: <sip:alice@ims.test>;tag=atag", "To: <sip:bob@ims.test>" +
             (";tag=" + to_tag if to_tag else ""), "Call-ID: call-fuzz",
             "CSeq: %d %s" % (cseq, method),
             "Contact: <sip:k3v9@q7k2m9x4.invalid;transport=ws;ob>", *extra]
    if ctype:
        lines.append("Content-Type: " + ctype)
    lines.append("Content-Length: %d" % len(body.encode()))
    return sip(lines, body)


def response(status, phrase, method="INVITE", cseq=1):
    return sip(["SIP/2.0 %d %s" % (status, phrase),
                "Via: SIP/2.0/WS gw.invalid;branch=z9hG4bK-gw-in-1",
                "From: <sip:carol@ims.test>;tag=ctag", "To: <sip:alice@ims.test>;tag=atag",
                "Call-ID: in-call", "CSeq: %d %s" % (cseq, method), "Content-Length: 0"])


SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n")


def sip_ws():
    good = jws(GW_CLAIMS)
    expired = jws(dict(GW_CLAIMS, exp=1767229200))
    noscope = jws(dict(GW_CLAIMS, scope="openid"))
    bob = jws(dict(GW_CLAIMS, impu="sip:bob@ims.test"))
    badsig = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    t = "sip_ws"
    write(t, "keepalive", "\r\n\r\n")
    write(t, "register-no-auth", register())
    write(t, "register-token", register("Bearer " + good))
    write(t, "register-token-param", register('Bearer access_token="%s"' % good))
    write(t, "register-token-expired", register("Bearer " + expired))
    write(t, "register-token-scope", register("Bearer " + noscope))
    write(t, "register-token-other-impu", register("Bearer " + bob))
    write(t, "register-token-badsig", register("Bearer " + badsig))
    write(t, "register-t19", register("Bearer " + vec("T19_TOKEN_ES256")))
    write(t, "register-alg-none", register("Bearer " + vec("T19_TOKEN_NONE")))
    write(t, "register-hs256", register("Bearer " + vec("T19_TOKEN_HS256")))
    write(t, "register-opaque", register("Bearer 2YotnFZFEjr1zCsicMWpAA"))
    write(t, "register-two-bearer", register("Bearer a.b.c", extra=["Proxy-Authorization: Bearer x"]))
    write(t, "register-digest", register('Digest username="alice", realm="ims.test", nonce="", '
                                         'uri="sip:ims.test", response=""'))
    write(t, "register-code", register(body="grant_type=authorization_code&code=abc&"
                                       "redirect_uri=http%3A%2F%2F127.0.0.1%2F&code_verifier=v",
                                       extra=["Content-Type: application/x-www-form-urlencoded"]))
    write(t, "register-numeric-code", register(body="grant_type=authorization_code&code=123456",
                                               extra=["Content-Type: application/x-www-form-urlencoded"]))
    write(t, "register-star", register("Bearer " + good, expires=0, contact="Contact: *"))
    write(t, "register-proxy-require", register("Bearer " + good, extra=["Proxy-Require: foo"]))
    write(t, "register-route-path", register("Bearer " + good, extra=[
        "Route: <sip:evil.example;lr>", "Path: <sip:evil.example;lr>",
        "P-Asserted-Identity: <sip:operator@ims.test>"]))
    write(t, "register-then-dereg", register("Bearer " + good) + SEP.decode() +
          register(cseq=2, expires=0))
    write(t, "register-then-invite", register("Bearer " + good) + SEP.decode() +
          request("INVITE", body=SDP, ctype="application/sdp") + SEP.decode() +
          request("CANCEL"))
    write(t, "register-then-message", register("Bearer " + good) + SEP.decode() +
          request("MESSAGE", body="hello", ctype="text/plain", branch="m1"))
    write(t, "invite", request("INVITE", body=SDP, ctype="application/sdp",
                               extra=["P-Preferred-Identity: <tel:+1555>", "Route: <sip:x;lr>"]))
    write(t, "invite-cancel", request("INVITE", body=SDP, ctype="application/sdp") +
          SEP.decode() + request("CANCEL"))
    write(t, "invite-fail-ack", request("INVITE", cseq=2, body=SDP, ctype="application/sdp") +
          SEP.decode() + request("ACK", cseq=2, to_tag="core-tag"))
    write(t, "invite-ok-bye", request("INVITE", body=SDP, ctype="application/sdp") + SEP.decode() +
          request("ACK", to_tag="core-tag", branch="b2", extra=[OUR_ROUTE]) + SEP.decode() +
          request("BYE", cseq=2, to_tag="core-tag", branch="b3", extra=[OUR_ROUTE]))
    write(t, "invite-ok-reinvite", request("INVITE", body=SDP, ctype="application/sdp") +
          SEP.decode() + request("INVITE", cseq=2, to_tag="core-tag", branch="b4", body=SDP,
                                 ctype="application/sdp", extra=[OUR_ROUTE]))
    write(t, "in-dialog-message", request("MESSAGE", cseq=5, to_tag="core-tag", body="hi",
                                          ctype="text/plain", extra=[OUR_ROUTE]))
    write(t, "message", request("MESSAGE", body="hello", ctype="text/plain"))
    write(t, "options", request("OPTIONS", cseq=3))
    write(t, "info-in-dialog", request("INFO", to_tag="x", extra=[
        "Route: <sip:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@127.0.0.1:5070;lr>"]))
    write(t, "bye-no-dialog", request("BYE", to_tag="x"))
    write(t, "max-forwards-0", request("MESSAGE", extra=["Max-Forwards: 0"]))
    write(t, "two-messages", request("OPTIONS") + request("OPTIONS"))
    write(t, "bad-content-length", request("MESSAGE", body="hello", ctype="text/plain")
          .replace("Content-Length: 5", "Content-Length: 50"))
    write(t, "response-180", response(180, "Ringing"))
    write(t, "response-200", response(200, "OK"))
    write(t, "not-sip", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    write(t, "many-headers", request("OPTIONS", extra=["X-H: %d" % i for i in range(130)]))
    # The tests' SIPp scenarios, with their [fields] filled in.
    fields = {"local_ip": "127.0.0.1", "local_port": "5080", "remote_ip": "127.0.0.1",
              "remote_port": "5070", "transport": "UDP", "call_number": "1",
              "call_id": "sipp-1", "branch": "z9hG4bK-sipp-1", "service": "alice",
              "len": "0", "peer_tag_param": ";tag=ptag", "routes": "", "next_url":
              "sip:bob@127.0.0.1", "authentication": 'Bearer ' + good, "pid": "1",
              "regid": "1", "gwport": "5070"}
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/sipp/*.xml"))):
        xml = open(path).read()
        for i, m in enumerate(re.findall(r"<send[^>]*>\s*<!\[CDATA\[(.*?)\]\]>", xml, re.S)):
            text = re.sub(r"\[([a-z_0-9]+)\]", lambda f: fields.get(f.group(1), "x"), m.strip())
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
            if "\r\n\r\n" not in text:
                text += "\r\n\r\n"
            write(t, "sipp-%s-%d" % (os.path.basename(path)[:-4], i), text)


def token():
    t = "token"
    write(t, "t19-es256", vec("T19_TOKEN_ES256"))
    write(t, "t19-hs256", vec("T19_TOKEN_HS256"))
    write(t, "t19-none", vec("T19_TOKEN_NONE"))
    t19 = json.loads(base64.urlsafe_b64decode(vec("T19_PAYLOAD") + "=="))
    write(t, "t19-claims", json.dumps(t19))
    write(t, "t19-claims-aud-array", json.dumps(dict(t19, aud=["sip:x", t19["aud"]])))
    write(t, "t19-claims-impu-array", json.dumps(dict(t19, impu=[t19["impu"], "tel:+1555"])))
    write(t, "t19-claims-active", json.dumps(dict(t19, active=True, token_type="access_token")))
    write(t, "resigned-no-typ", jws(t19, {"alg": "ES256", "kid": "waf-es256-1"}))
    write(t, "resigned-crit", jws(t19, {"alg": "ES256", "typ": "at+jwt", "kid": "waf-es256-1",
                                        "crit": ["exp"]}))
    write(t, "rs256-header", jws(t19, {"alg": "RS256", "typ": "at+jwt", "kid": "rsa-1"}))
    write(t, "unknown-kid", jws(t19, {"alg": "ES256", "typ": "at+jwt", "kid": "other"}))


def waf_json():
    t = "waf_json"
    t19 = json.loads(base64.urlsafe_b64decode(vec("T19_PAYLOAD") + "=="))
    intro = dict(GW_CLAIMS, active=True, token_type="access_token")
    del intro["jti"]
    write(t, "introspection-active", b"\x00" + json.dumps(intro).encode())
    write(t, "introspection-inactive", b"\x00" + b'{"active":false}')
    write(t, "introspection-t19", b"\x00" + json.dumps(dict(t19, active=True)).encode())
    write(t, "introspection-400", b"\x04" + b'{"error":"invalid_client"}')
    write(t, "token-response", b"\x01" + json.dumps({
        "access_token": jws(GW_CLAIMS), "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": "r1", "scope": "ims:register"}).encode())
    write(t, "token-error", b"\x05" + b'{"error":"invalid_grant"}')
    write(t, "jwks-t19", b"\x02" + ('{"keys":[%s]}' % vec("T19_JWK")).encode())
    write(t, "jwks-rsa", b"\x02" + json.dumps({"keys": [{
        "kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "e": "AQAB",
        "n": b64u(hashlib.sha512(b"n").digest() * 4)}]}).encode())
    write(t, "jwks-mixed", b"\x02" + ('{"keys":[{"kty":"oct","k":"AAAA"},%s,{"kty":"EC",'
                                      '"crv":"P-384","x":"AA","y":"AA"}]}' % vec("T19_JWK")).encode())


def form():
    t = "form"
    write(t, "token-code", "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&"
          "redirect_uri=https%3A%2F%2Fclient%2Eexample%2Ecom%2Fcb&client_id=wic&"
          "code_verifier=dBjftJeZ4CVP-mJ92K9ZkdOHOaKR1pD5uLdYPLZV8fY")
    write(t, "token-refresh", "grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA&scope=ims%3Aregister+ims%3Acall")
    write(t, "authorize-query", "response_type=code&client_id=wic&redirect_uri=http://127.0.0.1:8080/&"
          "scope=ims:register&state=xyz&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&"
          "code_challenge_method=S256")
    write(t, "login", "username=alice&password=s%C3%A9cret&csrf=abc&action=allow")
    write(t, "introspect", "token=abc.def.ghi&token_type_hint=access_token")
    write(t, "device", "client_id=tv&scope=ims%3Aregister&user_code=WDJB-MJHT")
    write(t, "duplicate", "a=1&a=2")
    write(t, "bad-escape", "a=%zz&b=%4")
    write(t, "log-bearer", "Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig password=hunter2")


def config():
    t = "config"
    write(t, "gateway", json.dumps({
        "listen": "127.0.0.1", "port": 8080, "allowed-origins": ["http://127.0.0.1:8080"],
        "sip-listen": "sip:127.0.0.1:5070", "next-hop": "sip:127.0.0.1:5060;transport=tcp",
        "realm": "ims.test", "authz-server": "http://127.0.0.1:9090",
        "register-scope": "ims:register", "token-leeway": 60, "challenge": "redirect",
        "flow-key": "00112233445566778899aabbccddeeff00112233", "dereg-grace": 5}, indent=1))
    write(t, "waf", json.dumps({
        "listen": "127.0.0.1", "port": 9090, "issuer": "http://127.0.0.1:9090",
        "audience": "sip:ims.test", "access-token-lifetime": 3600, "workers": 2}, indent=1))
    write(t, "bad-type", '{"port": "8080", "realm": 5}')
    write(t, "unknown-key", '{"no-such-setting": true}')
    write(t, "duplicate", '{"port": 1, "port": 2}')
    write(t, "not-object", '[1,2,3]')


sip_ws()
token()
waf_json()
form()
config()
