// Charts (#charts): small multiples, one uPlot per pair shown, one line per exchange: the close
// of each candle (1-minute candles for a 15 min or 1 h span, 5-minute for 4 h, 15-minute for
// 24 h). On load, and after every reconnect, the span is filled from GET /api/candles; live
// trades then extend it: a trade sets the close of its candle, so the chart moves without
// refetching or rebuilding. Each feed holds one ring of slots sized for the span, allocated
// once: memory is the same at minute 1 as at day 10. Number() is used here only to plot; the
// prices written on the page are the server's strings.

import { formatPrice, significantDecimals } from "./decimal.js";
import { durationText, feedKey } from "./format.js";

// Colours by the exchange's place in the configured list, so a venue keeps its colour on every
// chart and screen. Readable on the dark and the light theme.
const PALETTE = ["#4dabf7", "#f59f00", "#40c057", "#f06595", "#9775fa", "#e8590c", "#15aabf",
  "#fa5252", "#82c91e", "#adb5bd"];

export const SPANS = {
  "15m": { seconds: 900, interval: "1m" },
  "1h": { seconds: 3600, interval: "1m" },
  "4h": { seconds: 14400, interval: "5m" },
  "24h": { seconds: 86400, interval: "15m" },
};
const INTERVAL_SECONDS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600 };

export function colourOf(index) {
  return PALETTE[index % PALETTE.length];
}

/** One feed's candle closes: a ring of `n` slots indexed by candle number. */
class Closes {
  constructor(n) {
    this.n = n;
    this.ids = new Float64Array(n).fill(-1); // candle number held by each slot
    this.values = new Float64Array(n);
    this.times = new Float64Array(n); // time of the trade that set the close; -Inf: from the API
  }

  _slot(bucket) {
    return ((bucket % this.n) + this.n) % this.n;
  }

  /** A live trade: the latest by trade time sets the close. Returns true when it changed. */
  trade(bucket, value, t) {
    const i = this._slot(bucket);
    if (this.ids[i] !== bucket) {
      if (this.ids[i] > bucket) return false; // older than the ring reaches
      this.ids[i] = bucket;
      this.values[i] = value;
      this.times[i] = t;
      return true;
    }
    if (t < this.times[i]) return false; // a late trade: the close stays the latest one
    this.times[i] = t;
    if (this.values[i] === value) return false;
    this.values[i] = value;
    return true;
  }

  /** A stored candle: fills a slot that live trades have not set. */
  candle(bucket, value) {
    const i = this._slot(bucket);
    if (this.ids[i] === bucket && this.times[i] !== -Infinity) return false;
    if (this.ids[i] > bucket) return false;
    this.ids[i] = bucket;
    this.values[i] = value;
    this.times[i] = -Infinity;
    return true;
  }

  get(bucket) {
    const i = this._slot(bucket);
    return this.ids[i] === bucket ? this.values[i] : null;
  }
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setText(node, value) {
  if (node.textContent !== value) node.textContent = value;
}

class PairChart {
  constructor(pair, exchanges, colours, slots) {
    this.pair = pair;
    this.exchanges = exchanges; // in the configured order
    this.colours = colours;
    this.series = exchanges.map(() => new Closes(slots));
    this.decimals = 0;
    this.last = null; // {text, exchange, t}
    this.dirty = true;
    this.points = 0;
    this.fromCandles = 0;
    this.plot = null;
    this.figure = el("figure", "chart-panel");
    this.figure.dataset.pair = pair;
    this.figure.dataset.series = String(exchanges.length);
    const caption = el("figcaption", "chart-caption");
    const row = el("div", "chart-caption-row");
    this.lastText = el("span", "chart-last");
    this.lastVenue = el("span", "chart-last-venue");
    row.append(el("span", "chart-pair", pair), this.lastText, this.lastVenue);
    caption.appendChild(row);
    this.box = el("div", "chart-plot");
    this.empty = el("p", "chart-empty", "No trades in this span yet.");
    this.figure.append(caption, this.box, this.empty);
  }

