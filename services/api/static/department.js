// A department's queue: countdowns to its deadlines, and accept / return / resolve through the command API.
// Above it, the department's cases per incident, with Accept all / Resolve all for one incident at once.
import {
  ApiError, api, bi, el, fmtClock, fmtDuration, fmtTime, howLong, incidentStatus, labelCells, liveEvents, loadFailed,
  loaded, loginFlow, names, once, problemText, refetcher, refusal, say, serverNow, setCityZone, setDepartments,
  showConnection, replayedNote, stamped, statusLabel, whenChanged, zoneName,
} from "/static/common.js";

const $ = (id) => document.getElementById(id);
let me = null, reference = null, pending = null;
const OPEN = new Set(["dispatched", "accepted", "reopened"]);  // what a department's queue holds (queries.py)

// Deadlines count down on the client between refetches; the server's seconds are the truth at fetch time.
function countdown(item, fetchedAt) {
  const seconds = item.status === "dispatched" ? item.seconds_to_accept : item.seconds_to_resolve;
  if (seconds === null || seconds === undefined) return el("td", { class: "empty", text: "—" });
  const kind = item.status === "dispatched" ? ["签收", "accept"] : ["办结", "resolve"];
  const cell = el("td", {}, el("span", { class: "countdown", "data-deadline": String(fetchedAt + seconds * 1000),
    "data-kind-zh": kind[0], "data-kind-en": kind[1] }));
  // The time promised to the caller (约定期限): it bounds the sign-for as well as the resolution.
  if (item.agreed_resolution_at) {
    cell.append(el("div", { class: "notes agreed", text: `约定 ${fmtTime(item.agreed_resolution_at)} agreed with the caller` }));
  }
  return cell;
}

function tick() {
  const now = Date.now();
  showAsOf(now);
  for (const cell of document.querySelectorAll(".countdown")) {
    const left = (Number(cell.dataset.deadline) - now) / 1000;
    cell.classList.toggle("overdue-text", left < 0);
    cell.textContent = left < 0
      ? `超时 ${fmtDuration(left)} overdue (${cell.dataset.kindZh} ${cell.dataset.kindEn})`
      : `${cell.dataset.kindZh}剩余 ${fmtDuration(left)} left to ${cell.dataset.kindEn}`;
  }
}

function actionButtons(item) {
  const buttons = [];
  if (item.status === "dispatched") {
    buttons.push(el("button", { type: "button", "data-action": "accept", onclick: () => command(item, "accept", {}) }, "签收 Accept"));
  }
  if (item.status === "accepted" || item.status === "reopened") {
    buttons.push(el("button", { type: "button", "data-action": "resolve", onclick: () => ask(item, "resolve") }, "办结 Resolve"));
    // The rest of a department's work on a case it holds (DOMAIN): progress, internal or for the caller to
    // read on the status page, and more time from command, once at a time.
    buttons.push(el("button", { type: "button", class: "secondary", "data-action": "progress",
      onclick: () => ask(item, "progress") }, "进展 Note"));
    buttons.push(el("button", { type: "button", class: "secondary", "data-action": "progress_public",
      onclick: () => ask(item, "progress_public") }, "公开进展 Public note"));
    if (!item.extension_pending) {
      buttons.push(el("button", { type: "button", class: "secondary", "data-action": "extension",
        onclick: () => ask(item, "extension") }, "申请延期 More time"));
    }
  }
  // Not theirs after all: a department may return what it holds, signed for or reopened too (check_return in
  // events/complaint_rules.py), not only what waits to be signed for. Last, set apart as the one that hands it back.
  if (OPEN.has(item.status)) {
    buttons.push(el("button", { type: "button", class: "danger", "data-action": "return", onclick: () => ask(item, "return") }, "退单 Return"));
  }
  return el("td", { class: "actions" }, buttons);
}

