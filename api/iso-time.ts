/**
 * `Date.prototype.toISOString` without its side effect on Node.js 20: V8 11.3 formats every date string
 * (ISO and UTC ones too) through one routine that first looks up the local time zone's offset and
 * display name in ICU, which pulls ~0.8 MiB of the node executable's ICU code and time-zone data into
 * the process's resident memory (measured for the agent: docs/performance.md, "Agent memory"). The UTC
 * getters need no time zone, so building the same string from them keeps those pages out.
 */
const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** The same text as `new Date(ms).toISOString()` for years 0-9999 (throws RangeError on an invalid time, as it does). */
export function isoString(ms: number = Date.now()): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (Number.isNaN(year)) throw new RangeError('Invalid time value');
  if (year < 0 || year > 9999) return d.toISOString();
  const millis = d.getUTCMilliseconds();
  return `${String(year).padStart(4, '0')}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** An HTTP Date header (IMF-fixdate, RFC 9110), the text `toUTCString()` gives, from the UTC getters for the same reason. */
export function httpDate(ms: number = Date.now()): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]!}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]!} ${String(d.getUTCFullYear()).padStart(4, '0')} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} GMT`;
}
