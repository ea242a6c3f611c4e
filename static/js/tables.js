// Row-based views: the capped running lists (#tickers, #trades).
// Every text that came from an exchange goes in through textContent; nothing is parsed as HTML.

import { clockText } from "./format.js";

/** A <tr> with one empty <td> per class name, to be cloned. */
function rowTemplate(classes) {
  const tr = document.createElement("tr");
  for (const cls of classes) {
    const td = document.createElement("td");
    td.className = cls;
    tr.appendChild(td);
  }
  return tr;
}

/**
 * A list of rows, newest first by record time, capped at maxRows.
 *
 * Records are inserted at their place in time order (normally the top), so a late or
 * re-sent record lands where it belongs. When `keyOf` is given, records whose key is
 * already shown are dropped; the key set holds exactly the keys of the rows shown, so it
 * shrinks as rows are pruned and never outgrows the list.
 */
export class RecordList {
  constructor(tbody, maxRows, fill, keyOf = null) {
    this.tbody = tbody;
    this.maxRows = maxRows;
    this.fill = fill; // (tr, record) -> void; fills a fresh row
    this.keyOf = keyOf;
    this.keys = new Set();
  }

  get size() {
    return this.tbody.childElementCount;
  }

  /** Insert a batch of records (any order); returns the number of rows added. */
  insert(records) {
    const batch = records.length > this.maxRows ? newest(records, this.maxRows) : records.slice();
    batch.sort((a, b) => timeOf(a) - timeOf(b)); // stable: ties keep arrival order
    let added = 0;
    for (const record of batch) {
      const t = timeOf(record);
      const key = this.keyOf ? this.keyOf(record) : null;
      if (key !== null && this.keys.has(key)) continue;
      // a full list has no room for anything older than its oldest row
      const oldest = this.tbody.lastElementChild;
      if (this.size >= this.maxRows && oldest && t < oldest._t) continue;
      const tr = this.fill(record);
      tr._t = t;
      if (key !== null) {
        tr._key = key;
        this.keys.add(key);
      }
      let ref = this.tbody.firstElementChild;
      while (ref && ref._t > t) ref = ref.nextElementSibling;
      this.tbody.insertBefore(tr, ref);
      added += 1;
    }
    this._trim();
    return added;
  }

  /** Remove the rows whose exchange and pair fail `keep(exchange, pair)` (a new screen filter). */
  retain(keep) {
    for (const tr of [...this.tbody.children]) {
      if (keep(tr.dataset.exchange, tr.dataset.pair)) continue;
      if (tr._key !== undefined) this.keys.delete(tr._key);
      tr.remove();
    }
  }

  _trim() {
    let extra = this.size - this.maxRows;
    while (extra > 0) {
      const tr = this.tbody.lastElementChild;
      if (tr._key !== undefined) this.keys.delete(tr._key);
      tr.remove();
      extra -= 1;
    }
  }
}

// Records without a parseable time sort as "now": they are shown, at the top.
function timeOf(record) {
  if (!Number.isFinite(record.t)) record.t = Date.now();
  return record.t;
}

function newest(records, n) {
  return records.slice().sort((a, b) => timeOf(a) - timeOf(b)).slice(-n);
}

const TICKER_CELLS = ["time", "exchange", "pair", "bid", "ask", "last"];
const TRADE_CELLS = ["time", "exchange", "pair", "price", "amount", "side"];

export function tickerList(tbody, maxRows) {
  const template = rowTemplate(TICKER_CELLS);
  return new RecordList(tbody, maxRows, (r) => {
    const tr = template.cloneNode(true);
    tr.dataset.exchange = r.exchange;
    tr.dataset.pair = r.pair;
    const c = tr.cells;
    c[0].textContent = clockText(r.time, r.t);
    c[1].textContent = r.exchange;
    c[2].textContent = r.pair;
    c[3].textContent = r.bid;
    c[4].textContent = r.ask;
    c[5].textContent = r.last;
    return tr;
  });
}

export function tradeList(tbody, maxRows, keyOf) {
  const template = rowTemplate(TRADE_CELLS);
  return new RecordList(
    tbody,
    maxRows,
    (r) => {
      const tr = template.cloneNode(true);
      tr.dataset.exchange = r.exchange;
      tr.dataset.pair = r.pair;
      tr.dataset.id = r.id;
      tr.dataset.side = r.side;
      const c = tr.cells;
      c[0].textContent = clockText(r.time, r.t);
      c[1].textContent = r.exchange;
      c[2].textContent = r.pair;
      c[3].textContent = r.price;
      c[4].textContent = r.amount;
      c[5].textContent = r.side; // the word, so the side never depends on colour alone
      return tr;
    },
    keyOf,
  );
}
