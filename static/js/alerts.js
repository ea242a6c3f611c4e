/*
 * Alerts on the page: a banner and a sound for every alert the server fires, the browser's
 * Notification API where the user allowed it, a panel with the recent alerts and the rules,
 * and a form to add a rule ("BTC-USD crosses 45,000 on any exchange").
 *
 * Self-contained: this module builds its own DOM at the end of <body> (a banner at the top, a
 * button and a panel at the bottom right) and styles it from static/css/alerts.css. Rules are
 * evaluated on the server (a background tab's timers are throttled; a wall screen may be off):
 * the page only shows and tells. Text reaches the DOM only through textContent.
 *
 *   import { installAlerts } from "./alerts.js";
 *   installAlerts(socket);            // the page's Socket.IO client; without one, its own io()
 *
 * Wire: Socket.IO event `alert`, one object {id, rule_id, kind, exchange, pair, message, value,
 * time, severity} (a list is accepted too); GET/POST /api/alerts, DELETE /api/alerts/<id>,
 * GET /api/alerts/events?since=&limit= (see dashboard/alerts_api.py).
 *
 * DOM contract (tests/browser/test_alerts_page.py):
 *   #alert-banner[data-severity][data-alert-id]   the latest alert, hidden when none;
 *     .alert-banner-text its message, .alert-banner-meta severity word, pair and time,
 *     button.alert-banner-close
 *   #alert-audio-note        says once, for 30 s, that a click may be needed to allow sounds
 *                            (shown once there is a rule, or an alert could not sound)
 *   #alerts-toggle           opens #alerts-panel; .alerts-unread counts alerts not yet seen
 *   #alerts-panel            #alerts-events li.alert-event[data-id][data-severity] (newest
 *                            first), #alerts-rules li.alert-rule[data-id][data-kind],
 *                            form#alerts-form, #alerts-access (the read-only note)
 *   body[data-alerts="ready"]  once installed
 */

const MAX_EVENTS = 50;
const AUDIO_NOTE_MS = 30000; // how long the "click to allow sounds" note stays
const BANNER_MS = { info: 60000, warning: 300000, critical: 0 }; // 0: until dismissed
const SEVERITY_WORD = { info: "Alert", warning: "Warning", critical: "Critical" };
const KINDS = [
  ["crosses", "crosses (rises or falls to)"],
  ["price_above", "rises to"],
  ["price_below", "falls to"],
  ["move_pct", "moves by (%)"],
  ["spread_above", "cross-exchange spread reaches"],
  ["crossed", "market crossed (bid above ask)"],
  ["feed_down", "feed down for (s)"],
];
const TOKEN_KEY = "alerts.token";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function asList(payload) {
  if (Array.isArray(payload)) return payload;
  return payload && typeof payload === "object" ? [payload] : [];
}

function normAlert(raw) {
  if (!raw || typeof raw !== "object") return null;
  const severity = ["info", "warning", "critical"].includes(raw.severity) ? raw.severity : "info";
  return {
    id: String(raw.id ?? ""),
    ruleId: String(raw.rule_id ?? ""),
    kind: String(raw.kind ?? ""),
    exchange: raw.exchange == null ? "" : String(raw.exchange),
    pair: raw.pair == null ? "" : String(raw.pair),
    message: String(raw.message ?? ""),
    value: raw.value == null ? "" : String(raw.value),
    time: String(raw.time ?? ""),
    severity,
  };
}

/** "HH:MM:SS UTC" of an ISO time, or "" */
function clockOf(iso) {
  const match = /T(\d\d:\d\d:\d\d)/.exec(iso);
  return match ? `${match[1]} UTC` : "";
}

function stored(key, value) {
  try {
    if (value === undefined) return sessionStorage.getItem(key) || "";
    sessionStorage.setItem(key, value);
  } catch {
    /* storage refused (a sandboxed frame): the token is typed again */
  }
  return "";
}

