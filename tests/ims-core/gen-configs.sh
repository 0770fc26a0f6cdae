#!/usr/bin/env bash
# Writes Kamailio I-CSCF and S-CSCF configurations for the real-core tests into DIR, from Debian's
# shipped examples (/usr/share/doc/kamailio/examples/ims) plus the patches that Kamailio 5.6.3
# needs (spec/research/ims-core.md §4). Nothing of Kamailio is vendored: the examples are copied
# and edited here, at test time.
#
#   gen-configs.sh DIR MODE GW_IP
#     MODE  tna     the S-CSCF accepts integrity-protected="auth-done" REGISTERs that the I-CSCF
#                   let through (the I-CSCF refuses auth-done from anyone but GW_IP)
#           digest  stock behaviour: every REGISTER is challenged with MD5 Digest
# Addresses (inside the test's private network namespace): I-CSCF 127.0.0.2:4060,
# S-CSCF 127.0.0.3:6060, HSS 127.0.0.1:3868; names in tests/ims-core/hosts. ICSCF_IP and
# SCSCF_IP in the environment move the two (the compose profile ims-core puts both on its
# container's address; docker/ims-core/).
set -euo pipefail
dir=$1 mode=$2 gw_ip=$3
icscf_ip=${ICSCF_IP:-127.0.0.2} scscf_ip=${SCSCF_IP:-127.0.0.3}
ex=/usr/share/doc/kamailio/examples/ims
domain=ims.test
mpath=$(dirname "$(dpkg -L kamailio | grep -m1 '/modules/tm.so$')")/
[ -d "$mpath" ] || { echo "gen-configs: Kamailio modules not found (apt install kamailio)" >&2; exit 1; }
mkdir -p "$dir/icscf/db" "$dir/scscf"

# Edits both main configs need: module path, our own control sockets and files, few processes.
common_edits() { # $1 = role
  sed -e "s|^mpath=.*|mpath=\"$mpath\"|" \
      -e "s|^children=.*|children=2|" \
      -e "s|unix:/run/kamailio_$1/kamailio_ctl|unix:$dir/$1/ctl|" \
      -e "s|/etc/kamailio_$1/|$dir/$1/|g" \
      -e "s|^modparam(\"jsonrpcs\", \"pretty_format\", 1)|&\nmodparam(\"jsonrpcs\", \"fifo_name\", \"$dir/$1/rpc.fifo\")\nmodparam(\"jsonrpcs\", \"dgram_socket\", \"$dir/$1/rpc.sock\")|"
}

diameter_xml() { # $1 = role, $2 = its address, $3 = Diameter port
  sed -e "s|FQDN=\"$1\.mnc001\.mcc001\.3gppnetwork\.org\"|FQDN=\"$1.$domain\"|" \
      -e "s|hss\.mnc001\.mcc001\.3gppnetwork\.org|hss.$domain|g" \
      -e "s|ims\.mnc001\.mcc001\.3gppnetwork\.org|$domain|g" \
      -e "s|Workers=\"16\"|Workers=\"2\"|" \
      -e "s|<Acceptor port=\"[0-9]*\" bind=\"11.22.33.44\"/>|<Acceptor port=\"$3\" bind=\"$2\"/>|" \
      "$ex/$1/$1.xml.sample" >"$dir/$1/$1.xml"
}

# ---- I-CSCF ----
cat >"$dir/icscf/icscf.cfg" <<EOF
listen=udp:$icscf_ip:4060
alias=$domain
alias=icscf.$domain
#!define NETWORKNAME "$domain"
#!define HOSTNAME "icscf.$domain"
#!define DB_URL "text://$dir/icscf/db"
#!define ENUM_SUFFIX "$domain."
EOF
for t in nds_trusted_domains:"id(int,auto) trusted_domain(str)" \
         s_cscf:"id(int,auto) name(str) s_cscf_uri(str)" \
         s_cscf_capabilities:"id(int,auto) id_s_cscf(int) capability(int)"; do
  echo "${t#*:}" >"$dir/icscf/db/${t%%:*}"
done
printf 'table_name(str) table_version(int)\nnds_trusted_domains:1\ns_cscf:1\ns_cscf_capabilities:1\n' \
  >"$dir/icscf/db/version"