  noteDecimals(text) {
    const d = significantDecimals(text);
    if (d > this.decimals) this.decimals = d;
  }
}

export class Charts {
  /**
   * @param {HTMLElement} root     #charts
   * @param {HTMLElement} legend   #chart-legend
   * @param {() => number} now     the server's clock (ms)
   */
  constructor(root, legend, now) {
    this.root = root;
    this.legend = legend;
    this.now = now;
    this.charts = new Map(); // pair -> PairChart
    this.byFeed = new Map(); // feedKey -> [chart, series index]
    this.span = "1h";
    this.visible = true;
    this.loads = 0; // candle loads started (a newer one makes older answers moot)
    this.lastBucket = NaN;
    this.abort = null;
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(() => this._resize()).observe(this.root);
    }
  }

  get intervalSec() {
    return INTERVAL_SECONDS[SPANS[this.span].interval];
  }

  get slots() {
    return Math.round(SPANS[this.span].seconds / this.intervalSec);
  }

  /**
   * One chart per pair of `feeds` ([{exchange, pair}], configured order); `exchangeIndex`
   * gives each exchange its colour. Rebuilds everything and reloads candles.
   */
  configure(feeds, exchangeIndex, span) {
    this.span = SPANS[span] ? span : "1h";
    for (const chart of this.charts.values()) if (chart.plot) chart.plot.destroy();
    this.charts = new Map();
    this.byFeed = new Map();
    const byPair = new Map();
    for (const { exchange, pair } of feeds) {
      if (!byPair.has(pair)) byPair.set(pair, []);
      if (!byPair.get(pair).includes(exchange)) byPair.get(pair).push(exchange);
    }
    const frag = document.createDocumentFragment();
    const legendItems = new Map();
    for (const [pair, exchanges] of byPair) {
      const colours = exchanges.map((ex) => colourOf(exchangeIndex(ex)));
      const chart = new PairChart(pair, exchanges, colours, this.slots);
      exchanges.forEach((ex, i) => {
        this.byFeed.set(feedKey(ex, pair), [chart, i]);
        legendItems.set(ex, colours[i]);
      });
      this.charts.set(pair, chart);
      frag.appendChild(chart.figure);
    }
    this.root.replaceChildren(frag);
    this.root.dataset.charts = String(this.charts.size);
    const items = document.createDocumentFragment();
    for (const [exchange, colour] of legendItems) {
      const item = el("span", "legend-item");
      item.dataset.exchange = exchange;
      const swatch = el("span", "legend-swatch");
      swatch.style.backgroundColor = colour; // CSSOM, which the page's CSP allows
      item.append(swatch, document.createTextNode(exchange));
      items.appendChild(item);
    }
    this.legend.replaceChildren(items);
    this.lastBucket = NaN;
    this.render(true);
  }

  /** Show or hide (a hidden chart is neither drawn nor sized). */
  setVisible(visible) {
    this.visible = visible;
    if (visible) this.render(true);
  }

  /** A live trade: sets its candle's close on its feed's line. */
  addTrade(r) {
    const entry = this.byFeed.get(feedKey(r.exchange, r.pair));
    if (!entry || !Number.isFinite(r.t)) return;
    const value = Number(r.price);
    if (!Number.isFinite(value)) return;
    const [chart, i] = entry;
    const bucket = Math.floor(r.t / 1000 / this.intervalSec);
    chart.noteDecimals(r.price);
    if (chart.series[i].trade(bucket, value, r.t)) chart.dirty = true;
    if (!chart.last || r.t >= chart.last.t) {
      chart.last = { text: r.price, value, exchange: r.exchange, t: r.t };
      chart.dirty = true;
    }
  }