/** "45,000.50" as typed -> "45000.50"; null when it is no plain decimal */
function plainDecimal(text) {
  const cleaned = String(text).trim().replace(/[\s,_']/g, "");
  return /^-?\d+(\.\d+)?$/.test(cleaned) ? cleaned : null;
}

function compareDecimal(a, b) {
  // both plain decimals with no sign issues for prices: compare as scaled integers
  const [ai, af = ""] = a.replace(/^-/, "").split(".");
  const [bi, bf = ""] = b.replace(/^-/, "").split(".");
  const scale = Math.max(af.length, bf.length);
  const x = BigInt(ai + af.padEnd(scale, "0")) * (a.startsWith("-") ? -1n : 1n);
  const y = BigInt(bi + bf.padEnd(scale, "0")) * (b.startsWith("-") ? -1n : 1n);
  return x < y ? -1 : x > y ? 1 : 0;
}

// ---- sound: Web Audio, no files --------------------------------------------------------

class Chime {
  constructor(onState) {
    this.ctx = null;
    this.onState = onState;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      this.ctx = new Context();
    } catch {
      this.ctx = null;
      return;
    }
    this.ctx.addEventListener?.("statechange", () => this.onState(this.allowed()));
    const unlock = () => {
      if (this.ctx && this.ctx.state === "suspended") {
        this.ctx.resume().then(() => this.onState(this.allowed()), () => {});
      }
    };
    for (const type of ["pointerdown", "keydown", "touchend"]) {
      document.addEventListener(type, unlock, { capture: true, passive: true });
    }
  }

  allowed() {
    return Boolean(this.ctx && this.ctx.state === "running");
  }

  /** Distinct per severity: one high beep, two middle ones, three rising square ones. */
  play(severity) {
    const ctx = this.ctx;
    if (!ctx || ctx.state !== "running") return false;
    const plans = {
      info: [[880, 0, 0.16, "sine"]],
      warning: [[660, 0, 0.18, "triangle"], [660, 0.26, 0.18, "triangle"]],
      critical: [[523, 0, 0.14, "square"], [784, 0.18, 0.14, "square"], [1047, 0.36, 0.3, "square"]],
    };
    const start = ctx.currentTime + 0.02;
    for (const [freq, at, length, type] of plans[severity] || plans.info) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = type;
      osc.frequency.value = freq;
      const t0 = start + at;
      const peak = type === "square" ? 0.08 : 0.22;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(peak, t0 + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + length);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + length + 0.02);
    }
    return true;
  }
}

// ---- the module ------------------------------------------------------------------------

