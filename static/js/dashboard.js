/*
 * Live market dashboard: the browser side.
 *
 * Wire (Socket.IO, default namespace, same origin via io()): on every (re)connect the server
 * first sends `feeds` (the feeds configured now, as GET /api/pairs), then every feed's
 * `status`, the latest `ticker` per feed and the trades this page missed (it hands back the
 * last trade `seq` it saw), then live batches of `status`, `ticker` and `trade` (each a list of
 * records; a single object is accepted too). Prices and amounts are decimal strings; the board
 * formats them exactly (decimal.js), and exchange-supplied text reaches the DOM only through
 * textContent. The page also gets the configured feeds in the template (#dashboard-config), so
 * the board is drawn before the first connect.
 *
 * Incoming records are queued and applied at most once per animation frame (and at most four
 * times a second), with a fallback timer for hidden tabs, where the queue is coalesced: latest
 * ticker per feed, last max_rows trades, latest status per feed. Lists, trade-id set, board and
 * chart rings are all bounded: nothing grows with uptime.
 *
 * Freshness: a value is live only while its feed is live and the page is connected. When the
 * link to the server drops, every board row and feed row says `offline` at once, the header
 * counts them so, and a banner says since when.
 *
 * DOM contract (read by tests/browser and by tests outside this repository; keep in step with
 * templates/index.html):
 *   body[data-max-rows]              cap per list (from the template's max_rows)
 *   body[data-connection]            mirrors #connection[data-state]
 *   body[data-wall]                  wall mode (large type); html[data-bs-theme] dark | light
 *   body[data-wake-lock]             active | refused | unsupported | released | off
 *   #connection[data-state]          connecting (before the first connect) | connected |
 *                                    silent (connected, nothing heard for 4 s) | reconnecting |
 *                                    offline; text e.g. "reconnecting (attempt 3)";
 *                                    [data-attempt] holds the reconnect attempt number
 *   #offline-banner                  shown while not connected: "Disconnected from the server
 *                                    since HH:MM:SS UTC (42 s), retrying", or while silent "No
 *                                    word from the server since ..."; [data-since] ms
 *   #clock                           UTC time: the browser clock corrected by the offset seen
 *                                    between live records' times and their arrival
 *   #feed-summary                    "<n> feeds" then span.summary-state[data-state][data-count]
 *                                    per board state (live, stale, reconnecting, error, offline)
 *                                    of the feeds on this screen
 *   #dash[data-views]                the views shown ("board chart"); each section
 *                                    [data-view] is hidden when not in it
 *   #board                           one .board-card[data-base] per base currency, in the
 *                                    configured order; in it one tbody.board-pair[data-pair] per
 *                                    pair (venues quoting in another currency are another pair),
 *                                    with [data-spread] (lowest ask - highest bid among its live
 *                                    venues, exact, negative when crossed), [data-mid] and
 *                                    [data-crossed]; in it one
 *     tr.venue[data-exchange][data-pair][data-state]   per configured feed: data-state is
 *                                    live | stale | reconnecting | error | offline, plus
 *                                    [data-best-bid] / [data-best-ask] on the highest bid /
 *                                    lowest ask among the pair's live venues, [data-error];
 *       cells: th.exchange, td.bid, td.ask, td.last (each with [data-value] = the exact string,
 *       span.shown = formatted, span.visually-hidden = exact; .best when marked; flash-up /
 *       flash-down for at most 0.8 s, at most once a second), td.change, td.volume,
 *       td.detail (the error, one line), td.age (span.state-word, span.age-text)
 *   #feeds tbody tr.exchange-status[data-exchange][data-state]
 *                                    one per configured exchange (no data-pair attribute)
 *   #feeds tbody tr.feed[data-exchange][data-pair][data-state]
 *                                    one per configured feed, in the configured order;
 *                                    data-state: live | connecting | reconnecting | stale |
 *                                    error | unknown, or offline while the page is disconnected
 *     cells (both row kinds): td.exchange, td.pair ("connection" on exchange rows),
 *       td.state > span.state-badge (state text), td.detail (one line, full text in title),
 *       td.age ("3 s ago")
 *   #tickers tbody tr[data-exchange][data-pair]       newest first, at most max_rows
 *     cells: td.time (HH:MM:SS.mmm UTC), td.exchange, td.pair, td.bid, td.ask, td.last
 *   #trades tbody tr[data-exchange][data-pair][data-id][data-side]   newest first, at most max_rows
 *     cells: td.time, td.exchange, td.pair, td.price, td.amount, td.side ("buy" / "sell")
 *   (both lists are filled only while shown; what arrives meanwhile waits, capped, until then)
 *   #tickers-count, #trades-count    rows shown
 *   #charts figure.chart-panel[data-pair][data-series][data-points][data-from-candles]
 *                                    one uPlot per pair, one line per exchange (candle closes);
 *                                    .chart-last[data-value] the pair's last trade price
 *   window.dashboardStats()          sizes of every bounded structure, for long-uptime tests:
 *                                    {maxRows, tickerRows, tradeRows, tradeKeys, backlog,
 *                                     boardRows, boardPairs, chartSlots, chartPoints,
 *                                     chartLines, feeds, pending, tradesApplied}
 */

