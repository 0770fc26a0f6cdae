# The q-quantile, in ms, of the gateway's own time per REGISTER between two /metrics snapshots:
#   awk -v leg=total -v q=0.99 -f bench/gw-latency.awk BEFORE AFTER
# leg: request, response, total or admission (imsgw_register_gateway_seconds, gateway/gw_latency.h).
# Linear inside the bucket that holds the rank; "-" when nothing was observed between the two;
# "> B" when it lies in the +Inf bucket (B: the largest finite bound).
function le_of(s) { sub(/.*le="/, "", s); sub(/".*/, "", s); return s }
index($0, "imsgw_register_gateway_seconds_bucket{leg=\"" leg "\"") == 1 {
  k = le_of($1)
  if (FILENAME == ARGV[1]) a[k] = $2; else { b[k] = $2; order[n++] = k }
}
END {
  total = b["+Inf"] - a["+Inf"]
  if (total <= 0) { print "-"; exit }
  rank = q * total; prev = 0; lo = 0
  for (i = 0; i < n; i++) {
    k = order[i]; cum = b[k] - a[k]
    if (cum >= rank) {
      if (k == "+Inf") { printf "> %.1f\n", lo * 1000; exit }
      printf "%.2f\n", (lo + (k - lo) * (cum > prev ? (rank - prev) / (cum - prev) : 1)) * 1000
      exit
    }
    prev = cum; lo = k
  }
}
