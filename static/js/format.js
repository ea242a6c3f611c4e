// Small pure helpers shared by the dashboard modules: record checks, keys, time and age text.
// Nothing here touches the DOM.

// Separator for Map keys built from exchange/pair text; it cannot appear in either.
const SEP = "\u0000";

/** Key of a feed: one (exchange, pair) stream. */
export function feedKey(exchange, pair) {
  return exchange + SEP + pair;
}

/** Key of a trade for de-duplication: trade ids are unique per exchange. */
export function tradeKey(exchange, id) {
  return exchange + SEP + id;
}

/** Server batches are lists; accept a single object too, and ignore anything else. */
export function asList(payload) {
  if (Array.isArray(payload)) return payload;
  if (payload && typeof payload === "object") return [payload];
  return [];
}

function text(value) {
  return value === undefined || value === null ? "" : String(value);
}

/** Milliseconds since the epoch of an ISO-8601 time, or NaN. */
export function parseTime(iso) {
  return typeof iso === "string" ? Date.parse(iso) : NaN;
}

// The server sends e.g. 2026-11-24T17:42:03.123Z; the display keeps the wall-clock part verbatim.
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$/;

/** HH:MM:SS.mmm (UTC) for display. */
export function clockText(iso, ms) {
  const m = typeof iso === "string" ? ISO_UTC.exec(iso) : null;
  if (m) return m[1] + ((m[2] || ".000") + "000").slice(0, 4);
  if (!Number.isFinite(ms)) return text(iso);
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  const hms = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `${hms}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** "3 s", "4 min", "2 h", "5 d"; an empty string when never seen. */
export function durationText(ageMs) {
  if (!Number.isFinite(ageMs)) return "";
  const s = Math.max(0, Math.floor(ageMs / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 172800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** "3 s ago", "4 min ago", "2 h ago", "5 d ago"; an empty string when never seen. */
export function ageText(ageMs) {
  const d = durationText(ageMs);
  return d && `${d} ago`;
}

/** Base and quote of a canonical pair ("BTC-USDT" -> ["BTC", "USDT"]); a pair we can't split
 * is its own base with no quote. */
export function splitPair(pair) {
  const i = pair.lastIndexOf("-");
  return i > 0 ? [pair.slice(0, i), pair.slice(i + 1)] : [pair, ""];
}

// Records are normalised to plain objects with string fields plus `t` (ms since epoch).
// A record without an exchange or a pair (where one is required) is dropped: there is
// nowhere to show it.

export function normTicker(r) {
  if (!r || typeof r !== "object" || r.exchange == null || r.pair == null) return null;
  const t = parseTime(r.time);
  return {
    exchange: text(r.exchange),
    pair: text(r.pair),
    time: text(r.time),
    t,
    bid: text(r.bid),
    ask: text(r.ask),
    last: text(r.last),
    volume24h: text(r.volume_24h),
    open24h: text(r.open_24h),
  };
}

export function normTrade(r) {
  if (!r || typeof r !== "object" || r.exchange == null || r.pair == null) return null;
  return {
    exchange: text(r.exchange),
    pair: text(r.pair),
    time: text(r.time),
    t: parseTime(r.time),
    id: text(r.id),
    price: text(r.price),
    amount: text(r.amount),
    side: text(r.side),
  };
}

export function normStatus(r) {
  if (!r || typeof r !== "object" || r.exchange == null) return null;
  return {
    exchange: text(r.exchange),
    pair: r.pair === null || r.pair === undefined || r.pair === "" ? null : text(r.pair),
    state: text(r.state) || "unknown",
    detail: text(r.detail),
    time: text(r.time),
    t: parseTime(r.time),
  };
}

/**
 * How far the browser clock is from the server's, from (arrival - record time) samples.
 *
 * A wall screen on a closed network may have a drifting clock: if it is behind, every age
 * would read "0 s ago" and hide a silent feed; if ahead, live feeds would look minutes old.
 * Live records are fresh when they arrive, so the smallest (arrival - time) in a stretch
 * of traffic is the clock offset plus the shortest delivery delay. Samples are kept as
 * per-10 s minima over the last minute and their median is used, so one odd timestamp
 * does not move every age. The caller must not feed it the snapshot sent on connect (old
 * records by design). Without traffic the last estimate stays, so ages keep growing
 * through an outage.
 */
export class ClockSkew {
  constructor(bucketMs = 10000, buckets = 6) {
    this.bucketMs = bucketMs;
    this.mins = new Array(buckets).fill(Infinity);
    this.ids = new Array(buckets).fill(-1);
    this.offset = 0;
  }

  sample(arrival, recordTime) {
    if (!Number.isFinite(recordTime)) return;
    const id = Math.floor(arrival / this.bucketMs);
    const slot = id % this.mins.length;
    if (this.ids[slot] !== id) {
      this.ids[slot] = id;
      this.mins[slot] = Infinity;
    }
    this.mins[slot] = Math.min(this.mins[slot], arrival - recordTime);
  }

  /** Recompute `offset` from the buckets of the last minute; call about once a second. */
  update(now) {
    const current = Math.floor(now / this.bucketMs);
    const recent = [];
    for (let i = 0; i < this.mins.length; i += 1) {
      const fresh = current - this.ids[i] < this.mins.length;
      if (fresh && Number.isFinite(this.mins[i])) recent.push(this.mins[i]);
    }
    if (recent.length === 0) return this.offset; // no traffic: keep the last estimate
    recent.sort((a, b) => a - b);
    this.offset = recent[Math.floor((recent.length - 1) / 2)];
    return this.offset;
  }
}
