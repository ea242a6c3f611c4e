// The wall board (#board): one card per base currency (BTC, ETH, ...) in the configured order;
// inside it one group per pair, so venues quoting in another currency (BTC-USD, BTC-USDT) are
// never compared with each other; inside a group one row per exchange with bid, ask, last,
// 24 h change and volume, and the age and state of its quote.
//
// Per group: the highest bid and the lowest ask among its live venues are marked (a box and
// bold type, not colour alone), and the cross-exchange spread (lowest ask - highest bid,
// exact) and mid are shown; a crossed market (highest bid above lowest ask) says so in words.
// Prices show a fixed number of decimals per pair (the most any of its venues used so far),
// padded with zeros, never rounded, with thousands separators; the exact value is in the
// row's text too, for screen readers and for tests.
//
// A value is live only while its feed is live and the page is connected: every row carries
// data-state = live | stale | reconnecting | error | offline, greys when not live and writes
// the state and the age of its value ("stale 42 s").

import {
  compareDecimal,
  decimalString,
  formatAmount,
  formatDecimal,
  formatPrice,
  midDecimal,
  parseDecimal,
  significantDecimals,
  subtractDecimal,
} from "./decimal.js";
import { durationText, feedKey, splitPair } from "./format.js";

// A changed cell is tinted from one repaint to the next (a second) and then rests for a
// second: it flashes at most every other second, so a busy market never looks permanently lit.
const FLASH_EVERY_MS = 1900;

/** What a board row says about its value, from the feed's state and the page's link. */
export function boardState(feedState, online) {
  if (!online) return "offline";
  switch (feedState) {
    case "live":
    case "stale":
    case "reconnecting":
    case "error":
      return feedState;
    default:
      return "stale"; // connecting or unknown: whatever is shown is not live
  }
}

const COLUMNS = [
  ["exchange", "Exchange"],
  ["bid", "Bid"],
  ["ask", "Ask"],
  ["last", "Last"],
  ["change", "24 h"],
  ["volume", "Vol 24 h"],
  ["age", "Age"],
];

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setText(node, value) {
  if (node.textContent !== value) node.textContent = value;
}

function setTitle(node, value) {
  if (node.title !== value) node.title = value;
}

function setAttr(node, name, value) {
  if (value === null) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== value) {
    node.setAttribute(name, value);
  }
}

/**
 * A cell whose text changes: its content sits in a `div.cell` of fixed height with
 * `contain: strict` (see the CSS), a relayout boundary, so a new value lays out and repaints
 * that box alone instead of the whole table.
 */
function valueCell(cls) {
  const td = el("td", cls);
  td._box = el("div", "cell");
  td.appendChild(td._box);
  return td;
}

/** A price cell: the formatted number (aria-hidden) and the exact value (visually hidden). */
function priceCell(cls, withMark = false) {
  const td = valueCell(`num ${cls}`);
  if (withMark) {
    td._mark = el("span", "dir");
    td._mark.setAttribute("aria-hidden", "true");
    td._box.appendChild(td._mark);
  }
  td._shown = el("span", "shown");
  td._shown.setAttribute("aria-hidden", "true");
  td._exact = el("span", "visually-hidden");
  td._box.append(td._shown, td._exact);
  td._value = "";
  td._flashAt = -Infinity;
  td._flash = "";
  return td;
}

class Venue {
  constructor(group, exchange) {
    this.group = group;
    this.exchange = exchange;
    this.pair = group.pair;
    this.key = feedKey(exchange, group.pair);
    this.ticker = null;
    this.bid = null; // parsed decimals
    this.ask = null;
    this.feedState = "unknown";
    this.detail = "";
    this.state = ""; // what data-state says
    this.tr = el("tr", "venue");
    this.tr.dataset.exchange = exchange;
    this.tr.dataset.pair = group.pair;
    const name = el("th", "exchange", exchange);
    name.scope = "row";
    this.cells = {
      bid: priceCell("bid"),
      ask: priceCell("ask"),
      last: priceCell("last", true),
      change: valueCell("num change"),
      volume: valueCell("num volume"),
      age: valueCell("age"),
      detail: el("td", "detail"),
    };
    this.cells.detail.colSpan = 3; // in place of bid, ask and last while the feed is in error
    this.stateWord = el("span", "state-word");
    this.ageText = el("span", "age-text");
    this.cells.age._box.append(this.stateWord, this.ageText);
    this.tr.append(name, this.cells.bid, this.cells.ask, this.cells.last, this.cells.detail,
      this.cells.change, this.cells.volume, this.cells.age);
  }
}

