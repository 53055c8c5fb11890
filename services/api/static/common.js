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
  // `retryAfter`: the seconds a 429 or 503 asks the page to wait (its Retry-After header), or null.
  constructor(status, problem, retryAfter = null) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

// A request the API never answered: a hung API left pages "connected · live" over frozen counts, and a
// refetcher waiting on it for ever. Whether a write sent so was stored is unknown, as for a 503 write_unconfirmed.
export const API_TIMEOUT_MS = 20000;

export class ApiTimeout extends Error {
  constructor(ms) {
    super(`no answer within ${ms / 1000} s`);
    this.ms = ms;
  }
}

function authHeaders(extra) {
  const headers = { Accept: "application/json", ...(extra || {}) };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  return headers;
}

// `read`: a POST that only asks (a caller's history, a preview), never a write to send once.
export async function api(path, {
  method = "GET", body, raw = false, headers, timeout = API_TIMEOUT_MS, read = false,
} = {}) {
  const controller = new AbortController();
  const init = { method, headers: authHeaders(headers), cache: "no-store", signal: controller.signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const write = method === "POST" && !read && !init.headers["Idempotency-Key"] ? `${path}\n${init.body || ""}` : null;
  if (write) init.headers["Idempotency-Key"] = writeKey(write);
  // The whole answer, body included, within `timeout` (a raw answer's body is its caller's to read).
  const timer = setTimeout(() => controller.abort(new ApiTimeout(timeout)), timeout);
  try {
    const response = await fetch(path, init);
    noteServerTime(response);
    if (!response.ok) {
      let problem = null;
      try { problem = await response.json(); } catch { /* not JSON */ }
      throw new ApiError(response.status, problem, retryAfter(response));
    }
    const answer = raw ? response : await response.json();
    if (write) writeKeys.delete(write);  // answered (its body read too): the same words sent later are a new write
    if (!raw && response.headers.get("Idempotent-Replayed") === "true") {
      // Nothing new was stored: an earlier try whose answer was lost had made this change.
      Object.defineProperty(answer, "replayed", { value: true });
    }
    return answer;
  } catch (error) {
    // An abort's reason is the ApiTimeout given to abort(); a browser that keeps no reason gets one made here.
    const thrown = controller.signal.aborted ? (controller.signal.reason || new ApiTimeout(timeout)) : error;
    if (write) keepOrDrop(write, thrown);
    throw thrown;
  } finally {
    clearTimeout(timer);
  }
}

// The Idempotency-Key of each write whose answer never came (a lost answer, a timeout, 503 write_unconfirmed):
// sent again unchanged, the same POST carries the same key, and the API answers what the first try did instead
// of recording a second note, follow-up or draft. Kept until that write is answered, and for KEPT_MS at most:
// the same words sent later are a new write meant as such (a second call that reached nobody, an hour on).
const writeKeys = new Map();
const KEPT_MS = 10 * 60 * 1000;

function writeKey(write) {
  const now = Date.now();
  for (const [kept, { at }] of writeKeys) if (now - at > KEPT_MS) writeKeys.delete(kept);
  if (!writeKeys.has(write)) writeKeys.set(write, { key: newKey(), at: now, uncertain: false });
  return writeKeys.get(write).key;
}

// A try that may have been stored makes the write uncertain for good (until answered, or KEPT_MS after its last
// such try): a later try refused outright (503 dependency_unavailable while NATS is still down) proves nothing
// about the earlier one, and a new key then would record it twice. A write never uncertain starts afresh.
function keepOrDrop(write, error) {
  const entry = writeKeys.get(write);
  if (!entry) return;
  if (mayHaveBeenStored(error)) {
    entry.uncertain = true;
    entry.at = Date.now();
  } else if (!entry.uncertain) {
    writeKeys.delete(write);
  }
}

// " (recorded by the earlier try)" after an answer the API replayed: the person pressed again after a lost
// answer, and nothing new was added.
export function replayedNote(answer) {
  return answer && answer.replayed ? "（此前一次已记录，未重复记录 recorded by the earlier try, nothing added）" : "";
}

function retryAfter(response) {
  const seconds = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
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

// `load` run until it succeeds: while it fails, `region` says so after `what` ("读取失败 Queue not loaded"),
// and it is tried again by itself, 2 s later, then less often up to every 30 s. A page opened during an outage
// stayed blank, saying nothing, after the outage was over. Returns the function that runs it (now, the tries
// starting afresh): for a button, a change, a timer. A refused token is not tried again: that cannot help.
const RETRY_FIRST_MS = 2000, RETRY_MOST_MS = 30000;

export function retried(region, what, load) {
  let runs = 0, timer = null, said = null;
  async function run(wait) {
    const mine = ++runs;
    clearTimeout(timer);
    try {
      await load();
      if (mine !== runs) return;
      if (said !== null && region.textContent === said) loaded(region);  // its own words only, not an action's
      said = null;
    } catch (error) {
      if (mine !== runs) return;  // a newer run says what is so now
      const refused = error instanceof ApiError && (error.status === 401 || error.status === 403);
      const next = Math.max(wait, (error.retryAfter || 0) * 1000);  // not sooner than a 503 asks
      const s = next / 1000, again = refused ? "" : `；${s}秒后自动重试 trying again by itself in ${s} s`;
      said = stamped(`${what}: ${problemText(error, null, { askToWait: false })}${again}`);
      loadFailed(region, said);
      if (!refused) timer = setTimeout(() => run(Math.min(next * 2, RETRY_MOST_MS)), next);
    }
  }
  return () => run(RETRY_FIRST_MS);
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

// A line in both languages ("已签收 accepted", "14:03 LV-…: 签收失败 not accepted — …") as one <span>, each English run in
// it marked <span lang="en">, so a screen reader reads it with an English voice: the pages are lang="zh-Hans", and
// English read by the Chinese voice is hard to follow. The text is as it was, unstyled (bi() makes the English grey).
// An English run: text with no Chinese in it that holds a word of three Latin letters or more (a tracking code, a
// level, a time are no words), less the punctuation closing the Chinese before it or opening the Chinese after it.
// say() shows every message so; labels, buttons and lines built in code use it themselves. [test_pages_language.py]
const CHINESE = "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef";
const NOT_CHINESE = new RegExp(`[^${CHINESE}]+`, "g");
const ENGLISH_WORD = /[A-Za-z]{3,}/, TRACKING_CODE = /\bLV-[0-9A-Z]+/g;
const LEADING = /^[\s…·—–:;,.!?)\]”’]*/, TRAILING = /[\s·—–(\[“‘]*$/;  // what ends the Chinese before, starts the next

export function bilingual(text) {
  const line = el("span"), whole = String(text ?? "");
  let at = 0;
  for (const run of whole.matchAll(NOT_CHINESE)) {
    if (!ENGLISH_WORD.test(run[0].replace(TRACKING_CODE, ""))) continue;
    const start = run.index + run[0].match(LEADING)[0].length, end = run.index + run[0].replace(TRAILING, "").length;
    if (start > at) line.append(whole.slice(at, start));
    line.append(el("span", { lang: "en", text: whole.slice(start, end) }));
    at = end;
  }
  if (at < whole.length) line.append(whole.slice(at));
  return line;
}

// A code from the reference data by its names ("供电局 Power Supply Bureau"), or the code as it is. The command
// queue is no city department, so it is not in the reference data's list: it is named here.
const QUEUES = { command: ["指挥部队列", "Command queue"] };

export function names(list, code) {
  const item = (list || []).find((x) => x.code === code);
  if (item) return bi(item.name_zh, item.name_en);
  return QUEUES[code] ? bi(...QUEUES[code]) : document.createTextNode(code || "—");
}

// The same as one line of text, for a message or a title attribute.
export function nameText(list, code) {
  const item = (list || []).find((x) => x.code === code);
  if (item) return `${item.name_zh} ${item.name_en}`;
  return QUEUES[code] ? QUEUES[code].join(" ") : code || "—";
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

// A notice's own state (press.js), as a refusal's `current` may name it.
export const NOTICE_STATES = {
  draft: ["草稿·待批准", "draft, awaiting approval"], approved: ["已批准·可发布", "approved, ready to publish"],
  published: ["已发布", "published"], updated: ["更新待批准", "update awaiting approval"], cancelled: ["已撤销", "cancelled"],
  superseded: ["已被新草稿取代", "superseded by a newer draft"],
};

export function incidentStatus(status) {
  const names = INCIDENT_STATUS[status];
  return names ? bi(names[0], names[1]) : document.createTextNode(status || "—");
}

// Times are shown in the city's time zone once a page knows it (setCityZone), else in the browser's own.
let cityZone;

export function setCityZone(zone) {
  if (!zone) return;
  try {
    new Intl.DateTimeFormat("zh-CN", { timeZone: zone });
    cityZone = zone;
  } catch { /* not a zone this browser knows: the browser's own stays */ }
}

// The zone the page's times are in, with its offset now: "Asia/Shanghai (GMT+8)".
export function zoneName() {
  const zone = cityZone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  let offset = "";
  try {
    offset = new Intl.DateTimeFormat("en", { timeZone: zone, timeZoneName: "shortOffset" })
      .formatToParts(new Date()).find((part) => part.type === "timeZoneName")?.value || "";
  } catch { /* an older browser: the name alone */ }
  return offset && offset !== zone ? `${zone} (${offset})` : zone;
}

// The instant a wall-clock time typed for the city names ("2025-06-02T10:00", a datetime-local's value), or null.
// A desk PC set to another zone read it in its own (new Date(local)), eight hours off the time the page then
// showed and the caller was promised. The zone's offset is found with Intl: asked again at the first answer, as a
// time near a daylight-saving change has the offset of the other side.
export function cityTime(local) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?$/.exec(local || "");
  if (!m) return null;
  const [y, mo, d, h, mi, s = 0] = m.slice(1).map((part) => Number(part || 0));
  if (!cityZone) return new Date(y, mo - 1, d, h, mi, s);  // no city zone known: the browser's, as fmtTime shows
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const first = wall - zoneOffset(wall);
  return new Date(wall - zoneOffset(first));
}

// How far the city's clock is ahead of UTC at `ms` (milliseconds; negative west of Greenwich).
function zoneOffset(ms) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: cityZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(ms)).map((part) => [part.type, part.value]));
  const shown = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour) % 24,
    Number(parts.minute), Number(parts.second));
  return shown - Math.floor(ms / 1000) * 1000;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString("zh-CN", { hour12: false, timeZone: cityZone });
}