import { installAlerts } from "./alerts.js";
import { Board } from "./board.js";
import { Charts, SPANS } from "./chart.js";
import { FeedBoard } from "./feeds.js";
import { ClockSkew, asList, feedKey, normStatus, normTicker, normTrade, tradeKey } from "./format.js";
import { Screen, feedShown } from "./screen.js";
import { tickerList, tradeList } from "./tables.js";

const MIN_FLUSH_INTERVAL_MS = 250; // the lists at most 4 times a second
// The board repaints its prices once a second (with the ages), and at once when a state
// changes; the charts redraw every CHART_EVERY_S. A wall screen is calm, and a small board
// computer rasterizes a whole board in software: a few repaints a second is its CPU budget.
const CHART_EVERY_S = 2;
const FALLBACK_FLUSH_MS = 1000; // apply the queue even if no animation frame comes
const DEFAULT_MAX_ROWS = 500;
const SNAPSHOT_GRACE_MS = 2000; // records this soon after a connect may be the (old) snapshot
const BOARD_STATES = ["live", "stale", "reconnecting", "error", "offline"];

const $ = (id) => document.getElementById(id);

function readMaxRows() {
  const n = Number.parseInt(document.body.dataset.maxRows, 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 10000) : DEFAULT_MAX_ROWS;
}

function readConfig() {
  try {
    const config = JSON.parse($("dashboard-config").textContent);
    return config && Array.isArray(config.feeds) ? config : { feeds: [] };
  } catch {
    return { feeds: [] };
  }
}

const maxRows = readMaxRows();
const skew = new ClockSkew();

/** Browser time on the server's clock. */
function serverNow() {
  return Date.now() - skew.offset;
}

// ---- views --------------------------------------------------------------------------

const board = new Board($("board"), serverNow);
const feeds = new FeedBoard($("feeds").tBodies[0], (key, state, detail) => {
  board.setFeedState(key, state, detail);
  summaryDirty = true;
});
const charts = new Charts($("charts"), $("chart-legend"), serverNow);
const tickers = tickerList($("tickers").tBodies[0], maxRows);
// trade ids are unique per exchange; a trade without one is never treated as a duplicate
const trades = tradeList($("trades").tBodies[0], maxRows, (r) =>
  r.id === "" ? null : tradeKey(r.exchange, r.id),
);
// what arrived for a list while it was not shown, applied when it is (capped like the list)
const backlog = { tickers: [], trades: [] };
let tradesApplied = 0;
let summaryDirty = true;

let configured = null; // the feeds configured now: [{exchange, pair, state, detail}]
const screen = new Screen($("screen-form"), () => applyScreen(true));

/** Position of an exchange in the configured list: its colour on every chart. */
function exchangeIndex(exchange) {
  const names = [...new Set((configured || []).map((f) => f.exchange))];
  const i = names.indexOf(exchange);
  return i < 0 ? names.length : i;
}

function shownFeeds() {
  return (configured || []).filter((f) => feedShown(screen.state, f.exchange, f.pair));
}

/** The configured feeds changed (page load, or a connect to a server with other settings). */
function configure(list) {
  const same = configured !== null && list.length === configured.length
    && list.every((f, i) => f.exchange === configured[i].exchange && f.pair === configured[i].pair);
  configured = list.map((f) => ({ exchange: String(f.exchange), pair: String(f.pair),
    symbol: f.symbol == null ? null : String(f.symbol),
    state: f.state ? String(f.state) : "unknown", detail: f.detail ? String(f.detail) : "" }));
  feeds.configure(configured); // also resets every feed's state to the server's word
  screen.setChoices([...new Set(configured.map((f) => f.exchange))],
    [...new Set(configured.map((f) => f.pair))]);
  if (!same) applyScreen(false);
  summaryDirty = true;
}