class Group {
  constructor(pair, base, quote) {
    this.pair = pair;
    this.base = base;
    this.quote = quote;
    this.decimals = 0; // the most any venue of this pair used so far (only grows)
    this.venues = new Map(); // exchange -> Venue, in the configured order
    this.tbody = el("tbody", "board-pair");
    this.tbody.dataset.pair = pair;
    const head = el("tr", "pair-head");
    const th = el("th", "pair-head-cell");
    th.colSpan = COLUMNS.length;
    th.scope = "rowgroup";
    this.name = el("span", "pair-name", pair);
    this.midBox = el("span", "pair-mid");
    this.spreadBox = el("span", "pair-spread");
    const box = el("div", "cell pair-head-box"); // a relayout boundary, as the value cells
    box.append(this.name, this.midBox, this.spreadBox);
    th.appendChild(box);
    head.appendChild(th);
    this.tbody.appendChild(head);
  }
}

export class Board {
  /**
   * @param {HTMLElement} root   #board
   * @param {() => number} now   the server's clock (ms)
   */
  constructor(root, now) {
    this.root = root;
    this.now = now;
    this.online = false;
    this.groups = new Map(); // pair -> Group
    this.venues = new Map(); // feedKey -> Venue
    this.dirtyVenues = new Set();
    this.dirtyGroups = new Set();
    this.flashing = new Set(); // cells with a flash class on
    // a state changed (live, stale, offline...): worth a repaint now, not at the next second
    this.urgent = false;
  }

  /**
   * Build the cards for these feeds ([{exchange, pair}] in the configured order); values of
   * feeds that stay are kept.
   */
  configure(feeds) {
    const old = this.venues;
    this.groups = new Map();
    this.venues = new Map();
    this.flashing.clear();
    const cards = new Map(); // base -> {card, table}
    for (const { exchange, pair } of feeds) {
      let group = this.groups.get(pair);
      if (!group) {
        const [base, quote] = splitPair(pair);
        group = new Group(pair, base, quote);
        this.groups.set(pair, group);
        let card = cards.get(base);
        if (!card) {
          card = this._card(base);
          cards.set(base, card);
        }
        card.table.appendChild(group.tbody);
        group.card = card;
      }
      if (group.venues.has(exchange)) continue;
      const venue = new Venue(group, exchange);
      const before = old.get(venue.key);
      if (before) {
        venue.ticker = before.ticker;
        venue.feedState = before.feedState;
        venue.detail = before.detail;
      }
      group.venues.set(exchange, venue);
      group.tbody.appendChild(venue.tr);
      this.venues.set(venue.key, venue);
      this.dirtyVenues.add(venue);
      this.dirtyGroups.add(group);
    }
    for (const venue of this.venues.values()) {
      if (venue.ticker) this._takeTicker(venue, venue.ticker);
    }
    const frag = document.createDocumentFragment();
    for (const { card } of cards.values()) frag.appendChild(card);
    this.root.replaceChildren(frag);
    this.root.dataset.pairs = String(this.groups.size);
    this.render();
  }

  _card(base) {
    const card = el("article", "board-card");
    card.dataset.base = base;
    const title = el("h2", "board-base", base);
    const table = el("table", "board-table");
    // widths come from the columns (fixed layout: a new price never re-measures the table);
    // a narrow card gives the 24 h columns zero width (container queries in the CSS)
    const cols = el("colgroup");
    for (const [cls] of COLUMNS) cols.appendChild(el("col", `col-${cls}`));
    table.appendChild(cols);
    const head = el("thead");
    const row = el("tr");
    for (const [cls, label] of COLUMNS) {
      const th = el("th", `col-${cls}`, label);
      th.scope = "col";
      row.appendChild(th);
    }
    head.appendChild(row);
    table.appendChild(head);
    card.append(title, table);
    // characters of its widest price so far: the price columns are sized for it (CSS --digits),
    // so a price is never cut and the columns don't move with every tick
    return { card, table, digits: 0 };
  }

  /**
   * Taller rows when the board has spare height (a wall screen with few pairs stays calm):
   * the spare height of `box` is shared by the rows of the tallest stack of cards, up to
   * `maxPx` more padding per row side. Call after a rebuild and on resize (it measures).
   */
  fit(box, maxPx) {
    this.root.style.setProperty("--row-extra", "0px");
    const spare = box.clientHeight - this.root.scrollHeight;
    if (spare <= 0 || this.venues.size === 0) return;
    // rows stacked in the tallest column: per grid row (cards sharing a top), the most rows
    const byTop = new Map();
    for (const card of this.root.children) {
      const rows = card.querySelectorAll("tr").length;
      byTop.set(card.offsetTop, Math.max(byTop.get(card.offsetTop) || 0, rows));
    }
    let rows = 0;
    for (const n of byTop.values()) rows += n;
    const extra = Math.min(maxPx, Math.floor((spare - 2) / rows / 2));
    if (extra > 0) this.root.style.setProperty("--row-extra", `${extra}px`);
  }