// The time of day alone, "14:03", in the same zone: an as-of time, or when a message was said.
export function fmtClock(at) {
  if (!at) return "—";
  return new Date(at).toLocaleTimeString("zh-CN", { hour12: false, hour: "2-digit", minute: "2-digit", timeZone: cityZone });
}

// A failure said with the time it happened: read an hour later, "14:03 LV-…: failed" is not taken for now.
export function stamped(text) {
  return `${fmtClock(serverNow())} ${text}`;
}

// A span of time in words, [Chinese, English]: "3天2小时" "3 d 2 h", "1小时5分" "1 h 5 min", "10分" "10 min".
// Never "m:ss" or "h:mm:ss": "10:01" reads as a clock time. `withSeconds`: under an hour, the seconds too.
export function howLong(seconds, { withSeconds = false } = {}) {
  const s = Math.floor(Math.abs(seconds)), minutes = Math.floor(s / 60);
  const d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60, r = s % 60;
  if (d) return [`${d}天${h}小时`, `${d} d ${h} h`];
  if (h) return [`${h}小时${m}分`, `${h} h ${m} min`];
  if (withSeconds) return m ? [`${m}分${r}秒`, `${m} min ${r} s`] : [`${r}秒`, `${r} s`];
  return minutes ? [`${m}分`, `${m} min`] : ["不到1分", "<1 min"];
}