const ASK = {  // path: the command; body: what it takes; maxLength: what the API takes for the text
  return: { title: ["退单", "Return to dispatch"], label: ["退单原因（必填）", "Reason (required)"],
    path: "return", body: (text) => ({ reason: text }), maxLength: 1000 },
  resolve: { title: ["办结", "Resolve"], label: ["办理结果（必填）", "What was done (required)"],
    path: "resolve", body: (text) => ({ summary: text }), maxLength: 4000 },
  progress: { title: ["内部进展", "Internal progress note"], label: ["进展（仅工作人员可见）", "Progress (staff only)"],
    path: "progress", body: (text) => ({ text, public: false }), maxLength: 4000 },
  progress_public: { title: ["公开进展", "Public progress note"],
    label: ["进展（市民在查询页可见，勿写姓名电话）", "Progress (the caller reads it on the status page: no names or numbers)"],
    path: "progress", body: (text) => ({ text, public: true }), maxLength: 4000 },
  extension: { title: ["申请延期", "Ask command for more time"], label: ["延期原因（必填）", "Reason (required)"],
    path: "extension-requests", body: (text) => ({ reason: text, minutes: Number($("action-minutes").value) }),
    maxLength: 1000, minutes: true },
};

function ask(item, action) {
  pending = { item, action };
  const spec = ASK[action];
  openForm(bi(`${spec.title[0]} ${item.tracking_code}`, spec.title[1]), bi(spec.label[0], spec.label[1]));
  $("action-text").maxLength = spec.maxLength;
  $("action-minutes-row").hidden = !spec.minutes;
}

function openForm(title, label) {
  $("action-title").replaceChildren(title);
  $("action-label").replaceChildren(label);
  $("action").hidden = false;
  say($("action-said"), "");  // what the last form came to is not this one's
  $("action-text").value = "";
  $("action-text").focus();
}

function closeForm() {
  $("action").hidden = true;
  pending = null;
}

// What a submit of the action form came to, said under the form (role=alert) and brought into view: the form is
// below the whole queue, and a refusal said only at the top of the page, out of view, had a tired clerk press
// Submit again. #message at the top says it too, as it says every action's outcome. `said`: text or a node.
function sayAtForm(said, kind) {
  say($("message"), said instanceof Node ? said.cloneNode(true) : said, kind);
  say($("action-said"), said, kind);
  $("action-said").scrollIntoView({ block: "nearest" });
}

// An action from a row's button: said at the top, and the form's last outcome, said under it, is old news now.
function sayAtTop(said, kind) {
  say($("message"), said, kind);
  say($("action-said"), "");
}

$("action").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!pending) return;
  const { item, incident, action } = pending;
  const text = $("action-text").value;
  let ok;
  if (incident) {
    // The count is the read model's: the answer says how many were really resolved.
    const n = incident.accepted;
    if (!confirm(`将办结「${incident.title}」的 ${n} 件工单，结果均记为上述内容。\nResolve ${n} cases of "${incident.title}" with this note?`)) return;
    ok = await bulk(incident, "resolve", { summary: text }, sayAtForm);
  } else {
    ok = await once($("action-submit"), () => command(item, action, ASK[action].body(text), sayAtForm));
  }
  if (ok) closeForm();
});
$("action-cancel").addEventListener("click", () => { closeForm(); say($("action-said"), ""); });

// The case the action form is open for, gone from the queue on a refresh (re-dispatched by command, resolved by a
// colleague): the form is closed, saying so in words. It stayed open, titled with a case no longer the
// department's. The queue lists the most urgent 200 only: a case beyond them is asked after before it is said gone.
async function closeFormIfGone(queue) {
  const item = pending && pending.item;
  if (!item || inFlight.has(item.id) || queue.items.some((held) => held.id === item.id)) return;
  if ((queue.total ?? queue.items.length) > queue.items.length && await stillHeld(item)) return;
  if (!pending || pending.item !== item || inFlight.has(item.id)) return;  // another form opened, or sent, meanwhile
  const typing = $("action").contains(document.activeElement);
  closeForm();
  const code = item.tracking_code, gone = stamped(`${code} 已不在本部门队列（已改派或已处理），您的操作未保存 `
    + `${code} is no longer in your queue (re-dispatched or dealt with): nothing of yours was saved`);
  say($("action-said"), gone, "warn");  // where the form was: where the clerk looks for it
  if (typing) $("action-said").scrollIntoView({ block: "nearest" });  // where the clerk was writing
}

