// Exact decimal arithmetic on the server's price strings, for the board: comparing venues,
// the cross-exchange spread and mid, and the fixed-decimals display. Nothing here goes
// through a float: a value is a BigInt of units and a scale (digits after the point), so
// "43210.6" - "43210.45" is exactly "0.15", as Python's Decimal says.

const PLAIN = /^(-?)(\d+)(?:\.(\d+))?$/;

/** {units: BigInt, scale} of a plain decimal string ("-12.340"), or null if it is not one. */
export function parseDecimal(text) {
  if (typeof text !== "string") return null;
  const m = PLAIN.exec(text);
  if (!m) return null;
  const frac = m[3] || "";
  const units = BigInt(m[2] + frac);
  return { units: m[1] ? -units : units, scale: frac.length };
}

function rescale(d, scale) {
  return d.scale === scale ? d.units : d.units * 10n ** BigInt(scale - d.scale);
}

/** -1, 0 or 1: how a compares with b (both parsed). */
export function compareDecimal(a, b) {
  const scale = Math.max(a.scale, b.scale);
  const x = rescale(a, scale);
  const y = rescale(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** a - b, at the larger of the two scales (Python's Decimal does the same). */
export function subtractDecimal(a, b) {
  const scale = Math.max(a.scale, b.scale);
  return { units: rescale(a, scale) - rescale(b, scale), scale };
}

/** (a + b) / 2, exactly: one more digit when the sum is odd. */
export function midDecimal(a, b) {
  const scale = Math.max(a.scale, b.scale);
  const sum = rescale(a, scale) + rescale(b, scale);
  if (sum % 2n === 0n) return { units: sum / 2n, scale };
  return { units: sum * 5n, scale: scale + 1 };
}

/** The plain string of a parsed decimal, keeping its scale ("0.50", "-0.5", "0.0"). */
export function decimalString(d) {
  const negative = d.units < 0n;
  let digits = (negative ? -d.units : d.units).toString();
  if (d.scale > 0) {
    digits = digits.padStart(d.scale + 1, "0");
    digits = `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`;
  }
  return negative ? `-${digits}` : digits;
}

/** Digits after the point once trailing zeros are dropped ("87123.45000000" -> 2). */
export function significantDecimals(text) {
  if (typeof text !== "string") return 0;
  const dot = text.indexOf(".");
  if (dot < 0) return 0;
  let end = text.length;
  while (end > dot + 1 && text.charCodeAt(end - 1) === 48) end -= 1;
  return end - dot - 1;
}

function groupThousands(intPart) {
  let out = "";
  for (let i = intPart.length; i > 0; i -= 3) {
    const start = Math.max(0, i - 3);
    out = intPart.slice(start, i) + (out ? `,${out}` : "");
  }
  return out;
}

/**
 * A price for display: thousands separators and exactly `decimals` digits after the point,
 * padded with zeros and never rounded. Trailing zeros beyond the exact value are dropped
 * first ("87123.45000000" at 2 decimals is "87,123.45"); a value that needs more digits
 * than asked keeps them all, so nothing is ever cut. Anything that is not a plain decimal
 * is shown as it came.
 */
export function formatPrice(text, decimals) {
  const m = typeof text === "string" ? PLAIN.exec(text) : null;
  if (!m) return text === null || text === undefined ? "" : String(text);
  let frac = m[3] || "";
  let end = frac.length;
  while (end > 0 && frac.charCodeAt(end - 1) === 48) end -= 1;
  frac = frac.slice(0, end);
  if (frac.length < decimals) frac = frac.padEnd(decimals, "0");
  const sign = m[1] ? "\u2212" : ""; // a real minus sign: as wide as the digits
  return `${sign}${groupThousands(m[2])}${frac ? `.${frac}` : ""}`;
}

/** A parsed decimal for display, as formatPrice. */
export function formatDecimal(d, decimals) {
  return formatPrice(decimalString(d), decimals);
}

/**
 * A quantity such as a 24 h volume, short enough for a column: separators, and at most
 * `maxDecimals` digits after the point, cut (not rounded) so it never claims more than
 * the exchange said. The exact text belongs in a title.
 */
export function formatAmount(text, maxDecimals = 2) {
  const m = typeof text === "string" ? PLAIN.exec(text) : null;
  if (!m) return text === null || text === undefined ? "" : String(text);
  const intPart = m[2];
  if (intPart.length > 6) { // 12.34 M: millions, two decimals, cut
    const millions = intPart.slice(0, -6);
    const frac = intPart.slice(-6, -4).replace(/0+$/, "");
    return `${m[1] ? "\u2212" : ""}${groupThousands(millions)}${frac ? `.${frac}` : ""} M`;
  }
  const keep = intPart.length >= 4 ? 0 : maxDecimals;
  let frac = (m[3] || "").slice(0, keep);
  let end = frac.length;
  while (end > 0 && frac.charCodeAt(end - 1) === 48) end -= 1;
  frac = frac.slice(0, end);
  return `${m[1] ? "\u2212" : ""}${groupThousands(intPart)}${frac ? `.${frac}` : ""}`;
}
