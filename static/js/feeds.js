// Feed states and the feed table (#feeds): one line per exchange connection and one per
// configured feed (exchange, pair), in the configured order, with the effective state, the
// detail of the status that decided it (one line, the full text on hover) and the age of the
// last message.
//
// Only the feeds the server says are configured now are feeds (the list comes with the page
// and again on every connect): a ticker seeded from storage for a pair of an earlier run never
// makes a feed. While the page has lost the server every row says `offline`.
//
// Effective state of a feed (the server contract):
//   a pair-level `error` wins; otherwise a non-`live` exchange-level state shows;
//   otherwise the pair-level state (or the exchange-level one when the pair has none).

import { ageText, feedKey } from "./format.js";

export const STATES = ["live", "connecting", "reconnecting", "stale", "error", "offline", "unknown"];
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
   * @param {HTMLTableSectionElement} tbody  rows go here, in the configured order
   * @param {(key: string, state: string, detail: string) => void} onStateChange
   *        told when a feed's effective state or detail changes
   */
  constructor(tbody, onStateChange) {
    this.tbody = tbody;
    this.onStateChange = onStateChange || (() => {});
    this.exchanges = new Map(); // exchange -> {name, status, lastT, row, feeds: Map pair -> feed}
    this.feeds = new Map(); // feedKey -> {exchange, pair, key, status, lastT, row, state, detail}
    this.dirty = new Set(); // feeds/exchanges whose row needs a repaint
    this.online = false;
    this.shown = null; // Set of feed keys shown (null: all)
    this.visible = true; // the table is on screen; when not, states are kept but not painted
  }

  /** The table is shown or not; a hidden table is painted in full when it shows again. */
  setVisible(visible) {
    if (visible === this.visible) return;
    this.visible = visible;
    if (visible) {
      for (const ex of this.exchanges.values()) {
        this.dirty.add(ex);
        for (const feed of ex.feeds.values()) this.dirty.add(feed);
      }
    }
  }

  /**
   * The feeds configured now, [{exchange, pair, state, detail}] in order (``/api/pairs``).
   * Each feed's state is reset to what the list says, so a state from before a reconnect
   * never outlives it; statuses that follow replace it. Feeds not in the list are dropped.
   */
  configure(list) {
    const exchanges = new Map();
    const feeds = new Map();
    for (const item of list) {
      let ex = exchanges.get(item.exchange);
      if (!ex) {
        const old = this.exchanges.get(item.exchange);
        ex = { name: item.exchange, status: null, lastT: old ? old.lastT : NaN,
          row: old ? old.row : makeRow("exchange-status", item.exchange, null), feeds: new Map() };
        exchanges.set(item.exchange, ex);
      }
      const key = feedKey(item.exchange, item.pair);
      if (feeds.has(key)) continue;
      const old = this.feeds.get(key);
      const feed = {
        exchange: item.exchange, pair: item.pair, key, ex,
        // NaN time: any status that arrives replaces it
        status: { state: item.state || "unknown", detail: item.detail || "", t: NaN },
        lastT: old ? old.lastT : NaN,
        row: old ? old.row : makeRow("feed", item.exchange, item.pair),
        state: old ? old.state : "",
        detail: old ? old.detail : "",
      };
      ex.feeds.set(item.pair, feed);
      feeds.set(key, feed);
    }
    this.exchanges = exchanges;
    this.feeds = feeds;
    const frag = document.createDocumentFragment();
    for (const ex of exchanges.values()) {
      frag.appendChild(ex.row);
      this.dirty.add(ex);
      for (const feed of ex.feeds.values()) {
        frag.appendChild(feed.row);
        this.dirty.add(feed);
      }
    }
    this.tbody.replaceChildren(frag);
    this._applyShown();
  }

  /** Only these feed keys are shown (null: all); the others keep their state, hidden. */
  show(keys) {
    this.shown = keys;
    this._applyShown();
  }

  _applyShown() {
    for (const ex of this.exchanges.values()) {
      let any = false;
      for (const feed of ex.feeds.values()) {
        const visible = this.shown === null || this.shown.has(feed.key);
        feed.row.hidden = !visible;
        any = any || visible;
      }
      ex.row.hidden = !any;
    }
  }

  isFeed(key) {
    return this.feeds.has(key);
  }

  /** Record a status; exchange-level (pair null) statuses touch every feed of that exchange. */
  applyStatus(s) {
    const ex = this.exchanges.get(s.exchange);
    if (!ex) return; // not configured now
    if (s.pair === null) {
      if (!ex.status || !(s.t < ex.status.t)) ex.status = s;
      ex.lastT = maxTime(ex.lastT, s.t);
      this.dirty.add(ex);
      for (const feed of ex.feeds.values()) this.dirty.add(feed);
      return;
    }
    const feed = ex.feeds.get(s.pair);
    if (!feed) return; // a pair not configured now is never a feed
    if (!feed.status || !(s.t < feed.status.t)) feed.status = s;
    this.touch(s.exchange, s.pair, s.t);
  }

  /** Note a message (ticker, trade or status) for a feed at time t (ms). */
  touch(exchange, pair, t) {
    const ex = this.exchanges.get(exchange);
    const feed = ex && ex.feeds.get(pair);
    if (!feed) return;
    feed.lastT = maxTime(feed.lastT, t);
    ex.lastT = maxTime(ex.lastT, t);
    this.dirty.add(feed);
    this.dirty.add(ex);
  }

  /** The page's link to the server: while it is down every row says offline. */
  setOnline(online) {
    if (online === this.online) return;
    this.online = online;
    for (const ex of this.exchanges.values()) {
      this.dirty.add(ex);
      for (const feed of ex.feeds.values()) this.dirty.add(feed);
    }
  }

  /** Effective state of a feed, or "unknown". */
  stateOf(key) {
    const feed = this.feeds.get(key);
    return feed ? feed.state || "unknown" : "unknown";
  }

  /** Apply pending changes to the DOM; called once per animation frame at most. */
  render(now) {
    if (this.dirty.size === 0) return;
    for (const item of this.dirty) {
      if (item.feeds) {
        this._paint(item.row, item.status || UNKNOWN, item.lastT, now);
      } else {
        const eff = effective(item.status, item.ex.status);
        this._paint(item.row, eff, item.lastT, now);
        if (eff.state !== item.state || eff.detail !== item.detail) {
          item.state = eff.state;
          item.detail = eff.detail;
          this.onStateChange(item.key, item.state, item.detail);
        }
      }
    }
    this.dirty.clear();
  }

  /** Refresh the "n s ago" texts; called once a second. */
  updateAges(now) {
    if (!this.visible) return;
    for (const ex of this.exchanges.values()) {
      if (ex.row.hidden) continue;
      setText(ex.row.lastElementChild, ageText(now - ex.lastT));
      for (const feed of ex.feeds.values()) {
        if (!feed.row.hidden) setText(feed.row.lastElementChild, ageText(now - feed.lastT));
      }
    }
  }

  _paint(row, status, lastT, now) {
    const state = this.online ? status.state : "offline";
    if (row.dataset.state !== state) row.dataset.state = state;
    const [, , stateCell, detailCell, ageCell] = row.cells;
    setText(stateCell.firstChild, state);
    const detail = this.online ? status.detail
      : `last known: ${status.state}${status.detail ? `, ${status.detail}` : ""}`;
    if (detailCell.title !== detail) {
      setText(detailCell, detail);
      detailCell.title = detail;
    }
    // the age changes with every message: written only while the table is shown
    if (this.visible) setText(ageCell, ageText(now - lastT));
  }
}

function setText(node, value) {
  if (node.textContent !== value) node.textContent = value;
}
