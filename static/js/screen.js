// What this screen shows, pinned by URL parameters so each monitor in a room shows its own
// slice, e.g. ?exchanges=bitfinex,kraken&pairs=BTC-USD&view=board,chart,trades&theme=light&wall=1
//
//   exchanges  comma list of exchanges (default: all configured)
//   pairs      comma list of pairs (BTC-USD) or bases (BTC: every BTC pair) (default: all)
//   view       board, chart, feeds, tickers, trades (default: board,chart)
//   span       chart span: 15m, 1h, 4h, 24h (default: 1h)
//   theme      dark (default) or light
//   wall       1: large type for a screen seen from across the room
//   wake       0: don't ask the browser to keep the screen on (default: ask)
//
// The page's own controls (the "Screen" menu) set the same state and write it back into the
// URL (history.replaceState), so it survives a reload and can be copied to another screen.
// Also here: fullscreen and the Screen Wake Lock.

export const VIEWS = ["board", "chart", "feeds", "tickers", "trades"];
const DEFAULT_VIEW = ["board", "chart"];
const SPANS = ["15m", "1h", "4h", "24h"];

function list(value) {
  if (!value) return null;
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  return items.length ? items : null;
}

/** A pair or base as the server spells it: upper case, BASE-QUOTE. */
function canonicalPair(text) {
  return text.toUpperCase().replace(/[/_]/g, "-");
}

/** The screen state from a query string. */
export function parseScreen(search) {
  const params = new URLSearchParams(search);
  const exchanges = list(params.get("exchanges"));
  const pairs = list(params.get("pairs"));
  const view = list(params.get("view"));
  const views = view ? view.map((v) => v.toLowerCase()).filter((v) => VIEWS.includes(v)) : [];
  const span = (params.get("span") || "").toLowerCase();
  return {
    exchanges: exchanges ? exchanges.map((e) => e.toLowerCase()) : null,
    pairs: pairs ? pairs.map(canonicalPair) : null,
    view: views.length ? VIEWS.filter((v) => views.includes(v)) : DEFAULT_VIEW.slice(),
    span: SPANS.includes(span) ? span : "1h",
    theme: params.get("theme") === "light" ? "light" : "dark",
    wall: ["1", "true", "yes", "on"].includes((params.get("wall") || "").toLowerCase()),
    wake: params.get("wake") !== "0",
  };
}

/** The query string for a state: only what differs from the defaults. */
export function screenQuery(state) {
  const params = new URLSearchParams();
  if (state.exchanges) params.set("exchanges", state.exchanges.join(","));
  if (state.pairs) params.set("pairs", state.pairs.join(","));
  if (state.view.join(",") !== DEFAULT_VIEW.join(",")) params.set("view", state.view.join(","));
  if (state.span !== "1h") params.set("span", state.span);
  if (state.theme !== "dark") params.set("theme", state.theme);
  if (state.wall) params.set("wall", "1");
  if (!state.wake) params.set("wake", "0");
  const text = params.toString().replace(/%2C/g, ",");
  return text ? `?${text}` : "";
}

/** Whether a feed is on this screen. */
export function feedShown(state, exchange, pair) {
  if (state.exchanges && !state.exchanges.includes(exchange)) return false;
  if (!state.pairs) return true;
  const base = pair.split("-")[0];
  return state.pairs.includes(pair) || state.pairs.includes(base);
}

function checkbox(name, value, label, checked) {
  const wrap = document.createElement("label");
  wrap.className = "form-check form-check-inline screen-check";
  const input = document.createElement("input");
  input.type = "checkbox";
  input.className = "form-check-input";
  input.name = name;
  input.value = value;
  input.checked = checked;
  const text = document.createElement("span");
  text.className = "form-check-label";
  text.textContent = label;
  wrap.append(input, text);
  return wrap;
}

export class Screen {
  /**
   * @param {HTMLFormElement} form   the Screen menu's form
   * @param {(state) => void} onChange  told after the state changed (already in the URL)
   */
  constructor(form, onChange) {
    this.form = form;
    this.onChange = onChange;
    this.state = parseScreen(window.location.search);
    this.exchanges = [];
    this.pairs = [];
    this.wakeLock = null;
    this.wakeState = "off";
    form.addEventListener("change", () => this._fromForm());
    form.addEventListener("submit", (event) => event.preventDefault());
    this._fillStatic();
    this.apply();
    document.addEventListener("visibilitychange", () => {
      // a wake lock is released whenever the page is hidden: ask again when it is back
      if (!document.hidden) this._wake();
    });
    const full = document.getElementById("fullscreen");
    if (full) {
      if (!document.fullscreenEnabled) full.hidden = true;
      full.addEventListener("click", () => this.toggleFullscreen());
      document.addEventListener("fullscreenchange", () => {
        full.setAttribute("aria-pressed", String(Boolean(document.fullscreenElement)));
      });
    }
  }