/** What this screen shows changed: rebuild the board and charts for the feeds shown. */
function applyScreen(reload) {
  const shown = shownFeeds();
  feeds.show(new Set(shown.map((f) => feedKey(f.exchange, f.pair))));
  feeds.setVisible(screen.shows("feeds"));
  board.configure(shown);
  for (const f of shown) {
    const key = feedKey(f.exchange, f.pair);
    const feed = feeds.feeds.get(key);
    if (feed && feed.state) board.setFeedState(key, feed.state, feed.detail);
  }
  $("board-card").toggleAttribute("data-empty", shown.length === 0);
  const span = screen.state.span;
  // a pair the exchange has no symbol for (it could not be read) has no candles to chart
  charts.configure(shown.filter((f) => f.symbol !== null), exchangeIndex, span);
  charts.setVisible(screen.shows("chart"));
  $("chart-span").textContent = `${span === "15m" ? "15 min" : span.replace("h", " h")}, `
    + `${SPANS[span].interval.replace("m", "-minute").replace("1h", "1-hour")} closes, UTC`;
  if (reload || connected) charts.load();
  showLists();
  summaryDirty = true;
  flushNow();
  fitBoard();
}

/** Rows as tall as the board's spare height allows (at most 0.6 rem more padding a side). */
function fitBoard() {
  if (!screen.shows("board")) return;
  const rem = Number.parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  board.fit($("board-card"), Math.round(0.6 * rem));
}
if (typeof ResizeObserver === "function") {
  let fitId = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(fitId);
    fitId = requestAnimationFrame(fitBoard);
  }).observe($("board-card"));
}

function showLists() {
  const keep = (exchange, pair) => feedShown(screen.state, exchange, pair);
  tickers.retain(keep);
  trades.retain(keep);
  backlog.tickers = backlog.tickers.filter((r) => keep(r.exchange, r.pair));
  backlog.trades = backlog.trades.filter((r) => keep(r.exchange, r.pair));
  if (screen.shows("tickers") && backlog.tickers.length) {
    tickers.insert(backlog.tickers.splice(0));
  }
  if (screen.shows("trades") && backlog.trades.length) {
    tradesApplied += trades.insert(backlog.trades.splice(0));
  }
}

function pushCapped(arr, item, limit) {
  arr.push(item);
  if (arr.length >= 2 * limit) arr.splice(0, arr.length - limit);
}

// ---- inbox: records waiting for the next frame ----------------------------------------

/** Pending records between two flushes; bounded whatever the arrival rate. */
class Inbox {
  constructor(limit) {
    this.limit = limit;
    this.clear();
  }

  clear() {
    this.feeds = null; // a new list of configured feeds, applied before the statuses
    this.statuses = new Map(); // exchange/pair -> latest status (a newer one replaces)
    this.latest = new Map(); // feedKey -> latest ticker, so the board never misses one
    this.tickers = []; // every ticker, for the running list (only while visible)
    this.trades = [];
  }

  get empty() {
    return this.feeds === null && this.statuses.size === 0 && this.latest.size === 0
      && this.trades.length === 0;
  }

  setFeeds(list) {
    this.feeds = list;
    this.statuses.clear(); // statuses from before this connect are superseded by its snapshot
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
      feeds: this.feeds,
      statuses: [...this.statuses.values()],
      tickers: tickerRows,
      trades: this.trades.slice(-this.limit),
    };
    this.clear();
    return batch;
  }
}

const inbox = new Inbox(maxRows);
// the last ticker time per feed outside the board (seeded pairs), so a re-sent one is not
// listed twice; bounded by the pairs storage holds
const listedTicker = new Map();

let connectedAt = -Infinity; // Date.now() of the last connect
let connected = false;

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
  // the running lists and the feed table draw at once, in an animation frame; the board and
  // charts draw on the once-a-second tick, so without them a flush needs no frame at all
  if (document.hidden) {
    fallbackId = setTimeout(flush, FALLBACK_FLUSH_MS); // coalesced while nobody looks
    return;
  }
  if (!(screen.shows("tickers") || screen.shows("trades") || screen.shows("feeds"))) {
    flush();
    return;
  }
  frameId = requestAnimationFrame(flush);
  fallbackId = setTimeout(flush, FALLBACK_FLUSH_MS);
}

function flush() {
  clearTimeout(waitId);
  cancelAnimationFrame(frameId);
  clearTimeout(fallbackId);
  waitId = frameId = fallbackId = 0;
  flushPending = false;
  lastFlush = performance.now();
  if (!inbox.empty) apply(inbox.take());
  render();
}