  /**
   * Show a ticker if it is for a feed on the board and not older than the one shown.
   * Returns "new", "same" (identical to the one shown, e.g. re-sent on reconnect), "old",
   * or "" when the feed is not on the board.
   */
  applyTicker(r) {
    const venue = this.venues.get(feedKey(r.exchange, r.pair));
    if (!venue) return "";
    const prev = venue.ticker;
    if (prev) {
      if (r.t < prev.t) return "old";
      if (r.time === prev.time && r.bid === prev.bid && r.ask === prev.ask && r.last === prev.last
          && r.volume24h === prev.volume24h && r.open24h === prev.open24h) return "same";
    }
    this._takeTicker(venue, r);
    return "new";
  }

  _takeTicker(venue, r) {
    venue.ticker = r;
    venue.bid = parseDecimal(r.bid);
    venue.ask = parseDecimal(r.ask);
    const group = venue.group;
    const decimals = Math.max(group.decimals, significantDecimals(r.bid),
      significantDecimals(r.ask), significantDecimals(r.last));
    if (decimals !== group.decimals) {
      group.decimals = decimals;
      for (const v of group.venues.values()) this.dirtyVenues.add(v);
    }
    this.dirtyVenues.add(venue);
    this.dirtyGroups.add(group);
  }

  /** The feed's effective server state and its detail (the reason, for errors). */
  setFeedState(key, state, detail = "") {
    const venue = this.venues.get(key);
    if (!venue || (venue.feedState === state && venue.detail === detail)) return;
    venue.feedState = state;
    venue.detail = detail;
    this.dirtyVenues.add(venue);
    this.dirtyGroups.add(venue.group);
    this.urgent = true;
  }

  setOnline(online) {
    if (online === this.online) return;
    this.online = online;
    for (const venue of this.venues.values()) this.dirtyVenues.add(venue);
    this.urgent = true;
  }

  /** Counts of rows per data-state, for the header. */
  counts() {
    const counts = new Map();
    for (const venue of this.venues.values()) {
      counts.set(venue.state, (counts.get(venue.state) || 0) + 1);
    }
    return counts;
  }

  /** Apply what changed since the last call: once a second, and at once for a state change. */
  render() {
    this.urgent = false;
    const now = this.now();
    const wall = performance.now();
    for (const venue of this.dirtyVenues) this._paintVenue(venue, now, wall);
    this.dirtyVenues.clear();
    for (const group of this.dirtyGroups) this._paintGroup(group);
    this.dirtyGroups.clear();
  }

  /** Refresh the ages and the prices that changed; once a second. */
  updateAges() {
    const now = this.now();
    for (const venue of this.venues.values()) this._paintAge(venue, now);
    this.render();
  }

  /** End the flashes; the page calls it just before its once-a-second repaint. */
  clearFlashes() {
    for (const td of this.flashing) {
      td._box.classList.remove(td._flash);
      td._flash = "";
    }
    this.flashing.clear();
  }

  _paintVenue(venue, now, wall) {
    const state = boardState(venue.feedState, this.online);
    if (state !== venue.state) {
      venue.state = state;
      venue.tr.dataset.state = state;
    }
    const c = venue.cells;
    const r = venue.ticker;
    const decimals = venue.group.decimals;
    this._paintPrice(c.bid, r ? r.bid : "", decimals, wall);
    this._paintPrice(c.ask, r ? r.ask : "", decimals, wall);
    const moved = this._paintPrice(c.last, r ? r.last : "", decimals, wall);
    const card = venue.group.card;
    const digits = Math.max(c.bid._shown.textContent.length, c.ask._shown.textContent.length,
      c.last._shown.textContent.length);
    if (digits > card.digits) {
      card.digits = digits;
      card.card.style.setProperty("--digits", String(digits)); // CSSOM: allowed by the CSP
    }
    if (moved) {
      setText(c.last._mark, moved > 0 ? "\u25B2" : "\u25BC");
      c.last._mark.dataset.dir = moved > 0 ? "up" : "down";
    }
    this._paintChange(c.change, r);
    const volume = r ? r.volume24h : "";
    setText(c.volume._box, formatAmount(volume));
    setTitle(c.volume, volume ? `24 h volume ${volume} ${venue.group.base}` : "");
    const error = state === "error" || (!this.online && venue.feedState === "error");
    setText(c.detail, error ? venue.detail || "error" : "");
    setTitle(c.detail, error ? venue.detail : "");
    venue.tr.toggleAttribute("data-error", error);
    this._paintAge(venue, now);
  }