export function fmtDuration(seconds) {
  return howLong(seconds).join(" ");
}

export function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined) return "—";
  return Number(value).toFixed(digits);
}

export function say(region, message, kind = "info") {
  delete region.dataset.loadError;  // a new message: the load error it replaces is no longer what it says
  region.textContent = "";
  region.classList.remove("info", "ok", "error", "warn"); // its other classes (a row's message) stay
  region.classList.add("message", kind);
  if (message instanceof Node) region.append(message);
  else if (message) region.append(bilingual(message));  // nothing for "": an empty region is :empty, not shown
}

// The city's departments (the reference data's list), for saying who holds a case a refusal came back with.
let departments = [];

export function setDepartments(list) {
  departments = list || [];
}

// What the API's refusals mean, said on the page in both languages, by the problem's `code`
// (services/api/problems.py; the domain's rules in events/). A function gets the name of the id in the detail.
const PROBLEMS = {
  concurrent_change: ["有人同时在修改，请再试一次", "changed by someone else meanwhile; try again"],
  moved_meanwhile: ["同事已将此工单改派或退回，您的操作未保存；请刷新工单列表",
    "a colleague moved the case on (re-dispatched or returned it): nothing of yours was stored; reload the queue"],
  // A case that never was the department's (one dispatched to it and moved on since is moved_meanwhile).
  not_your_department: ["此工单不归本部门办理，您的操作未保存",
    "the case is not your department's: nothing of yours was stored"],
  not_found: ["找不到该记录", "not found"],
  role_not_allowed: ["此令牌无权执行此操作", "this token may not do this"],
  rate_limited: ["操作太频繁，请稍后再试", "too many requests; try again shortly"],
  unavailable: ["服务暂时不可用", "the service is unavailable"],
  // Not "reload": a page reloaded loses what was typed, and a form typed again is another request.
  write_unconfirmed: ["未能确认是否已保存：可能已保存，也可能没有", "not confirmed: it may or may not have been stored"],
  event_store_full: ["事件库已满，未保存", "the event store is full: nothing was stored"],
  not_dispatched: ["只有待签收的工单才能签收", "only a case waiting to be accepted can be accepted"],
  not_with_department: ["此工单现在不能退单", "the case cannot be returned now"],
  not_accepted: ["此工单现不在您处办理（未签收，或已办结、已转派）", "the case is not being handled by you now (not accepted yet, or resolved, or moved on)"],
  not_dispatched_to_department: ["此工单已不在本部门", "the case is no longer with your department"],
  already_resolved: ["工单已办结", "the case is already resolved"],
  extension_pending: ["已有延期申请待指挥部决定", "a request for more time is already waiting for command"],
  incident_merged: (into) => [`此事件已并入「${into}」，请对该事件操作`, `this incident was merged into "${into}": act on that one`],
  target_merged: (into) => [`所选事件已并入「${into}」，请改为并入该事件`,
    `the incident chosen was itself merged into "${into}": merge into that one`],
  target_resolved: ["所选事件已解决，不能并入", "the incident chosen is resolved: nothing can be merged into it"],
  merge_into_itself: ["不能并入自身", "an incident cannot be merged into itself"],
  no_extension_pending: ["该延期申请已有决定（可能由他人作出）", "the request was already decided, perhaps by someone else"],
  complaint_closed: ["工单已归档", "the complaint is closed"],
  complaint_rejected: ["工单已判为无效", "the complaint was rejected as invalid"],
  complaint_duplicate: ["工单为重复投诉，请对原工单操作", "the complaint is a duplicate: act on the original"],
  // Command's actions on a case from the board (派单, 督办, 恢复受理).
  not_rejected: ["此工单已不是无效状态（可能已被他人恢复受理），未保存", "the complaint is no longer rejected (someone may have reinstated it): nothing was stored"],
  department_returned_it: ["该部门已退回此工单：请选其他部门，或勾选“仍派给该部门”并说明理由",
    "that department returned the case: choose another, or tick \"send anyway\" and give the reason"],
  already_dispatched_to_department: ["工单已在该部门", "the case is already with that department"],
  already_escalated: ["工单已督办到该级别或更高", "the case is already escalated to that level or higher"],
  unknown_category: ["没有此类别", "no such category"],
  category_required: ["投诉未注明类别：请选择类别（派单按类别）", "the report names no category: choose one (dispatch routes by it)"],
  outside_served_area: ["地点在本市服务区域外：如地点有误，请选择所在区域；否则请转交当地处理",
    "the location is outside the served area: choose its district if the location was wrong, or hand it to the authority there"],
  complaint_redacted: ["此工单资料已删除，不能恢复受理：请重新登记", "its data was erased: it cannot be reinstated; take the report again"],
  // The board's incident and dead-letter actions (board_incidents.js, board_case.js, board.js).
  status_unchanged: ["事件已是该状态（可能已由他人更改）", "the incident is already in that status (someone may have changed it)"],
  complaint_already_linked: ["此工单已在该事件中", "the case is already in that incident"],
  already_linked_to_incident: ["此工单已在该事件中", "the case is already in that incident"],
  linked_to_other_incident: ["此工单已属于另一事件，未加入", "the case already belongs to another incident: not added"],
  retry_pending: ["已有重试请求在等待处理，未重复请求", "a retry is already waiting for the worker: nothing more was asked"],
  already_retried: ["此死信已重试成功", "it was already re-driven successfully"],
  busy: ["同时有其他重试请求，请再试一次", "other retry requests came in at the same time; try again"],
  unknown_department: ["没有此部门", "no such department"],
  already_responsible: ["此人已是责任人", "that person is already responsible"],
  person_required: ["请填写责任人姓名", "name the person responsible"],
  person_too_long: ["姓名过长", "the name is too long"],
  person_invalid: ["姓名含有控制字符", "the name has control characters"],
  // The agreed resolution time (约定期限, events/complaint_rules.py; not_assessed_yet: operator_commands.py).
  not_assessed_yet: ["此工单尚未完成初步评估，暂不能约定期限，请稍候再试",
    "not assessed yet: the case has no resolve-by to check the time against; try again in a moment"],
  agreed_time_in_past: ["约定时间必须在将来", "the agreed time must be in the future"],
  agreed_time_too_far: ["约定时间最多在90天之内，请检查年份", "an agreed time is at most 90 days ahead; check the year"],
  beyond_resolve_by_needs_approval: ["晚于本级办结期限，须由指挥部约定", "later than the level's resolve-by: only command can agree it"],
  // Closing (归档) after the follow-up call (回访).
  follow_up_required: ["尚未回访：请先记录回访结果（接通，或未接通至次数用完）",
    "no follow-up call recorded since it was resolved: record it first (reached, or not reached until the tries are used up)"],
  unsatisfied_follow_up: ["回访结果为不满意，不能归档：应重启工单", "the caller was not satisfied: reopen the case, do not close it"],
  follow_up_attempts_exhausted: ["回访次数已用完", "all follow-up tries are used up"],
  not_resolved: ["工单尚未办结", "the case is not resolved"],
};
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