// Whether the department still holds a case it is not shown (one beyond the most urgent 200): 403 or 404 say not;
// an answer that does not come says nothing, and the form stays.
async function stillHeld(item) {
  try {
    const now = await api(`/api/v1/complaints/${item.id}`);
    return OPEN.has(now.status) && now.department === me.department;
  } catch (error) {
    return !(error instanceof ApiError && [403, 404].includes(error.status));
  }
}

const DONE = {
  accept: ["已签收", "accepted"], return: ["已退单", "returned"], resolve: ["已办结", "resolved"],
  progress: ["已记录进展", "progress noted"], progress_public: ["已公开进展", "public progress noted"],
  extension: ["已申请延期，待指挥部批准", "more time asked of command"],
};

const inFlight = new Set();  // cases with a command on its way: a double click sends it once

// A public note refused for personal data (422 contains_personal_data): what was found, in words, and what to do.
const PUBLIC_NOTE = {
  fields: { text: ["公开进展", "public note"] }, what: ["公开进展", "a public note"],
  // The guard checks a note against its own case's complainant (known_personal_data.of_complaint), no incident's.
  kinds: { known_person: ["本工单投诉人的姓名、地址或联系方式", "the name, address or contact of this case's complainant"] },
  correct: "请删去后再提交；仅供工作人员的内容请用“进展 Note”。 Take it out and submit again; what only staff may read "
    + "goes in a Note.",
};

// `tell(said, kind)`: where the outcome is said (the action form's outcome under the form, sayAtForm).
async function command(item, action, body, tell = sayAtTop) {
  if (inFlight.has(item.id)) return false;
  inFlight.add(item.id);
  try {
    const answer = await api(`/api/v1/complaints/${item.id}/${(ASK[action] || { path: action }).path}`, { method: "POST", body });
    tell(`${item.tracking_code}: ${DONE[action][0]} ${DONE[action][1]}${replayedNote(answer)}`, "ok");
    refresh();
    return true;
  } catch (error) {
    tell(...refusal(error, "操作失败 failed", `${item.tracking_code}: `, action === "progress_public" ? PUBLIC_NOTE : {}));
    // Refused for what the case is now (moved on, resolved, signed for by a colleague): the queue is read again,
    // and a case no longer the department's leaves it, its form with it.
    if (error instanceof ApiError && [403, 409].includes(error.status)) refresh();
    return false;
  } finally {
    inFlight.delete(item.id);
  }
}

// Incidents: one row per incident the department holds cases of; the bulk actions act on all of them.

const SKIPPED = {
  not_dispatched: ["非待签收", "not waiting to be accepted"], not_accepted: ["未签收", "not accepted yet"],
  already_resolved: ["已办结", "already resolved"], not_dispatched_to_department: ["已不在本部门", "no longer with us"],
  not_in_incident: ["已不属此事件", "no longer in this incident"], changed_concurrently: ["被同时修改", "changed meanwhile"],
};
let bulkRunning = false;


function renderIncidents(items) {
  $("incidents-card").hidden = items.length === 0;
  $("incidents").replaceChildren(...items.map((inc) => el("tr", { "data-incident": inc.id },
    el("td", {}, el("strong", { text: inc.title || inc.id })),
    el("td", {}, incidentStatus(inc.status)),
    el("td", { class: "num", "data-count": "dispatched", text: String(inc.dispatched) }),
    el("td", { class: "num", "data-count": "accepted", text: String(inc.accepted) }),
    el("td", { class: "actions" },
      el("button", { type: "button", "data-bulk": "accept", disabled: bulkRunning || inc.dispatched === 0,
                     onclick: () => bulk(inc, "accept", {}) }, "全部签收 Accept all"),
      el("button", { type: "button", "data-bulk": "resolve", disabled: bulkRunning || inc.accepted === 0,
                     onclick: () => askResolveAll(inc) }, "全部办结 Resolve all…")),
  )));
  labelCells($("incidents").closest("table"));
}

