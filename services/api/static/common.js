// Shared by every Levee page: the token (sessionStorage only), fetching JSON, the live event stream,
// bilingual labels and small DOM helpers. Plain ES module; no build step, nothing from another origin.

const TOKEN_KEY = "levee.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function authHeaders(extra) {
  const headers = { Accept: "application/json", ...(extra || {}) };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  return headers;
}

export async function api(path, { method = "GET", body, raw = false, headers } = {}) {
  const init = { method, headers: authHeaders(headers), cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  noteServerTime(response);
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  return raw ? response : response.json();
}

// The server's clock as this page last saw it (each answer's Date header, to the second). A desk PC whose clock
// is minutes off would stamp its calls with that time: the API refuses one from the future. Stamp with this.
let clockOffset = 0;

function noteServerTime(response) {
  // A cacheable answer (the reference data) may come from the browser's cache with a Date minutes old.
  if ((response.headers.get("Cache-Control") || "").includes("max-age")) return;
  const date = Date.parse(response.headers.get("Date") || "");
  if (!Number.isNaN(date)) clockOffset = date + 500 - Date.now(); // the header drops the milliseconds: their middle
}

export function serverNow() {
  return new Date(Date.now() + clockOffset);
}

// A load that failed says so until the next one succeeds; an action's own message is left alone.
export function loadFailed(region, text) {
  say(region, text, "error");
  region.dataset.loadError = "1";
}

export function loaded(region) {
  if (region.dataset.loadError) {
    delete region.dataset.loadError;
    say(region, "");
  }
}

// A random Idempotency-Key. crypto.randomUUID exists only on https or localhost; a desk reaching the API over
// plain http on the city's network has getRandomValues all the same.
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// One request at a time from a button: disabled until the answer, so a double click or a second Enter
// cannot send it twice (a second complaint, a second follow-up attempt).
export async function once(button, work) {
  if (button.disabled) return undefined;
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}

// DOM -----------------------------------------------------------------------------------------------

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Chinese first, English beside it: both are always on the page.
export function bi(zh, en) {
  return el("span", { class: "bi" }, el("span", { lang: "zh", text: zh }), " ", el("span", { lang: "en", class: "en", text: en }));
}

export const STATUS_NAMES = {
  received: ["已受理", "received"], validated: ["已核实", "validated"], rejected: ["无效", "rejected"],
  duplicate: ["重复", "duplicate"], prioritised: ["已评估", "prioritised"], dispatched: ["已派单", "dispatched"],
  accepted: ["已签收", "accepted"], returned: ["已退单", "returned"], resolved: ["已办结", "resolved"],
  followed_up: ["已回访", "followed up"], reopened: ["已重启", "reopened"], closed: ["已归档", "closed"],
  in_progress: ["办理中", "in progress"], not_accepted: ["不予受理", "not accepted"], merged: ["已合并", "merged"],
};

export function statusLabel(status) {
  const names = STATUS_NAMES[status];
  return names ? bi(names[0], names[1]) : document.createTextNode(status);
}

export const INCIDENT_STATUS = {
  investigating: ["调查中", "investigating"], identified: ["已查明", "identified"],
  monitoring: ["监测中", "monitoring"], resolved: ["已解决", "resolved"],
};

export function incidentStatus(status) {
  const names = INCIDENT_STATUS[status];
  return names ? bi(names[0], names[1]) : document.createTextNode(status || "—");
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString("zh-CN", { hour12: false });
}

export function fmtDuration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

export function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined) return "—";
  return Number(value).toFixed(digits);
}

export function say(region, message, kind = "info") {
  delete region.dataset.loadError;  // a new message: the load error it replaces is no longer what it says
  region.textContent = "";
  region.className = `message ${kind}`;
  region.append(message instanceof Node ? message : document.createTextNode(message));
}

export function problemText(error) {
  if (error instanceof ApiError) {
    const errors = error.problem && error.problem.errors;
    const detail = errors && errors.length ? errors.map((e) => `${e.field}: ${e.message}`).join("; ") : error.message;
    return `${error.status}: ${detail}`;
  }
  return String(error && error.message ? error.message : error);
}

// The token form: shown until a token works; `onReady(me)` gets /api/v1/me.