  /** The choices the server offers: configured exchanges and pairs, in order. */
  setChoices(exchanges, pairs) {
    this.exchanges = exchanges;
    this.pairs = pairs;
    const exBox = this.form.querySelector("#screen-exchanges .screen-choices");
    const pairBox = this.form.querySelector("#screen-pairs .screen-choices");
    exBox.replaceChildren(...exchanges.map((ex) => checkbox("exchange", ex, ex,
      !this.state.exchanges || this.state.exchanges.includes(ex))));
    pairBox.replaceChildren(...pairs.map((pair) => checkbox("pair", pair, pair,
      feedShown({ exchanges: null, pairs: this.state.pairs }, "", pair))));
  }

  _fillStatic() {
    const f = this.form.elements;
    for (const input of this.form.querySelectorAll('input[name="view"]')) {
      input.checked = this.state.view.includes(input.value);
    }
    f.span.value = this.state.span;
    f.theme.value = this.state.theme;
    f.wall.checked = this.state.wall;
    f.wake.checked = this.state.wake;
  }

  _fromForm() {
    const f = this.form.elements;
    const checked = (name) => [...this.form.querySelectorAll(`input[name="${name}"]`)]
      .filter((i) => i.checked).map((i) => i.value);
    const view = checked("view");
    const exchanges = checked("exchange");
    const pairs = checked("pair");
    this.state = {
      view: view.length ? view : DEFAULT_VIEW.slice(),
      // everything ticked is the same as no filter: new exchanges and pairs then show too
      exchanges: exchanges.length === this.exchanges.length ? null : exchanges,
      pairs: pairs.length === this.pairs.length ? null : pairs,
      span: f.span.value,
      theme: f.theme.value,
      wall: f.wall.checked,
      wake: f.wake.checked,
    };
    const url = `${window.location.pathname}${screenQuery(this.state)}${window.location.hash}`;
    window.history.replaceState(null, "", url);
    this.apply();
    this.onChange(this.state);
  }

  /** Theme, wall mode, views and the wake lock, from the state. */
  apply() {
    const s = this.state;
    document.documentElement.dataset.bsTheme = s.theme;
    document.body.toggleAttribute("data-wall", s.wall);
    document.documentElement.toggleAttribute("data-wall", s.wall); // the root font size
    const main = document.getElementById("dash");
    main.dataset.views = s.view.join(" ");
    for (const section of main.querySelectorAll("[data-view]")) {
      section.hidden = !s.view.includes(section.dataset.view);
    }
    for (const column of main.querySelectorAll(".dash-side")) {
      column.hidden = ![...column.querySelectorAll("[data-view]")].some((v) => !v.hidden);
    }
    if (s.wake) this._wake();
    else this._release();
  }

  shows(view) {
    return this.state.view.includes(view);
  }

  toggleFullscreen() {
    const done = document.fullscreenElement ? document.exitFullscreen()
      : document.documentElement.requestFullscreen({ navigationUI: "hide" });
    if (done && typeof done.catch === "function") done.catch(() => {}); // refused: nothing to do
  }

  _setWake(state) {
    this.wakeState = state;
    document.body.dataset.wakeLock = state;
    const note = document.getElementById("wake-state");
    if (note) {
      note.textContent = {
        active: "on", off: "off", unsupported: "not available here (needs HTTPS or localhost)",
        refused: "refused by the browser", released: "released",
      }[state] || state;
    }
  }

  async _wake() {
    if (!this.state.wake || document.hidden) return;
    if (this.wakeLock && !this.wakeLock.released) return;
    if (!("wakeLock" in navigator)) {
      this._setWake("unsupported");
      return;
    }
    try {
      const lock = await navigator.wakeLock.request("screen");
      this.wakeLock = lock;
      this._setWake("active");
      lock.addEventListener("release", () => {
        if (this.wakeLock === lock) this._setWake(this.state.wake ? "released" : "off");
      });
    } catch {
      this._setWake("refused"); // e.g. battery saver, or a headless browser
    }
  }

  _release() {
    const lock = this.wakeLock;
    this.wakeLock = null;
    this._setWake("off");
    if (lock && !lock.released) lock.release().catch(() => {});
  }
}