function askResolveAll(incident) {
  pending = { incident, action: "resolve" };
  openForm(bi(`全部办结：${incident.title}（${incident.accepted} 件）`, `Resolve all ${incident.accepted} cases`),
    bi("办理结果（必填，记入每一件工单）", "What was done (required; recorded on every case)"));
}

function skippedText(skipped) {
  const parts = Object.entries(skipped || {}).map(([code, n]) => {
    const names = SKIPPED[code] || [code, code];
    return `${names[0]} ${names[1]}: ${n}`;
  });
  return parts.length ? `；跳过 skipped — ${parts.join("; ")}` : "";
}

async function bulk(incident, action, extra, tell = sayAtTop) {
  if (bulkRunning) return false;
  bulkRunning = true;
  for (const button of document.querySelectorAll("[data-bulk]")) button.disabled = true;
  try {
    const answer = await api(`/api/v1/incidents/${incident.id}/department-actions`, { method: "POST", body: { action, ...extra } });
    const [zh, en] = DONE[action];
    tell(`${incident.title}: ${zh} ${answer.acted} 件 — ${answer.acted} ${en}${skippedText(answer.skipped)}${replayedNote(answer)}`, "ok");
    return true;
  } catch (error) {
    const done = error.problem && error.problem.acted ? `（已完成 ${error.problem.acted} 件 ${error.problem.acted} done; 重试处理其余 try again for the rest）` : "";
    tell(stamped(`${incident.title}: 批量操作失败 bulk action failed — ${problemText(error)}${done}`), "error");
    return false;
  } finally {
    bulkRunning = false;
    refresh();
  }
}

const VULNERABLE = { elderly: ["老人", "elderly"], disabled: ["残障", "disabled"], infant: ["婴儿", "infant"],
  pregnant: ["孕妇", "pregnant"], patient: ["病人", "patient"] };

// Who is behind the report: how many people, and who among them needs help first (what a crew brings).
function whoIsAffected(item) {
  const people = item.people_affected > 1 ? [`${item.people_affected} 人 people`] : [];
  const vulnerable = (item.vulnerable || []).map((kind) => (VULNERABLE[kind] || [kind, kind]).join(" "));
  const parts = [...people, ...vulnerable];
  return parts.length ? el("div", { class: "notes affected", text: parts.join(" · ") }) : "";
}

// What a crew should know before it goes: escalated (督办), more time asked of command, reopened and how often.
function tags(item) {
  const out = [];
  if (item.escalation_level > 0) {
    out.push(el("span", { class: "tag escalated", "data-tag": "escalated" },
      bi(`${item.escalation_level}级督办`, `escalated, level ${item.escalation_level}`)));
  }
  if (item.extension_pending) out.push(el("span", { class: "tag extension", "data-tag": "extension" }, bi("延期待批", "extension pending")));
  if (item.reopen_count > 0) {
    out.push(el("span", { class: "tag reopened", "data-tag": "reopened" }, bi(`重启 ×${item.reopen_count}`, `reopened ×${item.reopen_count}`)));
  }
  const decision = extensionDecision(item);
  if (decision) out.push(decision);
  return out.length ? el("div", { class: "tags" }, out) : "";
}

// Command's answer to the department's last request for more time since the case came to it (the queue's
// `extension_decision`): granted, the crew plans with the new deadline; denied, it must finish in the time it had.
// A request never answered showed only as "pending", then as nothing at all.
function extensionDecision(item) {
  const decision = item.extension_decision;
  if (!decision || item.extension_pending) return null;
  const at = ` · ${when(decision.at)}`;
  if (decision.decision === "granted") {
    const [zh, en] = decision.minutes ? [`已延期 +${decision.minutes} 分钟`, `extended +${decision.minutes} min`] : ["已延期", "extended"];
    return el("span", { class: "tag extension-granted", "data-tag": "extension-granted" }, bi(zh, en), at);
  }
  if (decision.decision === "denied") {
    return el("span", { class: "tag extension-denied", "data-tag": "extension-denied" }, bi("延期被拒", "extension denied"), at);
  }
  return null;
}