// `nameOf(id)`: what the page calls the thing with this id (an incident's title), or nothing; an id it does not
// know is shortened, an opaque UUID helping nobody at a desk.
function named(id, nameOf) {
  return (nameOf && nameOf(id.toLowerCase())) || `#${id.slice(0, 8)}`;
}

// The service a 503 dependency_unavailable names (services/api/app.py), as staff call it.
const DEPENDENCIES = {
  NATS: ["事件库（NATS）", "the event store (NATS)"],
  PostgreSQL: ["数据库（PostgreSQL）", "the database (PostgreSQL)"],
};

// `detail` is said in the page's words where the code is known: "503: PostgreSQL: cannot check the token:
// TimeoutError" was all staff read during an outage.
function problemWords(error, nameOf) {
  const problem = error.problem || {}, known = PROBLEMS[problem.code], service = DEPENDENCIES[problem.dependency];
  // Intake's `unavailable` names the service when it knows it (the same `dependency`), else the generic words.
  if (problem.code === "dependency_unavailable" || (problem.code === "unavailable" && service)) {
    const [zh, en] = service || ["后台服务", "a service behind the API"];
    return [`${zh}暂时无法连接`, `${en} cannot be reached right now`];
  }
  if (!known) return null;
  const id = String(problem.detail || "").match(UUID);
  return typeof known === "function" ? known(id ? named(id[0], nameOf) : "?") : known;
}