function flushNow() {
  if (!inbox.empty) apply(inbox.take());
  render();
}

function apply(batch) {
  if (batch.feeds) configure(batch.feeds);
  for (const s of batch.statuses) feeds.applyStatus(s);

  const showTickers = screen.shows("tickers");
  const newTickers = [];
  for (const r of batch.tickers) {
    feeds.touch(r.exchange, r.pair, r.t);
    if (!feedShown(screen.state, r.exchange, r.pair)) continue; // not on this screen
    // a ticker identical to the one shown (re-sent on reconnect) is not listed twice
    let result = board.applyTicker(r);
    if (result === "") {
      const key = feedKey(r.exchange, r.pair);
      const prev = listedTicker.get(key);
      result = prev !== undefined && r.t <= prev ? "same" : "new";
      if (result === "new") listedTicker.set(key, r.t);
    }
    if (result !== "same") newTickers.push(r);
  }
  if (showTickers) tickers.insert(newTickers);
  else for (const r of newTickers) pushCapped(backlog.tickers, r, maxRows);

  const shownTrades = [];
  for (const r of batch.trades) {
    feeds.touch(r.exchange, r.pair, r.t);
    charts.addTrade(r);
    if (feedShown(screen.state, r.exchange, r.pair)) shownTrades.push(r);
  }
  if (screen.shows("trades")) tradesApplied += trades.insert(shownTrades);
  else for (const r of shownTrades) pushCapped(backlog.trades, r, maxRows);
}