// Why command said no, where the reopen reason is said: the reason is command's free text (as text, never HTML).
function deniedReason(item) {
  const decision = item.extension_decision;
  if (!decision || item.extension_pending || decision.decision !== "denied") return "";
  return el("div", { class: "notes denied-reason" }, bi("延期被拒", "extension denied"),
    `（${when(decision.at)}）: ${decision.reason || "—"}`);
}

// A time on a row: "14:05" today, with the date on another day (a decision made yesterday is not today's).
function when(at) {
  const [day] = fmtTime(at).split(" "), [today] = fmtTime(serverNow()).split(" ");
  return day === today ? fmtClock(at) : fmtTime(at);
}

// Why the caller was not satisfied, the last time it was reopened: what is still to do.
function reopenReason(item) {
  if (!item.reopen_reason) return "";
  return el("div", { class: "notes reopen-reason" }, bi("重启原因", "Reopened because"), `: ${item.reopen_reason}`);
}

function render(queue) {
  const fetchedAt = Date.now();
  const items = queue.items, total = queue.total ?? items.length;
  // The API answers the most urgent 200 (in a surge a department holds thousands): say so, and point at the
  // incidents panel's accept-all / resolve-all for the rest.
  $("queue-count").textContent = total > items.length
    ? `显示最紧急的 ${items.length} 件，共 ${total} 件；大批工单请用上方事件的“全部签收” `
      + `Showing the ${items.length} most urgent of ${total}; for the rest use the incidents' Accept all above.`
    : `共 ${total} 件 ${total} in all`;
  $("queue").replaceChildren(...(items.length ? items.map((item) => el("tr", { "data-id": item.id, "data-status": item.status },
    el("td", { class: "code" }, el("strong", { text: item.tracking_code })),
    el("td", {}, el("span", { class: `level ${item.level || ""}`, text: item.level || "—" })),
    el("td", {}, names(reference.categories, item.category)),
    el("td", {}, names(reference.districts, item.district)),
    el("td", {}, el("span", { text: item.description || "" }), whoIsAffected(item), reopenReason(item), deniedReason(item)),
    el("td", { class: "status" }, statusLabel(item.status), tags(item)),
    countdown(item, fetchedAt),
    actionButtons(item),
  )) : [el("tr", {}, el("td", { colspan: 8, class: "empty", text: "暂无工单 nothing in the queue" }))]));
  labelCells($("queue").closest("table"));
  tick();
}

// When the queue on screen was read (the answer's as_of), and when this page got it: a queue not refreshed for a
// while says so, or a hung API or a stalled stream would leave "connected · live" over cases long since moved.
let asOf = null, gotAt = 0;
const STALE_MS = 45000;  // three missed 15 s refetches

function showAsOf(now) {
  if (!asOf) return;
  const stale = now - gotAt > STALE_MS;
  const [zh, en] = howLong((now - gotAt) / 1000, { withSeconds: true });
  $("asof").textContent = `数据时间 as of ${fmtClock(asOf)}` + (stale ? `（${zh}未更新 not updated for ${en}）` : "");
  $("asof").classList.toggle("stale", stale);
}

// The readers a department's queue waits on, as the board names them (services/api/lateness.py): the read models
// (what the queue shows) and dispatch (which sends new cases here).
const READERS = [
  ["read_models", "工单列表", "the queue", (zh, en) => [`最近${zh}的变化可能尚未显示`, `changes from the last ${en} may be missing`]],
  ["dispatch", "派单", "dispatch", () => ["新工单可能尚未派到本部门", "new cases may not have reached us yet"]],
];

