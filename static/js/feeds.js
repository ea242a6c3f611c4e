// Feed status board (#feeds): one line per exchange connection and one per feed
// (exchange, pair), with the effective state, the detail text of the status that
// decided it, and the age of the last message seen.
//
// Effective state of a feed (the server contract):
//   a pair-level `error` wins; otherwise a non-`live` exchange-level state shows;
//   otherwise the pair-level state (or the exchange-level one when the pair has none).

import { ageText, feedKey } from "./format.js";

export const STATES = ["live", "connecting", "reconnecting", "stale", "error", "unknown"];
const UNKNOWN = { state: "unknown", detail: "", t: NaN };

function effective(pairStatus, exchangeStatus) {
  if (pairStatus && pairStatus.state === "error") return pairStatus;
  if (exchangeStatus && exchangeStatus.state !== "live") return exchangeStatus;
  return pairStatus || exchangeStatus || UNKNOWN;
}

function maxTime(a, b) {
  if (!Number.isFinite(b)) return a;
  return Number.isFinite(a) && a >= b ? a : b;
}

function cell(row, cls) {
  const td = document.createElement("td");
  td.className = cls;
  row.appendChild(td);
  return td;
}

function makeRow(cls, exchange, pair) {
  const tr = document.createElement("tr");
  tr.className = cls;
  tr.dataset.exchange = exchange;
  if (pair !== null) tr.dataset.pair = pair;
  tr.dataset.state = "unknown";
  const ex = cell(tr, "exchange");
  ex.textContent = exchange;
  const p = cell(tr, "pair");
  p.textContent = pair === null ? "connection" : pair;
  if (pair !== null) p.title = pair; // the full text when the column clips it
  const state = cell(tr, "state");
  const badge = document.createElement("span");
  badge.className = "state-badge";
  state.appendChild(badge);
  cell(tr, "detail");
  cell(tr, "age");
  return tr;
}

export class FeedBoard {
  /**
   * @param {HTMLTableSectionElement} tbody  rows go here, sorted by exchange then pair
   * @param {HTMLElement|null} summary       "#feed-summary": counts of feeds per state
   * @param {(key: string, state: string) => void} onStateChange  told when a feed's effective state changes
   */
  constructor(tbody, summary, onStateChange) {
    this.tbody = tbody;
    this.summary = summary;
    this.onStateChange = onStateChange || (() => {});
    this.exchanges = new Map(); // exchange -> {name, status, lastT, row, feeds: Map pair -> feed}
    this.feeds = new Map(); // feedKey -> {exchange, pair, key, status, lastT, row, state}
    this.dirty = new Set(); // feeds/exchanges whose row needs a repaint
    this.orderChanged = false;
  }

  _exchange(name) {
    let ex = this.exchanges.get(name);
    if (!ex) {
      const row = makeRow("exchange-status", name, null);
      ex = { name, status: null, lastT: NaN, row, feeds: new Map() };
      this.exchanges.set(name, ex);
      this.orderChanged = true;
      this.dirty.add(ex);
    }
    return ex;
  }

  _feed(exchange, pair) {
    const ex = this._exchange(exchange);
    let feed = ex.feeds.get(pair);
    if (!feed) {
      const key = feedKey(exchange, pair);
      const row = makeRow("feed", exchange, pair);
      feed = { exchange, pair, key, ex, status: null, lastT: NaN, row, state: "" };
      ex.feeds.set(pair, feed);
      this.feeds.set(key, feed);
      this.orderChanged = true;
      this.dirty.add(feed);
    }
    return feed;
  }

  /** Record a status; exchange-level (pair null) statuses touch every feed of that exchange. */
  applyStatus(s) {
    if (s.pair === null) {
      const ex = this._exchange(s.exchange);
      if (!ex.status || !(s.t < ex.status.t)) ex.status = s;
      ex.lastT = maxTime(ex.lastT, s.t);
      this.dirty.add(ex);
      for (const feed of ex.feeds.values()) this.dirty.add(feed);
      return;
    }
    const feed = this._feed(s.exchange, s.pair);
    if (!feed.status || !(s.t < feed.status.t)) feed.status = s;
    this.touch(s.exchange, s.pair, s.t);
  }

  /** Note a message (ticker, trade or status) for a feed at time t (ms). */
  touch(exchange, pair, t) {
    const feed = this._feed(exchange, pair);
    feed.lastT = maxTime(feed.lastT, t);
    feed.ex.lastT = maxTime(feed.ex.lastT, t);
    this.dirty.add(feed);
    this.dirty.add(feed.ex);
  }

  /** Effective state of a feed, or "unknown". */
  stateOf(key) {
    const feed = this.feeds.get(key);
    return feed ? feed.state || "unknown" : "unknown";
  }

  /** Apply pending changes to the DOM; called once per animation frame at most. */
  render(now) {
    if (this.dirty.size === 0 && !this.orderChanged) return;
    let statesChanged = false;
    for (const item of this.dirty) {
      if (item.feeds) {
        this._paint(item.row, item.status || UNKNOWN, item.lastT, now);
      } else {
        const eff = effective(item.status, item.ex.status);
        this._paint(item.row, eff, item.lastT, now);
        if (eff.state !== item.state) {
          item.state = eff.state;
          statesChanged = true;
          this.onStateChange(item.key, item.state);
        }
      }
    }
    this.dirty.clear();
    if (this.orderChanged) this._reorder();
    if (statesChanged || this.orderChanged) this._summarise();
    this.orderChanged = false;
  }

  /** Refresh the "n s ago" texts; called once a second. */
  updateAges(now) {
    for (const ex of this.exchanges.values()) {
      setText(ex.row.lastElementChild, ageText(now - ex.lastT));
      for (const feed of ex.feeds.values()) setText(feed.row.lastElementChild, ageText(now - feed.lastT));
    }
  }

  _paint(row, status, lastT, now) {
    if (row.dataset.state !== status.state) row.dataset.state = status.state;
    const [, , stateCell, detailCell, ageCell] = row.cells;
    setText(stateCell.firstChild, status.state);
    setText(detailCell, status.detail);
    detailCell.title = status.detail;
    setText(ageCell, ageText(now - lastT));
  }

  _reorder() {
    const byName = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
    const frag = document.createDocumentFragment();
    for (const name of [...this.exchanges.keys()].sort(byName)) {
      const ex = this.exchanges.get(name);
      frag.appendChild(ex.row);
      for (const pair of [...ex.feeds.keys()].sort(byName)) frag.appendChild(ex.feeds.get(pair).row);
    }
    this.tbody.appendChild(frag);
  }

  _summarise() {
    if (!this.summary) return;
    const counts = new Map();
    for (const feed of this.feeds.values()) counts.set(feed.state, (counts.get(feed.state) || 0) + 1);
    const frag = document.createDocumentFragment();
    const total = document.createElement("span");
    total.className = "summary-total";
    total.textContent = `${this.feeds.size} feed${this.feeds.size === 1 ? "" : "s"}`;
    frag.appendChild(total);
    for (const state of STATES) {
      const n = counts.get(state);
      if (!n) continue;
      const span = document.createElement("span");
      span.className = "summary-state";
      span.dataset.state = state;
      span.dataset.count = String(n);
      span.textContent = `${n} ${state}`;
      frag.appendChild(span);
    }
    this.summary.replaceChildren(frag);
  }
}

function setText(node, value) {
  if (node.textContent !== value) node.textContent = value;
}
