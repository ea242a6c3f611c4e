/*
 * Live market dashboard: the browser side.
 *
 * Wire (Socket.IO, default namespace, same origin via io()): the server emits `status`,
 * `ticker` and `trade`, each a list of records (a single object is accepted too). On every
 * (re)connect it first sends this client every feed's status, the latest ticker per feed
 * and the trades it missed (it hands back the last trade `seq` it saw), then live batches. Prices and amounts are decimal strings shown
 * verbatim; exchange-supplied text reaches the DOM only through textContent.
 *
 * Incoming records are queued and applied at most once per animation frame (and at most
 * four times a second), with a fallback timer for hidden tabs, where the queue is
 * coalesced: latest ticker per feed, last max_rows trades, latest status per feed.
 * Lists, the trade-id set and the chart window are all bounded: nothing grows with uptime.
 *
 * DOM contract (read by tests/browser; keep in step with templates/index.html):
 *   body[data-max-rows]              cap per list (from the template's max_rows)
 *   body[data-connection]            mirrors #connection[data-state]
 *   #connection[data-state]          connecting (before the first connect) | connected |
 *                                    reconnecting | offline; text e.g. "reconnecting (attempt 3)";
 *                                    [data-attempt] holds the reconnect attempt number
 *   #clock                           UTC time: the browser clock corrected by the offset seen
 *                                    between live records' times and their arrival
 *   #feed-summary                    "<n> feeds" then span.summary-state[data-state][data-count]
 *   #feeds tbody tr.exchange-status[data-exchange][data-state]
 *                                    one per exchange connection (no data-pair attribute)
 *   #feeds tbody tr.feed[data-exchange][data-pair][data-state]
 *                                    one per feed; data-state is the effective state:
 *                                    live | connecting | reconnecting | stale | error | unknown
 *     cells (both row kinds): td.exchange, td.pair ("connection" on exchange rows),
 *       td.state > span.state-badge (state text), td.detail (detail text), td.age ("3 s ago")
 *   #quotes tbody tr[data-exchange][data-pair][data-state]
 *                                    one per feed with a ticker, sorted by exchange then pair;
 *     cells: td.exchange, td.pair, td.bid, td.ask, td.last, td.time; a changed price cell
 *       gets class flash-up | flash-down | flash-change (or the same with "-2")
 *   #tickers tbody tr[data-exchange][data-pair]       newest first, at most max_rows
 *     cells: td.time (HH:MM:SS.mmm UTC), td.exchange, td.pair, td.bid, td.ask, td.last
 *   #trades tbody tr[data-exchange][data-pair][data-id][data-side]   newest first, at most max_rows
 *     cells: td.time, td.exchange, td.pair, td.price, td.amount, td.side ("buy" / "sell")
 *   #tickers-count, #trades-count    rows shown
 *   #chart[data-pair][data-series]   uPlot chart of last price for the selected pair,
 *                                    one series per exchange; #chart-pair is the selector,
 *                                    #chart-empty is shown while there are no points
 *   window.dashboardStats()          sizes of every bounded structure, for long-uptime tests:
 *                                    {maxRows, tickerRows, tradeRows, tradeKeys, chartPoints,
 *                                     chartLines, feeds, pending}
 */

import { FeedBoard } from "./feeds.js";
import { ClockSkew, asList, feedKey, normStatus, normTicker, normTrade, tradeKey } from "./format.js";
import { PriceChart } from "./chart.js";
import { QuoteBoard, tickerList, tradeList } from "./tables.js";

const MIN_FLUSH_INTERVAL_MS = 250; // at most 4 repaints a second: readable, and light on a weeks-long page
const FALLBACK_FLUSH_MS = 1000; // apply the queue even if no animation frame comes
const CHART_WINDOW_SEC = 15 * 60;
const DEFAULT_MAX_ROWS = 500;
const SNAPSHOT_GRACE_MS = 2000; // records this soon after a connect may be the (old) snapshot

const $ = (id) => document.getElementById(id);

function readMaxRows() {
  const n = Number.parseInt(document.body.dataset.maxRows, 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 10000) : DEFAULT_MAX_ROWS;
}

const maxRows = readMaxRows();

// ---- views --------------------------------------------------------------------------