export function loginFlow({ form, input, message, main, logout, roles, onReady }) {
  let retryIn = 2000;
  let retry = null;
  async function tryToken() {
    clearTimeout(retry);
    if (!token()) { form.hidden = false; main.hidden = true; return; }
    try {
      const me = await api("/api/v1/me");
      retryIn = 2000;
      if (roles && !roles.includes(me.kind)) {
        setToken(null);
        form.hidden = false; main.hidden = true;
        say(message, `This page needs a ${roles.join(" / ")} token; yours is ${me.role}. 本页面需要 ${roles.join(" / ")} 令牌。`, "error");
        return;
      }
      form.hidden = true; main.hidden = false;
      if (logout) logout.hidden = false;
      onReady(me);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        setToken(null);
        form.hidden = false; main.hidden = true;
        say(message, `Token refused 令牌无效: ${problemText(error)}`, "error");
        return;
      }
      // The API or its database is down (a 503, no answer): the token may be fine. It is kept, and the
      // page tries again by itself, so a wall board reloaded during an outage comes back without anyone
      // pasting the token again (the form stays usable for another one).
      form.hidden = false; main.hidden = true;
      say(message, `Cannot check the token now 暂时无法验证令牌 (${problemText(error)}); trying again in ${retryIn / 1000} s.`, "error");
      retry = setTimeout(tryToken, retryIn);
      retryIn = Math.min(retryIn * 2, 30000);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!/^[\x21-\x7e]+$/.test(input.value.trim())) {  // a header cannot carry it: it would fail as if offline
      say(message, "Token refused 令牌无效: that is not a token (lvt_ then letters, digits, - and _); paste it again", "error");
      return;
    }
    setToken(input.value);
    input.value = "";
    tryToken();
  });
  if (logout) logout.addEventListener("click", () => { setToken(null); location.reload(); });
  tryToken();
}

// Live events: server-sent events read with fetch, so the token goes in the Authorization header (an
// EventSource cannot send one) and never into a URL. Reconnects by itself, with backoff; reports its state.

export function liveEvents({ onChange, onState }) {
  let stopped = false;
  let controller = null;
  let delay = 500;

  async function connectOnce() {
    controller = new AbortController();
    const response = await fetch("/api/v1/board/events", {
      headers: authHeaders({ Accept: "text/event-stream" }), signal: controller.signal, cache: "no-store",
    });
    if (response.status === 401 || response.status === 403) { onState("refused"); stopped = true; return; }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let watchdog = null;
    let quietLimit = 40000;
    const feed = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => controller.abort(), quietLimit); // no heartbeat: the link is dead
    };
    feed();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        feed();
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (!data) continue;
          const payload = JSON.parse(data);
          if (event === "hello") {
            quietLimit = (payload.heartbeat_seconds || 15) * 2500;
            feed();
            delay = 500;
            onState(payload.listening ? "live" : "degraded");
            onChange(payload);
          } else if (event === "listening") {
            onState(payload.listening ? "live" : "degraded");
            if (payload.listening) onChange(payload);
          } else if (event === "projection") {
            onChange(payload);
          }
        }
      }
    } finally {
      clearTimeout(watchdog);
    }
  }

  (async () => {
    while (!stopped) {
      onState("connecting");
      try { await connectOnce(); } catch { /* refused connection, aborted or broken stream */ }
      if (stopped) return;
      onState("disconnected", delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 8000);
    }
  })();
  return { stop() { stopped = true; if (controller) controller.abort(); } };
}

const STATES = {
  connecting: ["连接中…", "connecting…"],
  live: ["已连接 · 实时", "connected · live"],
  degraded: ["已连接 · 数据源中断", "connected · updates paused"],
  disconnected: ["已断开", "disconnected"],
  refused: ["令牌无权订阅", "token may not subscribe"],
};

export function showConnection(node, state, retryMs) {
  const [zh, en] = STATES[state];
  node.dataset.state = state;
  node.textContent = "";
  node.append(el("span", { class: "dot", "aria-hidden": "true" }), bi(zh, en));
  if (state === "disconnected" && retryMs) {
    const s = Math.ceil(retryMs / 1000);
    node.append(" ", bi(`${s}秒后重连`, `reconnecting in ${s}s`));
  }
}

// A live change worth a reload: one of `tables` changed (hello and listening messages name none: always), and
// at most one reload per `minGapMs` (the last change in a burst still gets one). In a surge a projection commit
// comes several times a second, for tables most pages do not show: each reload rebuilt the page's rows.
export function whenChanged(tables, refresh, minGapMs = 2000) {
  let last = 0, timer = null;
  return (payload) => {
    const changed = payload && payload.tables;
    if (changed && !changed.some((table) => tables.includes(table))) return;
    const wait = last + minGapMs - Date.now();
    if (wait <= 0) { last = Date.now(); refresh(); return; }
    if (!timer) timer = setTimeout(() => { timer = null; last = Date.now(); refresh(); }, wait);
  };
}

// Refetch on every change, but never more than one request in flight: a burst of commits becomes one
// refetch now and one after it.
export function refetcher(load) {
  let running = false, again = false;
  return async function refresh() {
    if (running) { again = true; return; }
    running = true;
    try {
      do { again = false; await load(); } while (again);
    } finally {
      running = false;
    }
  };
}