function render() {
  const now = serverNow();
  feeds.render(now);
  if (board.urgent) board.render(); // prices wait for the once-a-second tick
  if (summaryDirty) {
    renderSummary();
    fitBoard(); // a state change may wrap a row's age text: fit again
  }
  setCount("tickers-count", tickers.size);
  setCount("trades-count", trades.size);
  markEmpty("feeds", feeds.feeds.size);
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

/** "<n> feeds" and a chip per state of the values on this screen: the header's live count. */
function renderSummary() {
  summaryDirty = false;
  const counts = board.counts();
  const total = board.venues.size;
  const frag = document.createDocumentFragment();
  const head = document.createElement("span");
  head.className = "summary-total";
  head.textContent = `${total} feed${total === 1 ? "" : "s"}`;
  frag.appendChild(head);
  for (const state of BOARD_STATES) {
    const n = counts.get(state) || 0;
    if (!n && state !== "live") continue; // "0 live" is said, not left out
    const span = document.createElement("span");
    span.className = "summary-state";
    span.dataset.state = state;
    span.dataset.count = String(n);
    span.textContent = `${n} ${state}`;
    frag.appendChild(span);
  }
  $("feed-summary").replaceChildren(frag);
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

// ---- once a second: ages, clock, charts, banner ------------------------------------------

let ticks = 0;

function tick() {
  if (document.hidden) return;
  ticks += 1;
  skew.update(Date.now());
  const now = serverNow();
  feeds.updateAges(now);
  // a tint lasts until the next second's repaint, in the same frame: one frame a second
  board.clearFlashes();
  board.updateAges(); // and the prices that changed in the last second
  if (ticks % CHART_EVERY_S === 0) charts.render();
  $("clock").textContent = `${new Date(now).toISOString().slice(0, 19).replace("T", " ")} UTC`;
  updateBanner();
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  flush();
  tick();
});

// ---- the Socket.IO link ----------------------------------------------------------------

const connection = $("connection");
const banner = $("offline-banner");
let lostAt = null; // Date.now() when the link went down (null while connected or never up)
// A link can die without a close: a pulled cable, a Wi-Fi drop, a proxy that holds the socket.
// The server pings every 2 s (dashboard/app.py), so a healthy link is never quiet for long;
// after SILENCE_MS without a ping or a message the page stops calling anything live, while
// Engine.IO's own ping timeout (10 s) decides when to drop and reconnect.
const SILENCE_MS = 4000;
let heardAt = Date.now();
let silent = false; // connected, but nothing heard for SILENCE_MS
// The last trade `seq` seen: on every (re)connect the auth payload hands it back, and the server
// answers with exactly the trades missed since, instead of its whole recent list.
let lastTradeSeq = null;
const socket = io({ // same origin; reconnects by itself with backoff
  auth: (send) => send(lastTradeSeq === null ? {} : { after: lastTradeSeq }),
  // straight to a websocket: one connection, no long-polling requests and no upgrade to race
  // with; HTTP long-polling only where a websocket can't be opened (a proxy that blocks them)
  transports: ["websocket", "polling"],
  tryAllTransports: true,
});
installAlerts(socket);

function showConnection(state, text, title = "") {
  connection.dataset.state = state;
  connection.textContent = text;
  connection.title = title;
  document.body.dataset.connection = state;
}

/** The link is down: nothing on the page is live any more, and the page says so. */
function linkLost() {
  if (connected || lostAt === null) lostAt = Date.now();
  connected = false;
  feeds.setOnline(false);
  board.setOnline(false);
  summaryDirty = true;
  updateBanner();
  flushNow();
}

function updateBanner() {
  if (connected) {
    if (!banner.hidden) banner.hidden = true;
    return;
  }
  const since = lostAt === null ? Date.now() : lostAt;
  const at = new Date(since - skew.offset).toISOString().slice(11, 19);
  const attempt = connection.dataset.attempt ? ` (attempt ${connection.dataset.attempt})` : "";
  const seconds = Math.round((Date.now() - since) / 1000);
  let text;
  if (lostAt === null) text = "Connecting to the server\u2026 nothing shown is live yet.";
  else if (silent) {
    text = `No word from the server since ${at} UTC (${seconds} s): the link may be down, `
      + "waiting. Nothing shown is live.";
  } else {
    text = `Disconnected from the server since ${at} UTC (${seconds} s), retrying${attempt}. `
      + "Nothing shown is live.";
  }
  if (banner.textContent !== text) banner.textContent = text;
  banner.dataset.since = String(since);
  banner.hidden = false;
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
  const wasLost = lostAt !== null;
  silent = false;
  heardAt = Date.now();
  connectedAt = Date.now();
  connected = true;
  lostAt = null;
  manualRetries = 0;
  delete connection.dataset.attempt;
  showConnection("connected", "connected");
  feeds.setOnline(true);
  board.setOnline(true);
  summaryDirty = true;
  updateBanner();
  // The server sends `feeds` and its snapshot by itself (statuses, latest tickers, the trades
  // missed since lastTradeSeq); duplicates are absorbed by the trade-id set and the board.
  // The charts fill from stored candles: at first, and over the gap after an outage.
  if (wasLost || charts.loads === 0) charts.load();
  flushNow();
}

socket.on("connect", onConnect);

/** A ping or a message came in: a link that had gone quiet is back, with what it held. */
function heard() {
  heardAt = Date.now();
  if (silent && socket.connected) onConnect();
}
socket.io.on("ping", heard);
socket.io.on("packet", heard);
setInterval(() => {
  if (connected && Date.now() - heardAt > SILENCE_MS) {
    silent = true;
    showConnection("silent", "no word from the server", `nothing heard for ${SILENCE_MS / 1000} s`);
    linkLost();
  }
}, 500);

socket.on("disconnect", (reason) => {
  silent = false;
  if (socket.active) {
    showConnection("reconnecting", "reconnecting", reason);
  } else {
    showConnection("offline", "offline", reason);
    retryLater();
  }
  linkLost();
});

socket.on("connect_error", (err) => {
  const why = err && err.message ? err.message : "connection error";
  if (socket.active) {
    if (connection.dataset.state !== "reconnecting") showConnection("reconnecting", "reconnecting", why);
  } else {
    showConnection("offline", "offline", why);
    retryLater();
  }
  linkLost();
});

socket.io.on("reconnect_attempt", (attempt) => {
  connection.dataset.attempt = String(attempt);
  showConnection("reconnecting", `reconnecting (attempt ${attempt})`, connection.title);
  updateBanner();
});

socket.on("feeds", (payload) => {
  if (Array.isArray(payload)) {
    inbox.setFeeds(payload.filter((f) => f && f.exchange != null && f.pair != null));
    schedule();
  }
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
  backlog: backlog.tickers.length + backlog.trades.length,
  boardRows: board.venues.size,
  boardPairs: board.groups.size,
  chartSlots: charts.slotCount,
  chartPoints: charts.points,
  chartLines: charts.byFeed.size,
  feeds: feeds.feeds.size,
  listedTickers: listedTicker.size,
  pending: inbox.tickers.length + inbox.latest.size + inbox.trades.length + inbox.statuses.size,
  tradesApplied,
});

configure(readConfig().feeds);
linkLost(); // nothing is live until the first connect
lostAt = null; // ...but it was never up: the banner says "connecting"
updateBanner();
tick();
setInterval(tick, 1000);