  /** Returns +1 / -1 when the value went up / down, 0 otherwise. */
  _paintPrice(td, value, decimals, wall) {
    const shown = formatPrice(value, decimals);
    setText(td._shown, shown);
    if (td._value === value) return 0;
    const prev = td._value;
    td._value = value;
    setText(td._exact, value);
    if (value) td.dataset.value = value;
    else delete td.dataset.value;
    const a = parseDecimal(prev);
    const b = parseDecimal(value);
    if (!a || !b) return 0;
    const direction = compareDecimal(b, a);
    if (direction !== 0 && wall - td._flashAt >= FLASH_EVERY_MS) {
      // classes go on the inner box: a class change on a table cell re-lays out the table
      if (td._flash) td._box.classList.remove(td._flash);
      td._flash = direction > 0 ? "flash-up" : "flash-down";
      td._box.classList.add(td._flash);
      td._flashAt = wall;
      this.flashing.add(td);
    }
    return direction;
  }

  _paintChange(td, r) {
    const last = r ? Number(r.last) : NaN;
    const open = r ? Number(r.open24h) : NaN;
    if (!r || !r.open24h || !Number.isFinite(last) || !Number.isFinite(open) || open === 0) {
      setText(td._box, "");
      delete td._box.dataset.sign;
      return;
    }
    // a display figure only: the exact values are in the row
    const pct = ((last - open) / open) * 100;
    const sign = pct > 0 ? "+" : pct < 0 ? "\u2212" : "";
    setText(td._box, `${sign}${Math.abs(pct).toFixed(2)} %`);
    td._box.dataset.sign = pct > 0 ? "up" : pct < 0 ? "down" : "flat";
    setTitle(td, `open 24 h ${r.open24h}`);
  }

  _paintAge(venue, now) {
    const r = venue.ticker;
    const age = r && Number.isFinite(r.t) ? durationText(now - r.t) : "";
    let word = venue.state;
    if (venue.state === "stale" && venue.feedState !== "stale" && this.online) {
      word = venue.feedState === "unknown" ? "waiting" : venue.feedState; // e.g. "connecting"
    }
    setText(venue.stateWord, word);
    setText(venue.ageText, age);
    setTitle(venue.cells.age, r ? `quote time ${r.time}` : "no quote yet");
  }

  _paintGroup(group) {
    // the best bid / ask among the venues whose value is live on the server's side (an old
    // value of a reconnecting venue must not make a crossed market); while the page is
    // offline the last marks stay, greyed with everything else
    let bestBid = null;
    let bestAsk = null;
    let venues = 0;
    for (const venue of group.venues.values()) {
      if (venue.feedState !== "live" || !venue.bid || !venue.ask) continue;
      venues += 1;
      if (!bestBid || compareDecimal(venue.bid, bestBid) > 0) bestBid = venue.bid;
      if (!bestAsk || compareDecimal(venue.ask, bestAsk) < 0) bestAsk = venue.ask;
    }
    for (const venue of group.venues.values()) {
      const comparable = venue.feedState === "live" && venue.bid && venue.ask;
      const isBid = Boolean(comparable && compareDecimal(venue.bid, bestBid) === 0);
      const isAsk = Boolean(comparable && compareDecimal(venue.ask, bestAsk) === 0);
      venue.tr.toggleAttribute("data-best-bid", isBid);
      venue.tr.toggleAttribute("data-best-ask", isAsk);
      // the visible mark only where there is something to compare
      venue.cells.bid._box.classList.toggle("best", isBid && venues > 1);
      venue.cells.ask._box.classList.toggle("best", isAsk && venues > 1);
    }
    if (!bestBid) {
      setAttr(group.tbody, "data-spread", null);
      setAttr(group.tbody, "data-mid", null);
      group.tbody.removeAttribute("data-crossed");
      setText(group.midBox, "");
      setText(group.spreadBox, venues === 0 ? "no live quote" : "");
      return;
    }
    const spread = subtractDecimal(bestAsk, bestBid);
    const mid = midDecimal(bestBid, bestAsk);
    const crossed = spread.units < 0n;
    setAttr(group.tbody, "data-spread", decimalString(spread));
    setAttr(group.tbody, "data-mid", decimalString(mid));
    group.tbody.toggleAttribute("data-crossed", crossed);
    setText(group.midBox, `mid ${formatDecimal(mid, group.decimals)}`);
    const bp = (Number(decimalString(spread)) / Number(decimalString(mid))) * 1e4;
    const bpText = Number.isFinite(bp) ? ` (${Math.abs(bp).toFixed(1)} bp)` : "";
    const amount = formatDecimal({ units: crossed ? -spread.units : spread.units,
      scale: spread.scale }, group.decimals);
    const across = venues > 1 ? `across ${venues}` : "1 venue";
    setText(group.spreadBox, crossed ? `CROSSED by ${amount}${bpText}, ${across}`
      : `spread ${amount}${bpText}, ${across}`);
  }
}