const feeds = new FeedBoard($("feeds").tBodies[0], $("feed-summary"), (key, state) =>
  quotes.setState(key, state),
);
const quotes = new QuoteBoard($("quotes").tBodies[0], (key) => feeds.stateOf(key));
const tickers = tickerList($("tickers").tBodies[0], maxRows);
// trade ids are unique per exchange; a trade without one is never treated as a duplicate
const trades = tradeList($("trades").tBodies[0], maxRows, (r) =>
  r.id === "" ? null : tradeKey(r.exchange, r.id),
);
const chart = new PriceChart($("chart"), $("chart-pair"), $("chart-empty"), CHART_WINDOW_SEC);

// ---- inbox: records waiting for the next frame ----------------------------------------

/** Pending records between two flushes; bounded whatever the arrival rate. */
class Inbox {
  constructor(limit) {
    this.limit = limit;
    this.clear();
  }

  clear() {
    this.statuses = new Map(); // exchange/pair -> latest status (a newer one replaces)
    this.latest = new Map(); // feedKey -> latest ticker, so the quote board never misses one
    this.tickers = []; // every ticker, for the running list and chart (only while visible)
    this.trades = [];
  }

  get empty() {
    return this.statuses.size === 0 && this.latest.size === 0 && this.trades.length === 0;
  }

  addStatus(s) {
    const key = s.pair === null ? s.exchange : feedKey(s.exchange, s.pair);
    this.statuses.delete(key); // re-insert so application order follows arrival
    this.statuses.set(key, s);
  }

  addTicker(r, coalesce) {
    const key = feedKey(r.exchange, r.pair);
    const prev = this.latest.get(key);
    if (!prev || !(r.t < prev.t)) this.latest.set(key, r);
    if (!coalesce) pushCapped(this.tickers, r, this.limit);
  }

  addTrade(r) {
    pushCapped(this.trades, r, this.limit);
  }

  /** Everything pending, with the lists cut to the last `limit`; empties the inbox. */
  take() {
    const tickerRows = this.tickers.slice(-this.limit);
    const listed = new Set(tickerRows);
    for (const r of this.latest.values()) if (!listed.has(r)) tickerRows.push(r);
    const batch = {
      statuses: [...this.statuses.values()],
      tickers: tickerRows,
      trades: this.trades.slice(-this.limit),
    };
    this.clear();
    return batch;
  }
}

// Amortised cap: trim back to `limit` once the array reaches twice that.
function pushCapped(arr, item, limit) {
  arr.push(item);
  if (arr.length >= 2 * limit) arr.splice(0, arr.length - limit);
}

const inbox = new Inbox(maxRows);
const skew = new ClockSkew();

let connectedAt = -Infinity; // Date.now() of the last connect

/** Browser time on the server's clock. */
function serverNow() {
  return Date.now() - skew.offset;
}

// ---- applying the queue: at most once per frame ----------------------------------------

let flushPending = false;
let lastFlush = -Infinity;
let waitId = 0; // spacing flushes MIN_FLUSH_INTERVAL_MS apart
let frameId = 0; // the animation frame that applies the queue
let fallbackId = 0; // applies it anyway when no frame comes (hidden tab)

function schedule() {
  if (flushPending) return;
  flushPending = true;
  const wait = lastFlush + MIN_FLUSH_INTERVAL_MS - performance.now();
  if (wait > 0) waitId = setTimeout(requestFlush, wait);
  else requestFlush();
}

function requestFlush() {
  waitId = 0;
  if (!document.hidden) frameId = requestAnimationFrame(flush);
  fallbackId = setTimeout(flush, FALLBACK_FLUSH_MS);
}

function flush() {
  clearTimeout(waitId);
  cancelAnimationFrame(frameId);
  clearTimeout(fallbackId);
  waitId = frameId = fallbackId = 0;
  flushPending = false;
  lastFlush = performance.now();
  if (inbox.empty) return;
  const batch = inbox.take();

  for (const s of batch.statuses) feeds.applyStatus(s);

  const now = serverNow();
  const newTickers = [];
  for (const r of batch.tickers) {
    feeds.touch(r.exchange, r.pair, r.t);
    // a ticker identical to the one shown (re-sent on reconnect) is not listed twice
    if (quotes.update(r) === "same") continue;
    newTickers.push(r);
    chart.add(feedKey(r.exchange, r.pair), r, now);
  }
  tickers.insert(newTickers);

  for (const r of batch.trades) feeds.touch(r.exchange, r.pair, r.t);
  trades.insert(batch.trades);

  feeds.render(now);
  setCount("tickers-count", tickers.size);
  setCount("trades-count", trades.size);
  markEmpty("feeds", feeds.feeds.size + feeds.exchanges.size);
  markEmpty("quotes", quotes.rows.size);
  markEmpty("tickers", tickers.size);
  markEmpty("trades", trades.size);
}