// What a case refused in a state the page did not show is now (the refusal's `current`): "now: accepted".
function nowWords(current) {
  if (!current || typeof current !== "object") return null;
  const state = NOTICE_STATES[current.state] || STATUS_NAMES[current.status] || INCIDENT_STATUS[current.status];
  if (!state) return null;
  const holder = departments.find((d) => d.code === current.department);
  const [zh, en] = holder ? [holder.name_zh, holder.name_en] : QUEUES[current.department] || [current.department, current.department];
  return current.department && !current.state
    ? [`现为：${state[0]}（${zh}）`, `now: ${state[1]}, with ${en}`]
    : [`现为：${state[0]}`, `now: ${state[1]}`];
}

// `askToWait`: "try again in 5 s" from a 503's Retry-After; not where the page tries again by itself (retried).
export function problemText(error, nameOf = null, { askToWait = true } = {}) {
  if (error instanceof ApiError) {
    const problem = error.problem || {}, words = problemWords(error, nameOf);
    let text;
    if (words) {
      const asked = error.retryAfter && (error.status === 503 || error.status === 429);
      const wait = askToWait && asked ? error.retryAfter : null;
      const [zh, en] = wait ? [`${words[0]}，请${wait}秒后再试`, `${words[1]}; try again in ${wait} s`] : words;
      text = `${zh} ${en} (${error.status})`;
    } else {
      const errors = problem.errors;
      const detail = errors && errors.length ? errors.map(fieldError).join("; ") : error.message;
      text = `${error.status}: ${detail.replace(UUID, (id) => named(id, nameOf))}`;
    }
    const now = nowWords(problem.current);
    return now ? `${text} — ${now[0]} ${now[1]}` : text;
  }
  if (error instanceof ApiTimeout) {
    const s = error.ms / 1000;
    return `服务器${s}秒内没有回答，请稍后再试 the server did not answer within ${s} s; try again shortly`;
  }
  if (isNetworkError(error)) return "无法连接服务器 cannot reach the server";
  return String(error && error.message ? error.message : error);
}

// A field a 422 names, as the forms label it: "complaint.description: must not be empty" meant nothing at a desk.
// The API's paths (services/api/intake_schema.py, operator.py, the commands' fields); the form's own prefix goes.
const FIELD_WORDS = {
  description: ["情况", "What happened"], category: ["类别", "Category"], people_affected: ["受影响人数", "People affected"],
  "location.district": ["区", "District"], "location.address": ["地址", "Address"], vulnerable: ["弱势人群", "Vulnerable people"],
  "reporter.name": ["来电人姓名", "Caller's name"], "reporter.phone": ["来电号码", "Caller's number"],
  "reporter.email": ["电子邮箱", "Email"], media_exposure: ["媒体曝光", "Media exposure"],
  call_started_at: ["来电开始时间", "Call start"], "transfer.service": ["已转接", "Transferred to"],
  "first_contact.summary": ["答复摘要", "What the caller was told"], answer_ref: ["答复依据", "Answer given"],
  "first_contact.answer_ref": ["答复依据", "Answer given"], agreed_at: ["约定时间", "Agreed time"],
  reason: ["原因", "Reason"], note: ["说明", "Note"], summary: ["摘要", "Summary"], phone: ["来电号码", "Caller's number"],
  district: ["区", "District"], department: ["部门", "Department"],
  title: ["事件名称", "Title"], kind: ["类型", "Kind"], districts: ["区", "Districts"], status: ["状态", "Status"],
  complaint_id: ["工单", "Case"],
};
// The API's commonest words about a value; any other message is shown as the API wrote it.
const MESSAGE_WORDS = [
  [/^is required\b/, "必填"], [/^must not be empty$/, "不能为空"], [/^must not contain control characters$/, "不能含控制字符"],
  [/^is \d+ characters; at most \d+$/, "过长"], [/^unknown (code|district|kind)\b/, "不是可选的值"],
  [/^must be a whole number\b/, "须为整数"], [/^not a phone number\b/, "不是电话号码"], [/^not an email address$/, "不是电子邮箱地址"],
  [/^is in the future$/, "在将来"], [/^must be an ISO 8601/, "时间格式不对"],
];

function fieldError({ field, message }) {
  const name = String(field || "").replace(/^complaint\./, "");
  const words = FIELD_WORDS[name] || FIELD_WORDS[name.replace(/\[\d+\]$/, "")];
  const zh = (MESSAGE_WORDS.find(([pattern]) => pattern.test(message || "")) || [])[1];
  return `${words ? words.join(" ") : name}: ${zh ? `${zh} ` : ""}${message}`;
}

// fetch's own failure: "Failed to fetch" (Chrome), "NetworkError when attempting…" (Firefox), "Load failed".
function isNetworkError(error) {
  return error instanceof TypeError && /fetch|network|load failed/i.test(error.message);
}