export function installAlerts(socket, options = {}) {
  const sock = socket || (typeof window.io === "function" ? window.io() : null);
  const root = options.root || document.body;
  const state = {
    access: "open",
    exchanges: [],
    pairs: [],
    lastPrice: new Map(), // pair -> latest last price seen (any exchange), for "crosses"
    seen: new Set(), // alert ids shown, so a reconnect's catch-up never repeats a banner
    events: [],
    unread: 0,
    bannerTimer: null,
    connectedOnce: false,
    lastTime: null, // newest alert time seen, for the catch-up after a reconnect
  };

  // -- banner --
  const banner = el("div", "alert-banner");
  banner.id = "alert-banner";
  banner.hidden = true;
  banner.setAttribute("role", "alert");
  const bannerMeta = el("span", "alert-banner-meta");
  const bannerText = el("span", "alert-banner-text");
  const bannerMore = el("span", "alert-banner-more");
  const bannerClose = el("button", "alert-banner-close", "\u00d7");
  bannerClose.type = "button";
  bannerClose.setAttribute("aria-label", "Dismiss the alert");
  bannerClose.title = "Dismiss";
  banner.append(bannerMeta, bannerText, bannerMore, bannerClose);
  let bannerCount = 0;

  // -- audio note --
  const audioNote = el("div", "alert-audio-note",
    "Alert sounds: click anywhere on the page once to allow them.");
  audioNote.id = "alert-audio-note";
  audioNote.hidden = true;
  audioNote.setAttribute("role", "note");
  let audioNoted = false;
  const chime = new Chime((allowed) => {
    if (allowed) audioNote.hidden = true;
  });
  /** Say once per page that sounds need a click, while they would be needed: there are rules
   * (or an alert could not sound) and no click allowed them yet. A wall screen nobody clicks
   * keeps its corner: the note goes after AUDIO_NOTE_MS. */
  function noteAudio() {
    if (audioNoted || chime.allowed() || !chime.ctx) return;
    audioNoted = true;
    audioNote.hidden = false;
    setTimeout(() => { audioNote.hidden = true; }, AUDIO_NOTE_MS);
  }

  // -- toggle + panel --
  const toggle = el("button", "alerts-toggle");
  toggle.id = "alerts-toggle";
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", "alerts-panel");
  const unreadBadge = el("span", "alerts-unread");
  unreadBadge.hidden = true;
  toggle.append(el("span", "alerts-toggle-label", "Alerts"), unreadBadge);

  const panel = el("section", "alerts-panel");
  panel.id = "alerts-panel";
  panel.hidden = true;
  panel.setAttribute("aria-label", "Alerts");

  const head = el("div", "alerts-panel-head");
  const title = el("h2", "alerts-panel-title", "Alerts");
  const notifyButton = el("button", "alerts-notify", "");
  notifyButton.type = "button";
  const closeButton = el("button", "alerts-panel-close", "\u00d7");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "Close the alerts panel");
  head.append(title, notifyButton, closeButton);

  const eventsTitle = el("h3", "alerts-section-title", "Recent alerts");
  const eventsList = el("ul", "alerts-events");
  eventsList.id = "alerts-events";
  const eventsEmpty = el("p", "alerts-empty", "No alert yet.");

  const rulesTitle = el("h3", "alerts-section-title", "Rules");
  const rulesList = el("ul", "alerts-rules");
  rulesList.id = "alerts-rules";
  const rulesEmpty = el("p", "alerts-empty", "No rule yet.");
  const accessNote = el("p", "alerts-access");
  accessNote.id = "alerts-access";
  accessNote.hidden = true;

  // -- form --
  const form = el("form", "alerts-form");
  form.id = "alerts-form";
  form.noValidate = true;
  const formTitle = el("h3", "alerts-section-title", "Tell me when");
  const fields = {};
  function row(name, labelText, control) {
    const label = el("label", "alerts-field");
    label.dataset.field = name;
    label.append(el("span", "alerts-label", labelText), control);
    fields[name] = { label, control };
    return label;
  }
  const pairInput = el("input", "form-control form-control-sm");
  pairInput.name = "pair";
  pairInput.placeholder = "BTC-USD";
  pairInput.autocomplete = "off";
  const pairList = el("datalist");
  pairList.id = "alerts-pair-list";
  pairInput.setAttribute("list", pairList.id);
  const kindSelect = el("select", "form-select form-select-sm");
  kindSelect.name = "kind";
  for (const [value, text] of KINDS) {
    const option = el("option", "", text);
    option.value = value;
    kindSelect.append(option);
  }
  const valueInput = el("input", "form-control form-control-sm");
  valueInput.name = "value";
  valueInput.inputMode = "decimal";
  valueInput.placeholder = "45,000";
  valueInput.autocomplete = "off";
  const exchangeSelect = el("select", "form-select form-select-sm");
  exchangeSelect.name = "exchange";
  const fieldSelect = el("select", "form-select form-select-sm");
  fieldSelect.name = "field";
  for (const value of ["last", "bid", "ask"]) {
    const option = el("option", "", value === "last" ? "last price" : value);
    option.value = value;
    fieldSelect.append(option);
  }
  const windowInput = el("input", "form-control form-control-sm");
  windowInput.name = "window_s";
  windowInput.inputMode = "numeric";
  windowInput.value = "60";
  const secondsInput = el("input", "form-control form-control-sm");
  secondsInput.name = "seconds";
  secondsInput.inputMode = "numeric";
  secondsInput.value = "60";
  const cooldownInput = el("input", "form-control form-control-sm");
  cooldownInput.name = "cooldown_s";
  cooldownInput.inputMode = "numeric";
  cooldownInput.value = "60";
  const messageInput = el("input", "form-control form-control-sm");
  messageInput.name = "message";
  messageInput.maxLength = 200;
  messageInput.placeholder = "optional words of your own";
  const tokenInput = el("input", "form-control form-control-sm");
  tokenInput.name = "token";
  tokenInput.type = "password";
  tokenInput.autocomplete = "off";
  const submit = el("button", "btn btn-sm btn-primary alerts-add", "Add rule");
  submit.type = "submit";
  const formStatus = el("p", "alerts-form-status");
  formStatus.id = "alerts-form-status";
  formStatus.setAttribute("role", "status");

  form.append(
    formTitle,
    row("pair", "Pair", pairInput), pairList,
    row("kind", "When it", kindSelect),
    row("value", "Value", valueInput),
    row("exchange", "On", exchangeSelect),
    row("field", "Price", fieldSelect),
    row("window_s", "Within (s)", windowInput),
    row("seconds", "For (s)", secondsInput),
    row("cooldown_s", "At most once per (s)", cooldownInput),
    row("message", "Message", messageInput),
    row("token", "Token (ALERTS_TOKEN)", tokenInput),
    submit, formStatus,
  );

  panel.append(head, eventsTitle, eventsList, eventsEmpty, rulesTitle, accessNote, rulesList,
    rulesEmpty, form);
  root.append(banner, audioNote, toggle, panel);

  const SHOWN = {
    crosses: ["value", "exchange", "field"],
    price_above: ["value", "exchange", "field"],
    price_below: ["value", "exchange", "field"],
    move_pct: ["value", "exchange", "window_s"],
    spread_above: ["value"],
    crossed: [],
    feed_down: ["exchange", "seconds"],
  };
  function showFields() {
    const kind = kindSelect.value;
    for (const name of ["value", "exchange", "field", "window_s", "seconds"]) {
      fields[name].label.hidden = !SHOWN[kind].includes(name);
    }
    fields.token.label.hidden = state.access !== "token";
    valueInput.placeholder = kind === "move_pct" ? "2" : kind === "spread_above" ? "10" : "45,000";
  }
  kindSelect.addEventListener("change", showFields);
  tokenInput.value = stored(TOKEN_KEY);

  // -- server calls --
  function headers(write) {
    const h = { Accept: "application/json" };
    if (write) {
      h["Content-Type"] = "application/json";
      h["X-Alerts-Client"] = "page";
      const token = tokenInput.value.trim();
      if (token) h.Authorization = `Bearer ${token}`;
    }
    return h;
  }

  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      headers: headers(method !== "GET"),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const error = new Error(data && data.error ? String(data.error) : `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  async function loadFeeds() {
    try {
      const feeds = await call("GET", "/api/pairs");
      state.pairs = [...new Set((feeds || []).map((f) => String(f.pair)))];
      state.exchanges = [...new Set((feeds || []).map((f) => String(f.exchange)))];
    } catch {
      return;
    }
    pairList.replaceChildren(...state.pairs.map((pair) => {
      const option = el("option");
      option.value = pair;
      return option;
    }));
    if (!pairInput.value && state.pairs.length) pairInput.value = state.pairs[0];
    const any = el("option", "", "any exchange");
    any.value = "";
    exchangeSelect.replaceChildren(any, ...state.exchanges.map((name) => {
      const option = el("option", "", name);
      option.value = name;
      return option;
    }));
  }

  async function loadRules() {
    let data;
    try {
      data = await call("GET", "/api/alerts");
    } catch (err) {
      accessNote.textContent = `Rules unavailable: ${err.message}`;
      accessNote.hidden = false;
      return;
    }
    state.access = ["open", "token", "read-only"].includes(data.access) ? data.access : "open";
    accessNote.textContent = data.access_note ? String(data.access_note) : "";
    accessNote.hidden = !data.access_note;
    form.hidden = state.access === "read-only";
    showFields();
    const rules = Array.isArray(data.rules) ? data.rules : [];
    rulesList.replaceChildren(...rules.map(ruleItem));
    rulesEmpty.hidden = rules.length > 0;
    if (rules.length > 0) noteAudio();
  }

  function describe(rule) {
    const where = rule.exchange ? `on ${rule.exchange}` : "on any exchange";
    const pair = rule.pair || "any pair";
    switch (rule.kind) {
      case "price_above": return `${pair} ${rule.field || "last"} at or above ${rule.value} ${where}`;
      case "price_below": return `${pair} ${rule.field || "last"} at or below ${rule.value} ${where}`;
      case "move_pct": return `${pair} moves ${rule.value} % within ${rule.window_s} s ${where}`;
      case "spread_above": return `${pair} cross-exchange spread at or above ${rule.value}`;
      case "crossed": return `${pair} crossed across exchanges`;
      case "feed_down": {
        const feed = rule.pair ? `${rule.exchange || "any exchange"} ${rule.pair}`
          : `any feed of ${rule.exchange || "any exchange"}`;
        return `${feed} down for ${rule.seconds} s`;
      }
      default: return String(rule.kind);
    }
  }

  function ruleItem(rule) {
    const li = el("li", "alert-rule");
    li.dataset.id = String(rule.id);
    li.dataset.kind = String(rule.kind);
    const text = el("span", "alert-rule-text", describe(rule));
    const note = rule.message ? el("span", "alert-rule-message", `\u201c${rule.message}\u201d`) : null;
    const status = el("span", "alert-rule-state",
      rule.armed ? "armed" : `fired ${clockOf(String(rule.last_fired || ""))}, waiting to re-arm`);
    li.append(text);
    if (note) li.append(note);
    li.append(status);
    if (rule.source === "file") {
      li.append(el("span", "alert-rule-source", "from ALERTS_FILE"));
    } else if (state.access !== "read-only") {
      const remove = el("button", "btn btn-sm btn-outline-danger alert-rule-delete", "Delete");
      remove.type = "button";
      remove.addEventListener("click", async () => {
        remove.disabled = true;
        try {
          await call("DELETE", `/api/alerts/${encodeURIComponent(rule.id)}`);
          li.remove();
          rulesEmpty.hidden = rulesList.children.length > 0;
        } catch (err) {
          remove.disabled = false;
          formStatus.textContent = `Not deleted: ${err.message}`;
          formStatus.dataset.state = "error";
        }
      });
      li.append(remove);
    }
    return li;
  }

  async function loadEvents() {
    let list;
    try {
      list = await call("GET", `/api/alerts/events?limit=${MAX_EVENTS}`);
    } catch {
      return;
    }
    const events = asList(list).map(normAlert).filter(Boolean);
    for (const e of events) state.seen.add(e.id);
    if (events.length && (!state.lastTime || events[0].time > state.lastTime)) {
      state.lastTime = events[0].time;
    }
    state.events = events.slice(0, MAX_EVENTS);
    eventsList.replaceChildren(...state.events.map(eventItem));
    eventsEmpty.hidden = state.events.length > 0;
  }

  function eventItem(e) {
    const li = el("li", "alert-event");
    li.dataset.id = e.id;
    li.dataset.severity = e.severity;
    li.append(
      el("span", "alert-event-time", clockOf(e.time)),
      el("span", "alert-event-severity", SEVERITY_WORD[e.severity]),
      el("span", "alert-event-message", e.message),
    );
    return li;
  }

  // -- an alert arrives --
  function showBanner(e) {
    bannerCount += 1;
    banner.dataset.severity = e.severity;
    banner.dataset.alertId = e.id;
    bannerMeta.textContent = `${SEVERITY_WORD[e.severity]} ${clockOf(e.time)}`;
    bannerText.textContent = e.message;
    bannerMore.textContent = bannerCount > 1 ? `(+${bannerCount - 1} more in the panel)` : "";
    banner.hidden = false;
    clearTimeout(state.bannerTimer);
    const lasts = BANNER_MS[e.severity];
    if (lasts) state.bannerTimer = setTimeout(hideBanner, lasts);
  }

  function hideBanner() {
    banner.hidden = true;
    bannerCount = 0;
    clearTimeout(state.bannerTimer);
  }

  function notify(e) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (!document.hidden && document.hasFocus()) return; // the banner is on screen already
    try {
      const n = new Notification(`${SEVERITY_WORD[e.severity]}: ${e.pair || e.exchange || "alert"}`,
        { body: e.message, tag: `alert-${e.id}` });
      n.addEventListener("click", () => window.focus());
    } catch {
      /* some browsers only allow notifications from a service worker */
    }
  }

  function receive(e, live) {
    if (state.seen.has(e.id)) return;
    state.seen.add(e.id);
    if (state.seen.size > 5 * MAX_EVENTS) {
      state.seen = new Set([...state.seen].slice(-2 * MAX_EVENTS));
    }
    if (!state.lastTime || e.time > state.lastTime) state.lastTime = e.time;
    state.events.unshift(e);
    state.events.length = Math.min(state.events.length, MAX_EVENTS);
    eventsList.prepend(eventItem(e));
    while (eventsList.children.length > MAX_EVENTS) eventsList.lastElementChild.remove();
    eventsEmpty.hidden = true;
    if (panel.hidden) {
      state.unread += 1;
      unreadBadge.textContent = String(state.unread);
      unreadBadge.hidden = false;
    }
    if (!live) return;
    showBanner(e);
    if (!chime.play(e.severity)) noteAudio();
    notify(e);
    if (!panel.hidden) loadRules(); // a fired rule now says so
  }

  // -- notifications permission --
  function showNotifyState() {
    if (!("Notification" in window) || !window.isSecureContext) {
      notifyButton.hidden = true;
      return;
    }
    const permission = Notification.permission;
    notifyButton.textContent = permission === "granted" ? "Desktop notifications on"
      : permission === "denied" ? "Desktop notifications blocked" : "Allow desktop notifications";
    notifyButton.disabled = permission !== "default";
  }
  notifyButton.addEventListener("click", () => {
    if (!("Notification" in window)) return;
    Promise.resolve(Notification.requestPermission()).then(showNotifyState, showNotifyState);
  });
  showNotifyState();

  // -- panel open / close --
  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      state.unread = 0;
      unreadBadge.hidden = true;
      loadRules();
      loadEvents();
    }
  }
  toggle.addEventListener("click", () => setOpen(panel.hidden));
  closeButton.addEventListener("click", () => setOpen(false));
  bannerClose.addEventListener("click", hideBanner);
  banner.addEventListener("click", (ev) => {
    if (ev.target !== bannerClose) setOpen(true);
  });

  // -- the form --
  async function currentPrice(pair) {
    if (state.lastPrice.has(pair)) return state.lastPrice.get(pair);
    try {
      const rows = await call("GET", `/api/tickers?pair=${encodeURIComponent(pair)}&limit=1`);
      const last = rows && rows[0] && rows[0].last;
      return last ? String(last) : null;
    } catch {
      return null;
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    formStatus.textContent = "";
    delete formStatus.dataset.state;
    let kind = kindSelect.value;
    const rule = { pair: pairInput.value.trim() };
    const shown = SHOWN[kind];
    if (shown.includes("value")) {
      const value = plainDecimal(valueInput.value);
      if (value === null) {
        formStatus.textContent = "value: type a number such as 45,000 or 45000.5";
        formStatus.dataset.state = "error";
        valueInput.focus();
        return;
      }
      rule.value = value;
    }
    if (kind === "crosses") {
      // rises to the level when the price is below it now, falls to it when above
      const now = await currentPrice(rule.pair.toUpperCase());
      kind = now && plainDecimal(now) && compareDecimal(plainDecimal(now), rule.value) > 0
        ? "price_below" : "price_above";
    }
    rule.kind = kind;
    if (shown.includes("exchange") && exchangeSelect.value) rule.exchange = exchangeSelect.value;
    if (shown.includes("field")) rule.field = fieldSelect.value;
    if (shown.includes("window_s")) rule.window_s = windowInput.value.trim();
    if (shown.includes("seconds")) rule.seconds = secondsInput.value.trim();
    if (cooldownInput.value.trim()) rule.cooldown_s = cooldownInput.value.trim();
    if (messageInput.value.trim()) rule.message = messageInput.value.trim();
    if (kind === "feed_down" && !rule.pair) delete rule.pair;
    if (state.access === "token") stored(TOKEN_KEY, tokenInput.value.trim());
    submit.disabled = true;
    try {
      const made = await call("POST", "/api/alerts", rule);
      formStatus.textContent = `Added rule ${made.id}: ${describe(made)}`;
      formStatus.dataset.state = "ok";
      messageInput.value = "";
      await loadRules();
    } catch (err) {
      formStatus.textContent = err.message;
      formStatus.dataset.state = "error";
    } finally {
      submit.disabled = false;
    }
  });

  // -- Socket.IO --
  function notePrice(payload, key) {
    for (const r of asList(payload)) {
      if (r && r.pair && r[key] != null) state.lastPrice.set(String(r.pair), String(r[key]));
    }
  }
  if (sock) {
    sock.on("alert", (payload) => {
      for (const raw of asList(payload)) {
        const e = normAlert(raw);
        if (e) receive(e, true);
      }
    });
    sock.on("ticker", (payload) => notePrice(payload, "last"));
    sock.on("trade", (payload) => notePrice(payload, "price"));
    sock.on("connect", () => {
      if (state.connectedOnce) catchUp(); // alerts fired while the link was down
      state.connectedOnce = true;
    });
  }

  async function catchUp() {
    const since = state.lastTime ? `&since=${encodeURIComponent(state.lastTime)}` : "";
    let list;
    try {
      list = await call("GET", `/api/alerts/events?limit=${MAX_EVENTS}${since}`);
    } catch {
      return;
    }
    const missed = asList(list).map(normAlert).filter((e) => e && !state.seen.has(e.id));
    missed.reverse(); // oldest first, so the newest ends on top and in the banner
    missed.forEach((e, i) => receive(e, i === missed.length - 1));
  }

  showFields();
  loadFeeds();
  loadEvents();
  loadRules();
  document.body.dataset.alerts = "ready";
  return { banner, panel, toggle, form, open: () => setOpen(true), close: () => setOpen(false) };
}