  /**
   * Fill every line from GET /api/candles (after load, a reconnect or a new span); stored
   * candles fill the slots live trades have not set. Failures leave the chart to live data.
   */
  load() {
    if (this.abort) this.abort.abort();
    const abort = typeof AbortController === "function" ? new AbortController() : null;
    this.abort = abort;
    this.loads += 1;
    const load = this.loads;
    const interval = SPANS[this.span].interval;
    const intervalMs = this.intervalSec * 1000;
    const first = Math.floor(this.now() / intervalMs) - this.slots + 1;
    const pending = [];
    for (const [chart, i] of this.byFeed.values()) {
      const exchange = chart.exchanges[i];
      const query = new URLSearchParams({ exchange, pair: chart.pair, interval,
        since: String(first * intervalMs), limit: String(this.slots + 1) });
      const request = fetch(`/api/candles?${query}`, { signal: abort ? abort.signal : undefined,
        headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : []))
        .then((candles) => {
          if (load !== this.loads || !Array.isArray(candles)) return;
          let added = 0;
          for (const c of candles) {
            const t = Date.parse(c && c.time);
            const value = Number(c && c.close);
            if (!Number.isFinite(t) || !Number.isFinite(value)) continue;
            chart.noteDecimals(c.close);
            if (chart.series[i].candle(Math.floor(t / intervalMs), value)) added += 1;
          }
          chart.fromCandles += added;
          if (added) chart.dirty = true;
        })
        .catch(() => {}); // aborted, or the server is away: live trades still draw
      pending.push(request);
    }
    return Promise.all(pending).then(() => {
      if (load === this.loads) this.render();
    });
  }

  /** Slots allocated (fixed by the span and the feeds) and points drawn, for the checks. */
  get slotCount() {
    let n = 0;
    for (const chart of this.charts.values()) n += chart.series.length * this.slots;
    return n;
  }

  get points() {
    let n = 0;
    for (const chart of this.charts.values()) n += chart.points;
    return n;
  }

  /** Redraw the charts whose data changed, or all when the span moved on; about once a second. */
  render(force = false) {
    if (!this.visible) return;
    const intervalMs = this.intervalSec * 1000;
    const now = this.now();
    const bucket = Math.floor(now / intervalMs);
    const moved = bucket !== this.lastBucket;
    this.lastBucket = bucket;
    for (const chart of this.charts.values()) {
      this._caption(chart, now);
      if (!(force || moved || chart.dirty)) continue;
      chart.dirty = false;
      const data = this._data(chart, bucket);
      chart.figure.dataset.points = String(chart.points);
      chart.figure.dataset.fromCandles = String(chart.fromCandles);
      chart.empty.hidden = chart.points > 0;
      if (!chart.plot) this._build(chart, data);
      else chart.plot.setData(data);
    }
  }

  _caption(chart, now) {
    if (!chart.last) return;
    setText(chart.lastText, formatPrice(chart.last.text, chart.decimals));
    chart.lastText.dataset.value = chart.last.text;
    setText(chart.lastVenue, `${chart.last.exchange}, ${durationText(now - chart.last.t)} ago`);
  }

  _data(chart, bucket) {
    const n = this.slots;
    const first = bucket - n + 1;
    const xs = new Array(n);
    for (let k = 0; k < n; k++) xs[k] = (first + k) * this.intervalSec;
    let points = 0;
    const columns = chart.series.map((closes) => {
      const col = new Array(n);
      for (let k = 0; k < n; k++) {
        const v = closes.get(first + k);
        col[k] = v;
        if (v !== null) points += 1;
      }
      return col;
    });
    chart.points = points;
    return [xs, ...columns];
  }