// Whether a write that failed so may still have been stored: the API never confirmed it either way (a 503
// write_unconfirmed, an outage met half way, no answer at all). Asking again with the same Idempotency-Key is safe.
export function mayHaveBeenStored(error) {
  if (error instanceof ApiTimeout) return true;
  if (isNetworkError(error)) return true;
  // Only this one: every other 503 (dependency_unavailable, unavailable) says nothing was stored (openapi.py).
  const code = error instanceof ApiError && error.problem ? error.problem.code : null;
  return code === "write_unconfirmed";
}

// What a failed write says: "not done" and why; or, when it may have been stored, to press the same button again
// unchanged (api() sends the same Idempotency-Key: what was stored is answered, never recorded twice).
// `about`: what it was about ("LV-3E3C6W: "), after the time stamp; `maybe`: [Chinese, English] telling what to
// press again, where the page has words of its own for it (Submit, Save draft).
const RECORD_AGAIN = ["可能已记录，尚未确认：请勿修改，直接再按一次：已记录的不会重复记录。",
  "May have been recorded, not confirmed: press it again unchanged; it is never recorded twice."];

export function sayWriteFailed(region, error, notDone, about = "", maybe = RECORD_AGAIN) {
  say(region, writeFailed(error, notDone, about, maybe), mayHaveBeenStored(error) ? "warn" : "error");
}

export function writeFailed(error, notDone, about = "", maybe = RECORD_AGAIN) {
  if (!mayHaveBeenStored(error)) return stamped(`${about}${notDone} — ${problemText(error)}`);
  const why = error.problem && error.problem.code === "write_unconfirmed" ? "" : ` — ${problemText(error)}`;
  return stamped(`${about}${maybe[0]} ${maybe[1]}${why}`);
}

// What the personal-data guard found (events/publishing/redaction.py, `Kind`), in words: the field and the masked
// excerpt find it at a desk, as the answer's detail (written for the logs, with offsets) does not. A notice (press.js)
// and a public progress note (department.js) are refused so.
const FOUND = {
  mobile: ["手机号码", "a mobile number"], landline: ["固定电话号码", "a landline number"],
  international_phone: ["境外电话号码", "an international phone number"], phone: ["电话号码", "a phone number"],
  resident_id: ["身份证号码", "a resident ID number"], email: ["电子邮箱地址", "an email address"],
  known_person: ["本事件投诉人的姓名、地址或联系方式", "a name, address or contact of a complainant in this incident"],
  erased_complainant: ["已删除个人信息的投诉人的资料", "details of a complainant whose personal data was erased"],
};

// What each field carries, one line a field: "英文正文 English text: 电子邮箱地址 an email address「w***.com」", from
// the refusal's `found` ([{field, kind, excerpt}], services/api/problems.py); null for any other failure.
// `fields`: the page's names of its fields ({body_en: ["英文正文", "English text"]}); `kinds`: its own words for
// a kind where the shared ones do not fit (a public note names the case's complainant, not an incident's).
export function personalDataFound(error, fields = {}, kinds = {}) {
  const problem = (error instanceof ApiError && error.problem) || {};
  if (problem.code !== "contains_personal_data") return null;
  const byField = new Map();
  for (const { field, kind, excerpt } of Array.isArray(problem.found) ? problem.found : []) {
    const [zh, en] = kinds[kind] || FOUND[kind] || ["个人信息", "personal data"];
    byField.set(field, [...(byField.get(field) || []), `${zh} ${en}「${excerpt}」`]);
  }
  const lines = [...byField].map(([field, what]) => `${(fields[field] || [field, ""]).join(" ").trim()}: ${what.join("; ")}`);
  const field = fields[problem.errors && problem.errors[0] && problem.errors[0].field];
  if (!lines.length && field) lines.push(field.join(" "));  // no findings listed: the field at least
  return lines;
}

// A failed write in words, [what to say (text, or a node for a personal-data refusal), its kind]: a refusal for
// personal data as what was found where, and `correct` (what to do about it) after it; any other failure as
// writeFailed says it. `what`: [Chinese, English] for the text refused ("公开进展", "a public note"; a notice's page
// says no noun in Chinese); `maybe` telling what to press again when it may have been stored.
export function refusal(error, notDone, about = "", {
  fields, kinds, what = ["", "a notice"], correct = "", maybe = RECORD_AGAIN,
} = {}) {
  const lines = personalDataFound(error, fields, kinds);
  if (!lines) return [writeFailed(error, notDone, about, maybe), mayHaveBeenStored(error) ? "warn" : "error"];
  const said = el("div", {},
    bilingual(stamped(`${about}${notDone} — ${what[0]}含有不得公开的个人信息 it carries personal data ${what[1]} must not:`)),
    el("ul", { class: "found" }, lines.map((line) => el("li", {}, bilingual(line)))), correct && bilingual(correct));
  return [said, "error"];
}

// `refusal` said in `region`; returns what was said for personal data (a node, to say again elsewhere), else null.
export function sayRefused(region, error, notDone, about = "", options = {}) {
  const [said, kind] = refusal(error, notDone, about, options);
  say(region, said, kind);
  return said instanceof Node ? said : null;
}

