// RFC 5626 §4.5 flow-recovery back-off: wait a random time in [50 %, 100 %] of
// min(max, base · 2^failures) seconds. base is 30 s when every flow failed (the WIC has one flow),
// max is 1800 s; the count resets once a REGISTER succeeds again.
export function backoffSeconds(failures, base = 30, max = 1800, random = Math.random) {
  const wait = Math.min(max, base * 2 ** failures);
  return wait * (0.5 + 0.5 * random());
}