// `lateness` as the board's (null: the event store did not say); absent: the server did not send it, nothing said.
function renderLateness(queue) {
  const late = $("late");
  if (!("lateness" in queue)) { late.hidden = true; return; }
  const lateness = queue.lateness;
  const lines = lateness === null
    ? [el("span", { class: "reader", "data-reader": "unknown",
      text: "延迟未知：事件库暂时无法回答 Lag unknown: the event store does not answer right now" })]
    : READERS.filter(([key]) => lateness[key] && lateness[key].late).map(([key, zh, en, what]) => {
      const [zhFor, enFor] = howLong(Math.round(lateness[key].seconds), { withSeconds: true }), [whatZh, whatEn] = what(zhFor, enFor);
      return el("span", { class: "reader", "data-reader": key,
        text: `${zh}落后${zhFor} ${en} running behind ${enFor}（${whatZh} ${whatEn}）` });
    });
  const key = lines.map((line) => line.textContent).join("\n");
  if (late.dataset.key === key) return;  // unchanged: a screen reader is not told it again
  late.dataset.key = key;
  late.hidden = !lines.length;
  late.replaceChildren(...(lines.length ? [el("strong", { text: "数据延迟 Running behind" }), ...lines] : []));
}

let ticking = null;  // the refetch every 15 s, stopped once the token is refused
const refresh = refetcher(async () => {
  const code = encodeURIComponent(me.department);
  const [queue, incidents] = await Promise.allSettled([
    api(`/api/v1/departments/${code}/queue`), api(`/api/v1/departments/${code}/incidents`),
  ]);
  const failures = [];  // both said: one overwrote the other
  if (queue.status === "fulfilled") {
    asOf = queue.value.as_of || new Date().toISOString();
    gotAt = Date.now();
    render(queue.value);
    renderLateness(queue.value);
    await closeFormIfGone(queue.value);
  } else {
    // The queue read before stays, its countdowns running: said to be that one.
    const kept = asOf ? `（下方为${fmtClock(asOf)}时的工单 the queue below is as of ${fmtClock(asOf)}）` : "";
    failures.push(stamped(`读取失败 Queue not loaded: ${problemText(queue.reason, null, NO_WAIT)}${kept}`));
  }
  if (incidents.status === "fulfilled") renderIncidents(incidents.value.items);
  else failures.push(stamped(`读取失败 Incidents not loaded: ${problemText(incidents.reason, null, NO_WAIT)}`));
  // The page reads again by itself (every 15 s and on each change): not "try again in 5 s", as a 503 asks.
  if (failures.length) failures.push(`${REFRESH_S}秒内自动重试 read again by itself within ${REFRESH_S} s`);
  if (failures.length) loadFailed($("message"), el("span", {}, ...failures.map((text) => el("div", { text }))));
  else loaded($("message"));
  const refused = [queue, incidents].some((r) => r.status === "rejected" && [401, 403].includes(r.reason?.status));
  if (refused && ticking !== null) { clearInterval(ticking); ticking = null; }
});

const REFRESH_S = 15, NO_WAIT = { askToWait: false };

loginFlow({
  form: $("login"), input: $("token"), message: $("login-message"), main: $("main"), logout: $("logout"),
  roles: ["department"],
  async onReady(who) {
    me = who;
    reference = await api("/api/v1/reference");
    setCityZone(reference.area.time_zone);  // the board's zone, whatever this PC's clock is set to
    setDepartments(reference.departments);
    $("zone").textContent = `时区 time zone: ${zoneName()}`;
    $("dept-name").replaceChildren(" · ", names(reference.departments, me.department));
    await refresh();
    setInterval(tick, 1000);
    liveEvents({ onChange: whenChanged(["complaints", "incidents"], refresh),
      onState: (state, retry) => showConnection($("conn"), state, retry) });
    // Also without a commit, as the board: a stalled projector sends no change, and the countdowns' truth moves.
    ticking = setInterval(refresh, REFRESH_S * 1000);
  },
});