  _build(chart, data) {
    const style = getComputedStyle(document.body);
    const text = style.getPropertyValue("--dash-chart-text").trim() || "#adb5bd";
    const grid = style.getPropertyValue("--dash-chart-grid").trim() || "rgba(128,128,128,0.15)";
    const tag = { fill: style.getPropertyValue("--bs-body-color").trim() || "#dee2e6",
      text: style.getPropertyValue("--bs-body-bg").trim() || "#212529" };
    const fontPx = Math.max(10, Math.round(parseFloat(getComputedStyle(document.documentElement)
      .fontSize) * 0.75));
    const axis = {
      stroke: text,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1, size: 4 },
      font: `${fontPx}px system-ui, sans-serif`,
      gap: 3,
    };
    const opts = {
      ...this._size(chart),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      cursor: { show: false }, // a wall screen has no mouse
      legend: { show: false }, // one legend for all charts, in the card's header
      scales: { x: { time: true }, y: { auto: true } },
      axes: [
        { ...axis, values: timeTicks, space: fontPx * 6 },
        { ...axis, side: 1, size: fontPx * 6.5, values: priceTicks, space: fontPx * 3,
          // no tick label under the last-price tag
          filter: (u, splits) => splits.map((v) => (chart.last && Math.abs(u.valToPos(v, "y")
            - u.valToPos(chart.last.value, "y")) < fontPx * 1.2 ? null : v)) },
      ],
      series: [
        {},
        ...chart.exchanges.map((exchange, i) => ({
          label: exchange,
          stroke: chart.colours[i],
          width: 1.5,
          spanGaps: true,
          points: { show: false },
        })),
      ],
      hooks: { draw: [(u) => drawLastPrice(u, chart, text, tag, fontPx)] },
    };
    chart.plot = new uPlot(opts, data, chart.box);
  }

  _size(chart) {
    return {
      width: Math.max(120, chart.box.clientWidth),
      height: Math.max(60, chart.box.clientHeight),
    };
  }

  _resize() {
    if (!this.visible) return;
    for (const chart of this.charts.values()) if (chart.plot) chart.plot.setSize(this._size(chart));
  }

  /** The theme changed: rebuild the plots with its colours. */
  restyle() {
    for (const chart of this.charts.values()) {
      if (chart.plot) chart.plot.destroy();
      chart.plot = null;
      chart.box.replaceChildren();
    }
    this.render(true);
  }
}

/** A dashed line and a tag on the price axis at the pair's last trade price: the current value
 * is labelled. */
function drawLastPrice(u, chart, colour, tag, fontPx) {
  if (!chart.last) return;
  const y = u.valToPos(chart.last.value, "y", true);
  const { left, top, width, height } = u.bbox;
  if (!(y >= top && y <= top + height)) return;
  const ctx = u.ctx;
  const ratio = window.devicePixelRatio || 1;
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = ratio;
  ctx.setLineDash([3 * ratio, 3 * ratio]);
  ctx.beginPath();
  ctx.moveTo(left, y);
  ctx.lineTo(left + width, y);
  ctx.stroke();
  ctx.setLineDash([]);
  const label = formatPrice(chart.last.text, chart.decimals);
  ctx.font = `700 ${fontPx * ratio}px system-ui, sans-serif`;
  const w = ctx.measureText(label).width + 8 * ratio;
  const h = fontPx * 1.45 * ratio;
  const x = left + width + 2 * ratio; // over the price axis, right of the plot
  ctx.fillStyle = tag.fill;
  ctx.fillRect(x, y - h / 2, w, h);
  ctx.fillStyle = tag.text;
  ctx.textBaseline = "middle";
  ctx.fillText(label, x + 4 * ratio, y);
  ctx.restore();
}

/** X-axis labels in UTC, 24-hour: HH:MM. */
function timeTicks(u, splits) {
  return splits.map((s) => new Date(s * 1000).toISOString().slice(11, 16));
}

/** Y-axis labels with thousands separators and as many decimals as the tick step needs. */
function priceTicks(u, splits) {
  // the step between ticks, a hidden one (null, under the tag) included
  const at = splits.flatMap((v, i) => (v === null ? [] : [i]));
  const span = at.length > 1 ? at[at.length - 1] - at[0] : 0;
  const step = span ? Math.abs(splits[at[at.length - 1]] - splits[at[0]]) / span : 0;
  const decimals = step > 0 && step < 1 ? Math.min(10, Math.ceil(-Math.log10(step) - 1e-9)) : 0;
  return splits.map((v) => (v === null ? "" : v.toLocaleString("en-US", {
    minimumFractionDigits: decimals, maximumFractionDigits: decimals })));
}