# db_text instead of MySQL; names resolved by /etc/hosts (use_dns_cache=off); no '+' prefix on
# user parts (test users are not E.164); in-dialog requests of the native test UE (SIPp, which
# has no P-CSCF) loose-routed; a trusted-node REGISTER only from the gateway
# (TS 33.203 Annex U.2 step 4: the I-CSCF checks the trusted node).
common_edits icscf <"$ex/icscf/kamailio.cfg" |
  sed -e 's|^loadmodule "db_mysql"|loadmodule "db_text"\nuse_dns_cache=off|' \
      -e 's|^\(\s*\)prefix("+");|\1$var(no_plus) = 1; # was prefix("+"): test users are not E.164|' \
      -e 's|^\(\s*\)route(REQINIT);|&\n\1# test: in-dialog requests of the native test UE (it has no P-CSCF) follow their Route\n\1if (has_totag() \&\& loose_route()) { t_relay(); exit; }|' \
      -e "s|^route\[register\]$|&\n{\n\tif (\$hdr(Authorization) =~ \"integrity-protected=\\\\\"?auth-done\" \&\& \$si != \"$gw_ip\") {\n\t\tsend_reply(\"403\", \"Forbidden - not a trusted node\");\n\t\texit;\n\t}\n\troute(register_go);\n}\nroute[register_go]|" \
      >"$dir/icscf/kamailio.cfg"
diameter_xml icscf "$icscf_ip" 3869

# ---- S-CSCF ----
{
  cat <<EOF
listen=udp:$scscf_ip:6060
#!define NETWORKNAME "$domain"
#!define HOSTNAME "scscf.$domain"
# an address, not a name: the gateway (sofia-sip) resolves names by DNS only
#!define URI "sip:$scscf_ip:6060"
alias=scscf.$domain
alias=$domain
#!define ENUM_SUFFIX "$domain."
#!define REG_AUTH_DEFAULT_ALG "MD5"
#!define TRUSTED_NODE_IP "$icscf_ip"
EOF
  # digest: every REGISTER challenged (401), and every originating MESSAGE (407, proxy_auth.c)
  if [ "$mode" = digest ]; then printf '#!define WITH_AUTH\n#!define WITH_PROXY_AUTH\n'; else echo '#!define WITH_TNA'; fi
} >"$dir/scscf/scscf.cfg"
: >"$dir/scscf/dispatcher.list"
cp "$ex/scscf/CxDataType_Rel7.xsd" "$ex/scscf/CxDataType_Rel6.xsd" "$dir/scscf/"
# - dispatcher AVP parameters that 5.6 no longer has; presence always (ims_usrloc_scscf binds it)
# - save() in its 4-argument form: the 2-argument form crashes 5.6.3 (fixed upstream in 5.8.2)
# - the TNA branch (research §4.3 item 8) at the top of route[REGISTER]
# - MO requests for the home domain loop back to this S-CSCF for terminating treatment (no DNS)
# - digest mode: originating MESSAGEs need Proxy-Authorization (ims_proxy_challenge, 407)
common_edits scscf <"$ex/scscf/kamailio.cfg" |
  sed -e '/^modparam("dispatcher", "\(dst\|grp\|cnt\|sock\)_avp"/s/^/# /' \
      -e 's|^loadmodule "pike.so"|&\nloadmodule "presence"|' \
      -e 's|save("\([A-Z_]*\)","location");|save("\1","location","0","0");|' \
      -e 's|^route\[REGISTER\] {|&\n#!ifdef WITH_TNA\n\tif ($hdr(Authorization) =~ "integrity-protected=\\"?auth-done" \&\& $si == TRUSTED_NODE_IP) {\n\t\tif (!impu_registered("location")) {\n\t\t\tsave("PRE_REG_SAR_REPLY","location","0","0");\n\t\t} else {\n\t\t\tisc_match_filter_reg("1","location");\n\t\t\tsave("REG_SAR_REPLY","location","0","0");\n\t\t}\n\t\texit;\n\t}\n#!endif|' \
      -e "s|^\(\s*\)t_on_reply(\"orig_reply\");|\1if (\$rd == NETWORKNAME) { \$du = \"sip:$scscf_ip:6060\"; }\n&|" \
      -e 's|^\tif (isc_match_filter("orig", "location")) {|#!ifdef WITH_PROXY_AUTH\n\tif (is_method("MESSAGE") \&\& !isc_from_as("orig")) {\n\t\tif (!ims_proxy_authenticate("$fd")) {\n\t\t\tif ($? == -2) { t_reply("403", "Authentication Failed"); exit; }\n\t\t\tims_proxy_challenge("PROXY_MAR_REPLY", "$fd", "location");\n\t\t\texit;\n\t\t}\n\t\tremove_hf("Proxy-Authorization");\n\t}\n#!endif\n&|' \
      -e 's|^route\[REG_MAR_REPLY\]$|route[PROXY_MAR_REPLY]\n{\n\tif ($avp(s:maa_return_code) == -2) { t_reply("500", "MAR failed"); }\n}\n\n&|' \
      >"$dir/scscf/kamailio.cfg"
diameter_xml scscf "$scscf_ip" 3870