// A button with its request out: it stays focusable and does nothing (aria-disabled; a disabled button loses
// the focus to the page's body in Chromium, and the next Tab went elsewhere). The pages' click handlers ask `idle`.
// `text`: what the button says while its request is out ("": only that it does nothing); null: itself again.
export function showSending(button, text) {
  if (!button) return;
  if (text === null) {
    if (button.dataset.idle !== undefined) button.replaceChildren(bilingual(button.dataset.idle));
    delete button.dataset.idle;
    button.removeAttribute("aria-disabled");
    return;
  }
  button.setAttribute("aria-disabled", "true");
  if (text && button.dataset.idle === undefined) {
    button.dataset.idle = button.textContent;
    button.replaceChildren(bilingual(text));
  }
}

export const idle = (button) => button.getAttribute("aria-disabled") !== "true";

// A table read on a phone: below 600 px each row stands as a block, each cell under its column's name
// (levee.css, table.stacked), so a row's action buttons are not cut off to the right; one whose rows have buttons
// does so up to 1000 px.
export function labelCells(table) {
  const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.tBodies[0].rows) {
    [...row.cells].forEach((cell, n) => {
      if (heads[n] && cell.colSpan === 1) cell.dataset.label = heads[n];
    });
  }
}

// Rows rebuilt by a live refetch: the control the keyboard was on is put back on the same control of the same row
// (rows keyed by data-id, data-incident or data-incidents, in a container with an id), or a keyboard user is
// thrown to the top of the page every 15 s. `rebuild` is run in between; what it returns is returned.
const ROW_KEYS = ["data-id", "data-incident", "data-incidents"];
const CONTROLS = "button, input, select, textarea, a[href], summary";

function focusedControl() {
  const active = document.activeElement;
  const row = active && active !== document.body ? active.closest(ROW_KEYS.map((key) => `[${key}]`).join(", ")) : null;
  const container = row && row.parentElement;
  if (!container || !container.id) return null;
  const key = ROW_KEYS.find((name) => row.hasAttribute(name));
  return { active, container: container.id, key, value: row.getAttribute(key),
    index: [...row.querySelectorAll(CONTROLS)].indexOf(active) };
}

function restoreFocus(saved) {
  if (!saved || saved.index < 0 || document.contains(saved.active)) return;  // kept, or moved on purpose
  if (document.activeElement && document.activeElement !== document.body) return;
  const container = document.getElementById(saved.container);
  const row = container && [...container.children].find((child) => child.getAttribute(saved.key) === saved.value);
  const control = row && row.querySelectorAll(CONTROLS)[saved.index];
  if (control) control.focus({ preventScroll: true });
}

export function keepingFocus(rebuild) {
  const saved = focusedControl();
  try {
    return rebuild();
  } finally {
    restoreFocus(saved);
  }
}

// The token form: shown until a token works; `onReady(me)` gets /api/v1/me. What onReady fails to load (the
// database down as the page opens) is said in `loadMessage` (the page's #message) and tried again by itself: it
// was an unhandled rejection, the page blank and silent for good. So onReady must be safe to run again.

const ROLES = {
  command: ["指挥人员", "command staff"], operator: ["话务员", "an operator"], department: ["部门人员", "department staff"],
  press: ["新闻官", "a press officer"],
};
const roleName = (kind) => ROLES[kind] || [kind, kind];

