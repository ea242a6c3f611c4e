// Live chart of last price (#chart): one pair at a time (chosen in #chart-pair), one line
// per exchange quoting it. Data are kept per feed as one point per second (the last
// ticker's `last` in that second) over a sliding window, so memory is bounded by
// window seconds x feeds. Number() is used here only to plot; the text shown elsewhere
// is always the server's string.

const PALETTE = ["#4dabf7", "#ffa94d", "#69db7c", "#f783ac", "#b197fc", "#ffd43b", "#3bc9db", "#ff8787"];
const STORAGE_KEY = "dashboard.chartPair";
const PRUNE_STEP_SEC = 60; // points older than the window are trimmed in steps, not one by one


/** Index of the first of the first `n` elements of sorted `arr` that is >= x. */
function lowerBound(arr, x, n = arr.length) {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One feed's points, oldest first: the first `size` entries of two typed arrays allocated
 * once at the window's full size, so what a line holds does not grow while the window fills
 * (a wall screen's memory is the same at minute 1 as at day 10).
 */
class Line {
  constructor(exchange, pair, capacity) {
    this.exchange = exchange;
    this.pair = pair;
    this.secs = new Float64Array(capacity); // ascending unix seconds
    this.vals = new Float64Array(capacity);
    this.size = 0;
  }

  add(sec, value) {
    if (this.size === 0 || sec > this.secs[this.size - 1]) {
      if (this.size === this.secs.length) this._drop(1); // full: the oldest point goes
      this.secs[this.size] = sec;
      this.vals[this.size] = value;
      this.size += 1;
      return;
    }
    let i = lowerBound(this.secs, sec, this.size);
    if (this.secs[i] === sec) {
      // a later ticker in the same second replaces; an older one only fills a gap
      if (i === this.size - 1) this.vals[i] = value;
      return;
    }
    if (this.size === this.secs.length) {
      if (i === 0) return; // older than everything a full line holds
      this._drop(1);
      i -= 1;
    }
    this.secs.copyWithin(i + 1, i, this.size);
    this.vals.copyWithin(i + 1, i, this.size);
    this.secs[i] = sec;
    this.vals[i] = value;
    this.size += 1;
  }

  prune(fromSec) {
    const i = lowerBound(this.secs, fromSec, this.size);
    if (i > 0) this._drop(i);
  }

  _drop(count) {
    this.secs.copyWithin(0, count, this.size);
    this.vals.copyWithin(0, count, this.size);
    this.size -= count;
  }
}

export class PriceChart {
  /**
   * @param {HTMLElement} container   the chart is drawn in here and follows its size
   * @param {HTMLSelectElement} select the pair selector
   * @param {HTMLElement} empty        shown while the selected pair has no points
   * @param {number} windowSec         how much history is kept and shown
   */
  constructor(container, select, empty, windowSec = 900) {
    this.container = container;
    this.select = select;
    this.empty = empty;
    this.windowSec = windowSec;
    this.lines = new Map(); // feedKey -> Line
    this.pairs = new Set();
    this.preferred = readStoredPair(); // the pair chosen last time, once it shows up
    this.pair = null;
    this.plot = null;
    this.plotExchanges = ""; // exchanges of the current plot's series, joined
    this.plotPair = null;
    this.nowSec = Math.floor(Date.now() / 1000); // right edge of the window, unix seconds
    this.newestSec = -Infinity; // newest point seen, on the server's clock
    this.select.addEventListener("change", () => {
      this.pair = this.select.value;
      this.preferred = this.pair;
      storePair(this.pair);
      this.render(Date.now());
    });
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(() => this._resize()).observe(this.container);
    }
  }

  /** Add the `last` of a ticker; called for every ticker applied to the page. */
  add(key, r, now = Date.now()) {
    const value = Number(r.last);
    if (!Number.isFinite(value) || !Number.isFinite(r.t)) return;
    const sec = Math.floor(r.t / 1000);
    if (!(sec <= this.newestSec)) this.newestSec = sec;
    // render() does not run while the tab is hidden, so the window also slides here
    this.nowSec = this._rightEdge(now);
    const from = this.nowSec - this.windowSec;
    if (sec < from) return;
    let line = this.lines.get(key);
    if (!line) {
      // room for the window plus the minute add() lets it overrun before trimming
      line = new Line(r.exchange, r.pair, this.windowSec + PRUNE_STEP_SEC + 2);
      this.lines.set(key, line);
      this.pairs.add(r.pair);
      this._syncOptions();
    }
    line.add(sec, value);
    if (line.size > 0 && line.secs[0] < from - PRUNE_STEP_SEC) line.prune(from); // in steps
  }

  /** Slide the window and redraw; called about once a second while the page is visible. */
  render(now) {
    this.nowSec = this._rightEdge(now);
    const from = this.nowSec - this.windowSec;
    for (const line of this.lines.values()) line.prune(from);

    const lines = [...this.lines.values()]
      .filter((line) => line.pair === this.pair)
      .sort((a, b) => (a.exchange < b.exchange ? -1 : a.exchange > b.exchange ? 1 : 0));
    const hasPoints = lines.some((line) => line.size > 0);
    this.empty.hidden = hasPoints;
    this.container.dataset.pair = this.pair || "";
    this.container.dataset.series = String(lines.length);

    const exchanges = lines.map((line) => line.exchange).join("\u0000");
    if (!this.plot || exchanges !== this.plotExchanges || this.pair !== this.plotPair) {
      this._build(lines);
      this.plotExchanges = exchanges;
      this.plotPair = this.pair;
    }
    this.plot.setData(align(lines));
  }

  /**
   * Right edge of the window: the browser clock, unless the newest point is ahead of it
   * (browser clock behind) or older than the whole window (outage, or browser clock far
   * ahead); then the newest point. So a skewed wall-screen clock never empties the chart.
   */
  _rightEdge(now) {
    const browser = Math.floor(now / 1000);
    if (!Number.isFinite(this.newestSec)) return browser;
    if (browser - this.newestSec > this.windowSec) return this.newestSec;
    return Math.max(browser, this.newestSec);
  }

  /** Points held, for the bounded-memory checks. */
  get points() {
    let n = 0;
    for (const line of this.lines.values()) n += line.size;
    return n;
  }

  _build(lines) {
    if (this.plot) this.plot.destroy();
    const axis = {
      stroke: "#adb5bd",
      grid: { stroke: "rgba(255,255,255,0.07)", width: 1 },
      ticks: { stroke: "rgba(255,255,255,0.15)", width: 1 },
      font: "12px system-ui, sans-serif",
    };
    const opts = {
      ...this._size(),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      legend: { show: true, live: false }, // a wall screen has no mouse: names only
      scales: {
        x: { time: true, range: () => [this.nowSec - this.windowSec, this.nowSec] },
        y: { auto: true },
      },
      axes: [{ ...axis, values: timeTicks }, { ...axis, size: 80, values: priceTicks }],
      series: [
        { label: "UTC", value: "{HH}:{mm}:{ss}" },
        ...lines.map((line, i) => ({
          label: line.exchange,
          stroke: PALETTE[i % PALETTE.length], // lines are sorted by exchange, so colours are stable
          width: 1.5,
          spanGaps: true,
          points: { show: false },
          value: (u, v) => (v === null || v === undefined ? "—" : String(v)),
        })),
      ],
    };
    this.plot = new uPlot(opts, align(lines), this.container);
  }

  _size() {
    const legend = this.container.querySelector(".u-legend");
    const legendHeight = legend ? legend.offsetHeight : 28;
    return {
      width: Math.max(200, this.container.clientWidth),
      height: Math.max(120, this.container.clientHeight - legendHeight - 4),
    };
  }

  _resize() {
    if (this.plot) this.plot.setSize(this._size());
  }

  /** Until someone picks a pair, show the one quoted by the most exchanges. */
  _busiestPair(pairs) {
    const counts = new Map();
    for (const line of this.lines.values()) counts.set(line.pair, (counts.get(line.pair) || 0) + 1);
    let best = pairs[0];
    for (const pair of pairs) if (counts.get(pair) > counts.get(best)) best = pair;
    return best;
  }

  _syncOptions() {
    const pairs = [...this.pairs].sort();
    if (this.preferred && this.pairs.has(this.preferred)) {
      this.pair = this.preferred;
    } else {
      this.pair = this._busiestPair(pairs);
    }
    const frag = document.createDocumentFragment();
    for (const pair of pairs) {
      const option = document.createElement("option");
      option.value = pair;
      option.textContent = pair;
      frag.appendChild(option);
    }
    this.select.replaceChildren(frag);
    this.select.value = this.pair;
    this.select.disabled = false;
  }
}

/** X-axis labels in UTC, 24-hour: HH:MM, or HH:MM:SS when ticks are closer than a minute. */
function timeTicks(u, splits) {
  const step = splits.length > 1 ? splits[1] - splits[0] : 60;
  return splits.map((s) => {
    const iso = new Date(s * 1000).toISOString();
    return step < 60 ? iso.slice(11, 19) : iso.slice(11, 16);
  });
}

/** Y-axis labels with as many decimals as the tick step needs (0.0001 steps show 0.0004). */
function priceTicks(u, splits) {
  const step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 0;
  const decimals = step > 0 && step < 1 ? Math.min(10, Math.ceil(-Math.log10(step) - 1e-9)) : 0;
  return splits.map((v) => v.toFixed(decimals));
}

/** uPlot's aligned columns: the union of seconds, with null where a line has no point. */
function align(lines) {
  const all = new Set();
  for (const line of lines) for (let i = 0; i < line.size; i++) all.add(line.secs[i]);
  const xs = Float64Array.from(all).sort();
  const index = new Map();
  xs.forEach((s, i) => index.set(s, i));
  const cols = lines.map((line) => {
    const col = new Array(xs.length).fill(null);
    for (let i = 0; i < line.size; i++) col[index.get(line.secs[i])] = line.vals[i];
    return col;
  });
  return [Array.from(xs), ...cols];
}

function readStoredPair() {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage can be disabled; the selector still works for this session
  }
}

function storePair(pair) {
  try {
    window.localStorage.setItem(STORAGE_KEY, pair);
  } catch {
    // storage disabled or full: the choice lasts for this session only
  }
}