function setCount(id, n) {
  const el = $(id);
  const text = String(n);
  if (el.textContent !== text) el.textContent = text;
}

// The card shows its "no rows yet" note while its table is empty.
function markEmpty(tableId, n) {
  const box = $(tableId).parentElement;
  if ((n === 0) !== box.hasAttribute("data-empty")) box.toggleAttribute("data-empty", n === 0);
}

function receive(payload, normalise, add) {
  const arrival = Date.now();
  for (const raw of asList(payload)) {
    const record = normalise(raw);
    if (!record) continue;
    if (arrival - connectedAt > SNAPSHOT_GRACE_MS) skew.sample(arrival, record.t);
    add(record);
  }
  schedule();
}

// ---- once a second: ages, clock, chart -----------------------------------------------

function tick() {
  if (document.hidden) return;
  skew.update(Date.now());
  const now = serverNow();
  feeds.updateAges(now);
  chart.render(now);
  $("clock").textContent = `${new Date(now).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  flush();
  tick();
});

// ---- the Socket.IO link ----------------------------------------------------------------

const connection = $("connection");
// The last trade `seq` seen: on every (re)connect the auth payload hands it back, and the server
// answers with exactly the trades missed since, instead of its whole recent list.
let lastTradeSeq = null;
const socket = io({ // same origin; reconnects by itself with backoff
  auth: (send) => send(lastTradeSeq === null ? {} : { after: lastTradeSeq }),
});

function showConnection(state, text, title = "") {
  connection.dataset.state = state;
  connection.textContent = text;
  connection.title = title;
  document.body.dataset.connection = state;
}

// After a server-side disconnect or a refused connection the client stops retrying on
// its own; an unattended wall screen should still come back, so retry slowly.
let manualRetryId = 0;
let manualRetries = 0;

function retryLater() {
  if (manualRetryId) return;
  const delay = Math.min(60000, 5000 * 2 ** manualRetries) * (0.5 + Math.random() / 2);
  manualRetries += 1;
  manualRetryId = setTimeout(() => {
    manualRetryId = 0;
    if (!socket.connected && !socket.active) socket.connect();
  }, delay);
}

function onConnect() {
  connectedAt = Date.now();
  manualRetries = 0;
  delete connection.dataset.attempt;
  showConnection("connected", "connected");
  // The server sends its snapshot by itself: statuses, latest tickers, and the trades missed
  // since lastTradeSeq (see the auth payload above); duplicates are absorbed by the trade-id
  // set and the quote board.
}

socket.on("connect", onConnect);

socket.on("disconnect", (reason) => {
  if (socket.active) {
    showConnection("reconnecting", "reconnecting", reason);
  } else {
    showConnection("offline", "offline", reason);
    retryLater();
  }
});

socket.on("connect_error", (err) => {
  const why = err && err.message ? err.message : "connection error";
  if (socket.active) {
    if (connection.dataset.state !== "reconnecting") showConnection("reconnecting", "reconnecting", why);
  } else {
    showConnection("offline", "offline", why);
    retryLater();
  }
});

socket.io.on("reconnect_attempt", (attempt) => {
  connection.dataset.attempt = String(attempt);
  showConnection("reconnecting", `reconnecting (attempt ${attempt})`, connection.title);
});

socket.on("status", (payload) => receive(payload, normStatus, (s) => inbox.addStatus(s)));
socket.on("ticker", (payload) => receive(payload, normTicker, (r) => inbox.addTicker(r, document.hidden)));
socket.on("trade", (payload) => {
  for (const raw of asList(payload)) {
    if (raw && Number.isSafeInteger(raw.seq) && (lastTradeSeq === null || raw.seq > lastTradeSeq)) {
      lastTradeSeq = raw.seq;
    }
  }
  receive(payload, normTrade, (r) => inbox.addTrade(r));
});

// Read-only view of the bounded structures (tests check that none grows with uptime).
window.dashboardStats = () => ({
  maxRows,
  tickerRows: tickers.size,
  tradeRows: trades.size,
  tradeKeys: trades.keys.size,
  chartPoints: chart.points,
  chartLines: chart.lines.size,
  feeds: feeds.feeds.size,
  pending: inbox.tickers.length + inbox.latest.size + inbox.trades.length + inbox.statuses.size,
});

tick();
setInterval(tick, 1000);