export function loginFlow({
  form, input, message, main, logout, roles, onReady, loadMessage = main.querySelector("#message") || message,
}) {
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
        const wanted = roles.map(roleName), yours = roleName(me.kind);
        say(message, `本页面需要${wanted.map((r) => r[0]).join("或")}令牌，您的令牌属于${yours[0]}。 This page needs a `
          + `${wanted.map((r) => r[1]).join(" or ")} token; yours is for ${yours[1]}${me.department ? ` (${me.department})` : ""}.`, "error");
        return;
      }
      form.hidden = true; main.hidden = false;
      if (logout) logout.hidden = false;
      retried(loadMessage, "读取失败 Not loaded", () => onReady(me))();
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
      const s = retryIn / 1000;
      say(message, `暂时无法验证令牌（${problemText(error)}），${s}秒后重试。 Cannot check the token now; trying again in ${s} s.`, "error");
      retry = setTimeout(tryToken, retryIn);
      retryIn = Math.min(retryIn * 2, 30000);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!/^[\x21-\x7e]+$/.test(input.value.trim())) {  // a header cannot carry it: it would fail as if offline
      say(message, "令牌无效：格式不对（lvt_ 开头，后接字母、数字、- 或 _），请重新粘贴。 Token refused: that is not a token "
        + "(lvt_ then letters, digits, - and _); paste it again.", "error");
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
    // An API that takes the connection and never answers would leave the page "connecting" for ever: given up
    // on after API_TIMEOUT_MS, and tried again (once the stream is open, the heartbeat watchdog below takes over).
    const opening = setTimeout(() => controller.abort(), API_TIMEOUT_MS);
    let response;
    try {
      response = await fetch("/api/v1/board/events", {
        headers: authHeaders({ Accept: "text/event-stream" }), signal: controller.signal, cache: "no-store",
      });
    } finally {
      clearTimeout(opening);
    }
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
// refetch now and one after it. A load that fails or times out (api() gives up after API_TIMEOUT_MS) ends the
// run: the next change or timer starts another.
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

// Whether complaints can be received at all: /healthz (public, answered apart from the read models). A full or
// unreachable event store stops intake, and so does PostgreSQL: a call's Idempotency-Key and a caller's
// personal-data key are kept there (docs/operations.md, section 3). [test of its nats and postgres, words]
const INTAKE_DOWN = [
  [(nats) => nats.startsWith("refusing writes") && nats.includes("no_storage"),
    "事件库已满：无法接收新投诉，请立即通知值班工程师。 The event store is full: no new complaint can be received. "
    + "Call the on-call engineer now (docs/operations.md, section 12)."],
  [(nats) => nats.startsWith("refusing writes"),
    "事件库不确认写入：新投诉可能无法接收，请立即通知值班工程师。 The event store does not confirm writes: new complaints "
    + "may not be received. Call the on-call engineer now (docs/operations.md, section 12)."],
  [(nats) => nats.startsWith("unavailable"),
    "事件库无法连接：新投诉暂时无法接收（市民会被告知稍后重试）。 The event store is unreachable: no complaint can be received "
    + "for now (callers are told to try again). docs/operations.md, section 2."],
  [(nats, postgres) => postgres.startsWith("unavailable"),  // not "busy": PostgreSQL answers, the API's pool is full
    "数据库无法连接：新投诉暂时无法登记（市民会被告知稍后重试）。 The database (PostgreSQL) is unreachable: no complaint can "
    + "be filed for now (callers are told to try again). docs/operations.md, section 3."],
];
const INTAKE_EVERY_MS = 5000;  // a page may ask on every live change in a surge: /healthz at most this often

// Says in `banner` when intake is down, hidden otherwise. Returns the check to run (a timer, a live change).
export function intakeWatch(banner) {
  let asked = 0, asking = false;  // one question at a time, so an older answer never overwrites a newer one
  return async function checkIntake() {
    if (asking || Date.now() - asked < INTAKE_EVERY_MS) return;
    asking = true;
    asked = Date.now();
    let health = {};
    try {
      // Bounded: a hung answer would leave `asking` set, and the banner unasked for ever.
      const response = await fetch("/healthz", { cache: "no-store", signal: AbortSignal.timeout(API_TIMEOUT_MS) });
      if (!response.ok) health = await response.json();
    } catch {
      return;  // the API itself unreachable: the connection state says so
    } finally {
      asking = false;
    }
    const nats = String(health.nats || ""), postgres = String(health.postgres || "");
    const found = INTAKE_DOWN.find(([down]) => down(nats, postgres));
    banner.hidden = !found;
    banner.replaceChildren(found ? bilingual(found[1]) : "");
    // The server's own words (its times in UTC) are for the engineer called: a tooltip, not the banner.
    if (found) banner.title = found === INTAKE_DOWN[INTAKE_DOWN.length - 1] ? postgres : nats;
    else banner.removeAttribute("title");
  };
}

// A follow-up call's outcomes (FollowUpRecorded.satisfaction; not_reached: a call that reached nobody), in the
// order the operator chooses from.
export const FOLLOW_UP_OUTCOMES = {
  satisfied: ["满意", "satisfied"], partly_satisfied: ["基本满意", "partly satisfied"],
  not_satisfied: ["不满意", "not satisfied"], not_reached: ["未接通", "not reached"],
};

// What sticks to the top of the page (the header on a wide screen, the operator's life-first box) is as tall as its
// lines wrap: what is scrolled into view from above (Shift+Tab, an anchor) lands below it, not under it. The page's
// scroll padding (levee.css, operator.css) follows its height.
const STICKY = [["header.top.sticky", "--sticky-header"], ["#life-first.life-first", "--life-first"]]
  .map(([selector, property]) => [document.querySelector(selector), property]).filter(([node]) => node);

function followHeight(node, property) {
  if (!window.ResizeObserver) return;
  new ResizeObserver(() => {
    document.documentElement.style.setProperty(property, `${node.offsetHeight + 8}px`);
  }).observe(node);
}

// The browser scrolls to a control the keyboard reaches only when it is out of the window, not when it is in it
// under a sticky box (Shift+Tab left the operator's Category and District under the life-first box): moved out
// from under it here, before the browser decides.
function clearOfSticky(event) {
  if (!(event.target instanceof Element) || !event.target.matches(":focus-visible")) return;  // not a mouse's click
  for (const [node] of STICKY) {
    if (node.contains(event.target) || getComputedStyle(node).position !== "sticky") continue;
    const cover = node.getBoundingClientRect(), target = event.target.getBoundingClientRect();
    if (cover.height && target.top < cover.bottom && target.bottom > cover.top) {
      window.scrollBy(0, target.top - cover.bottom - 8);
    }
  }
}

for (const [node, property] of STICKY) followHeight(node, property);
if (STICKY.length) document.addEventListener("focusin", clearOfSticky);
