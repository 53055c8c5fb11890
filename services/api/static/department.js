// A department's queue: countdowns to its deadlines, and accept / return / resolve through the command API.
// Above it, the department's cases per incident, with Accept all / Resolve all for one incident at once.
import {
  ApiError, api, bi, bilingual, el, fmtClock, fmtDuration, fmtTime, howLong, incidentStatus, labelCells, liveEvents, loadFailed,
  idle, loaded, loginFlow, names, problemText, refetcher, refusal, say, serverNow, setCityZone, setDepartments,
  showConnection, showSending, replayedNote, stamped, statusLabel, whenChanged, zoneName,
} from "/static/common.js";

const $ = (id) => document.getElementById(id);
let me = null, reference = null, pending = null, lastQueue = null, lastIncidents = [];
const OPEN = new Set(["dispatched", "accepted", "reopened"]);  // what a department's queue holds (queries.py)

// Deadlines count down on the client between refetches; the server's seconds are the truth at fetch time.
function countdown(item) {
  if (deadlineSeconds(item) === null) return el("td", { class: "deadline empty", text: "—" });
  const kind = item.status === "dispatched" ? ["签收", "accept"] : ["办结", "resolve"];
  const cell = el("td", { class: "deadline" }, el("span", { class: "countdown", "data-kind-zh": kind[0], "data-kind-en": kind[1] }));
  // The time promised to the caller (约定期限): it bounds the sign-for as well as the resolution.
  if (item.agreed_resolution_at) {
    cell.append(el("div", { class: "notes agreed" }, bilingual(`约定 ${fmtTime(item.agreed_resolution_at)} agreed with the caller`)));
  }
  return cell;
}

// `text` in `node`, its English marked (common.js bilingual); drawn anew only when it changed: the countdowns and
// the as-of time are asked every second.
function showText(node, text) {
  if (node.textContent !== text || !node.firstElementChild) node.replaceChildren(bilingual(text));
}

const deadlineSeconds = (item) => (item.status === "dispatched" ? item.seconds_to_accept : item.seconds_to_resolve) ?? null;

// A row kept across refetches gets the deadline of the queue read last (gotAt: when it came).
function setDeadline(tr, item) {
  const span = tr.querySelector(".countdown");
  if (span) span.dataset.deadline = String(gotAt + deadlineSeconds(item) * 1000);
}

function tick() {
  const now = Date.now();
  showAsOf(now);
  for (const cell of document.querySelectorAll(".countdown")) {
    const left = (Number(cell.dataset.deadline) - now) / 1000;
    cell.classList.toggle("overdue-text", left < 0);
    showText(cell, left < 0
      ? `超时 ${fmtDuration(left)} overdue (${cell.dataset.kindZh} ${cell.dataset.kindEn})`
      : `${cell.dataset.kindZh}剩余 ${fmtDuration(left)} left to ${cell.dataset.kindEn}`);
  }
}

// What a button says while its request is out. It stays focusable and does nothing (aria-disabled): a disabled
// button loses the focus to the page's body in Chromium, and the next Tab went elsewhere.
const SENDING = {
  accept: "签收中… Accepting…", resolve: "办结中… Resolving…", return: "退单中… Returning…",
  progress: "记录中… Saving…", progress_public: "记录中… Saving…", extension: "申请中… Asking…",
  "bulk-accept": "全部签收中… Accepting all…", "bulk-resolve": "全部办结中… Resolving all…", submit: "提交中… Submitting…",
};

// A row's buttons say which case they act on (aria-describedby: its tracking code): 139 "签收 Accept" read alike.
function actionButtons(item) {
  const button = (action, label, cls = null) => el("button", { type: "button", class: cls, "data-action": action,
    "aria-describedby": codeId(item.id),
    // One that opens the action form says whether it is open for this row.
    "aria-expanded": ASK[action] ? String(isOpenFor("queue", item.id, action)) : null, "aria-controls": ASK[action] ? "action" : null,
    onclick: (event) => { if (idle(event.currentTarget)) (ASK[action] ? ask(item, action) : command(item, action, {})); } },
  bilingual(label));
  const buttons = [];
  if (item.status === "dispatched") buttons.push(button("accept", "签收 Accept"));
  if (item.status === "accepted" || item.status === "reopened") {
    buttons.push(button("resolve", "办结 Resolve"));
    // The rest of a department's work on a case it holds (DOMAIN): progress, internal or for the caller to
    // read on the status page, and more time from command, once at a time.
    buttons.push(button("progress", "进展 Note", "secondary"), button("progress_public", "公开进展 Public note", "secondary"));
    if (!item.extension_pending) buttons.push(button("extension", "申请延期 More time", "secondary"));
  }
  // Not theirs after all: a department may return what it holds, signed for or reopened too (check_return in
  // events/complaint_rules.py), not only what waits to be signed for. Last, set apart as the one that hands it back.
  if (OPEN.has(item.status)) buttons.push(button("return", "退单 Return", "danger"));
  const busy = buttons.find((b) => b.dataset.action === inFlight.get(item.id));
  if (busy) showSending(busy, SENDING[busy.dataset.action]);  // a row built again while its request is out
  return el("td", { class: "actions" }, buttons, noteRegion(item.id));
}

// What an action on a row came to, said in the row under its buttons (role=status): on a phone #message, at the
// top of the page, was thousands of pixels above. Kept across refetches for NOTE_MS, or until the next action
// there; a case or incident that left its list keeps a line in its place saying it, as long.
const NOTE_MS = 120000;
const notes = new Map();  // "<tbody id>:<id>" -> { said: text or a node, kind, at }

const noteRegion = (id) => el("div", { class: "message row-said", role: "status", "data-note-for": id, tabindex: "-1" });

function freshNote(key) {
  const note = notes.get(key);
  if (note && Date.now() - note.at > NOTE_MS) notes.delete(key);
  return notes.get(key) || null;
}

// `tbody`: "queue" or "incidents". Said in the row's own region if it is on the page, else in a line (drawn again).
function tellRow(tbody, id, said, kind) {
  notes.set(`${tbody}:${id}`, { said, kind, at: Date.now() });
  const region = $(tbody).querySelector(`tr[data-row="${id}"] [data-note-for]`);
  if (region) showNote(region, notes.get(`${tbody}:${id}`));
  else redraw();
}

// A new action on a row: what the last one came to goes, and the line it left where the row was.
function clearNote(tbody, id) {
  notes.delete(`${tbody}:${id}`);
  lastOrder[tbody] = lastOrder[tbody].filter((key) => key !== `moved:${id}`);
  for (const region of $(tbody).querySelectorAll(`[data-note-for="${id}"]`)) showNote(region, null);
}

function showNote(region, note) {
  if (!note) {
    if (region.dataset.at) say(region, "");
    delete region.dataset.at;
  } else if (region.dataset.at !== String(note.at)) {  // said once: a screen reader is not told it again
    region.dataset.at = String(note.at);
    say(region, note.said instanceof Node ? note.said.cloneNode(true) : note.said, note.kind);
  }
}

// Rows are kept by id across renders and built again only when what they show changed, moved only when out of
// place: the queue is read every 15 s and on each change, and rebuilding every row threw the focus away.
const built = new Map();  // "<tbody id>:<key>" -> { tr, shown }
const lastOrder = { queue: [], incidents: [] };  // the keys of the rows as last drawn, lines included
const ROW_ID = { queue: "case", incidents: "incident" };  // a row's id attribute: "case-<id>", for a line's link

function keptRow(tbody, key, shown, build) {
  const kept = built.get(`${tbody}:${key}`);
  if (kept && kept.shown === shown) return kept.tr;
  const tr = build();
  built.set(`${tbody}:${key}`, { tr, shown });
  return tr;
}

// The keys of the rows in order: the list's ids, and lines kept where rows were while a note about them is fresh,
// for a row that left the list (or whose form is open: a case beyond the most urgent 200 is asked after first,
// closeFormIfGone) and for a row its own action moved ("moved:<id>": a case signed for goes down the queue, by its
// resolve-by). The clerk looks where they pressed; the row jumped 1000 px away from under their finger.
function ordered(tbody, ids) {
  const last = lastOrder[tbody], present = new Set(ids), out = [...ids], at = new Map();  // last key -> its line
  last.forEach((key, n) => {
    const line = lineFor(tbody, key, last, ids, present);
    if (!line) return;
    const before = last.slice(0, n).map((other) => at.get(other) ?? other).findLast((other) => out.includes(other));
    out.splice(before === undefined ? 0 : out.indexOf(before) + 1, 0, line);
    at.set(key, line);
  });
  lastOrder[tbody] = out;
  return out;
}

// The key of the line to keep where `key` was last drawn, or null.
function lineFor(tbody, key, last, ids, present) {
  const id = key.replace(/^moved:/, ""), noted = freshNote(`${tbody}:${id}`);
  if (key !== id) return noted && present.has(id) ? key : null;
  if (!present.has(id)) return noted || editorFor(tbody, id) ? key : null;
  return noted && !last.includes(`moved:${id}`) && movedAmong(id, last, ids) ? `moved:${id}` : null;
}

// Whether `id` stands elsewhere among the rows drawn before: both its neighbours changed (not a row added or gone).
function movedAmong(id, last, ids) {
  const neighbours = (list) => {
    const common = list.filter((key) => ids.includes(key) && last.includes(key)), n = common.indexOf(id);
    return [common[n - 1], common[n + 1]];
  };
  const [before, after] = neighbours(last), [nowBefore, nowAfter] = neighbours(ids);
  return before !== nowBefore && after !== nowAfter;
}

// A line where a row was: what was done to it, and that it left the list, or where it went (`moved:<id>`).
function lineRow(tbody, key, ids) {
  const id = key.replace(/^moved:/, ""), note = freshNote(`${tbody}:${id}`), n = ids.indexOf(id) + 1;
  if (!note) return null;
  const columns = $(tbody).closest("table").tHead.rows[0].cells.length;
  const where = key === id ? "" : el("p", { class: "notes moved" },
    bilingual(`按期限现排第 ${n} 件 now number ${n} in the list, by its deadline · `),
    el("a", { href: `#${ROW_ID[tbody]}-${id}` }, bilingual("查看 Show it")));
  return keptRow(tbody, key, `${note.at} ${n}`, () => el("tr", { class: "gone", "data-row": key,
    [key === id ? "data-gone" : "data-moved"]: id }, el("td", { colspan: columns }, noteRegion(id), where)));
}

// `rows` into `tbody`, in order. The focus stays on the control it was on; on the same control of the same row
// when that row was built again; else on that row's first button, or on the line left where it was.
function placeRows(tbody, rows) {
  const active = document.activeElement, was = tbody.contains(active) ? whereIs(active) : null, wanted = new Set(rows);
  const movedNow = rows.filter((tr) => tr.dataset.moved && !tr.isConnected).map((tr) => tr.dataset.moved);
  for (const tr of [...tbody.children]) if (!wanted.has(tr)) tr.remove();
  rows.forEach((tr, n) => { if (tbody.children[n] !== tr) tbody.insertBefore(tr, tbody.children[n] || null); });
  for (const [key, { tr }] of built) if (key.startsWith(`${tbody.id}:`) && !wanted.has(tr)) built.delete(key);
  for (const region of tbody.querySelectorAll("[data-note-for]")) {
    const id = region.dataset.noteFor, own = region.closest("tr").dataset.row === id;
    // Said once: a row moved away says it on the line where it was, not again where it went.
    const saidOnLine = own && tbody.querySelector(`tr[data-moved="${id}"]`);
    showNote(region, saidOnLine ? null : freshNote(`${tbody.id}:${id}`));
  }
  if (!was || document.activeElement === active) return;
  if (document.contains(active)) active.focus({ preventScroll: true });
  else focusOn(tbody.id, movedNow.includes(was.id) ? `moved:${was.id}` : was.id, was.action);
}

const codeId = (id) => `code-${id}`;  // a case's tracking code on its row: what its buttons act on
const whereIs = (node) => ({ id: node.closest("tr")?.dataset.row, action: node.dataset.action || node.dataset.bulk });

// `key`: a row's id, or a line's ("moved:<id>").
function focusOn(tbody, key, action, scroll = false) {
  const row = key && $(tbody).querySelector(`tr[data-row="${key}"]`);
  if (!row) return;
  const target = (action && row.querySelector(`[data-action="${action}"]:enabled, [data-bulk="${action}"]:enabled`))
    || row.querySelector("button:enabled") || row.querySelector("[data-note-for]");
  if (target) target.focus({ preventScroll: !scroll });
}

function redraw() {
  if (lastQueue) renderQueue();
  renderIncidents();
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
    path: "extension-requests", body: (text) => ({ reason: text, minutes: Number(inForm("action-minutes").value) }),
    maxLength: 1000, minutes: true },
};

// The action form opens in a row of its own under the row it was opened from (as press.js's editors), its outcome
// said beside it while it is open; it was below the whole queue, and Enter on a row's Note scrolled 6000 px away.
// Escape or Cancel closes it and gives the focus back to the button that opened it.
const form = $("action"), formSaid = $("action-said"), submit = $("action-submit");
const inForm = (id) => form.querySelector(`#${id}`);  // the form is out of the page while it is closed
const editor = el("tr", { class: "editor" }, el("td", {}, form, formSaid));

const isOpenFor = (tbody, id, action) => Boolean(pending && pending.tbody === tbody && pending.id === id && pending.action === action);
const editorFor = (tbody, id) => (pending && pending.tbody === tbody && pending.id === id ? editor : null);

function ask(item, action) {
  const spec = ASK[action];
  openForm({ item, action, tbody: "queue", id: item.id }, bi(`${spec.title[0]} ${item.tracking_code}`, spec.title[1]),
    bi(spec.label[0], spec.label[1]));
  inForm("action-text").maxLength = spec.maxLength;
  inForm("action-minutes-row").hidden = !spec.minutes;
}

function openForm(what, title, label) {
  pending = what;
  clearNote(what.tbody, what.id);  // what the row's last action came to is not this one's
  editor.firstChild.colSpan = $(what.tbody).closest("table").tHead.rows[0].cells.length;
  redraw();
  inForm("action-title").replaceChildren(title);
  inForm("action-label").replaceChildren(label);
  form.hidden = false;
  say(formSaid, "");  // what the last form came to is not this one's
  inForm("action-text").value = "";
  inForm("action-text").focus();
}

// `back`: the focus goes back to the button that opened the form (Escape, Cancel, or a submit that was done).
function closeForm(back = false) {
  if (!pending) return;
  const { tbody, id, action } = pending;
  pending = null;
  form.hidden = true;
  say(formSaid, "");
  redraw();
  if (back) focusOn(tbody, id, action, true);
}

// What a submit of the action form came to, said under the form (role=alert) and brought into view; once the form
// is closed (Escape while it was on its way), at its row.
function tellForm(tbody, id, said, kind) {
  if (!pending || pending.tbody !== tbody || pending.id !== id) { tellRow(tbody, id, said, kind); return; }
  say(formSaid, said, kind);
  formSaid.scrollIntoView({ block: "nearest" });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!pending || !idle(submit)) return;
  const { item, incident, action } = pending, typing = form.contains(document.activeElement);
  const text = inForm("action-text").value;
  let ok;
  if (incident) {
    // The count is the read model's: the answer says how many were really resolved.
    const n = incident.accepted;
    if (!confirm(`将办结「${incident.title}」的 ${n} 件工单，结果均记为上述内容。\nResolve ${n} cases of "${incident.title}" with this note?`)) return;
    showSending(submit, SENDING.submit);
    ok = await bulk(incident, "resolve", { summary: text }, tellForm).finally(() => showSending(submit, null));
  } else {
    showSending(submit, SENDING.submit);
    ok = await command(item, action, ASK[action].body(text), tellForm).finally(() => showSending(submit, null));
  }
  // Done: said at its row (tellRow), where the focus goes back to. The form may have been closed meanwhile.
  if (ok && pending && (pending.item || pending.incident) === (item || incident)) closeForm(typing);
});
form.addEventListener("keydown", (event) => {
  if (event.key === "Escape") { event.preventDefault(); closeForm(true); }
});
inForm("action-cancel").addEventListener("click", () => closeForm(true));

// The case the action form is open for, gone from the queue on a refresh (re-dispatched by command, resolved by a
// colleague): the form is closed, saying so in words where it was. It stayed open, titled with a case no longer the
// department's. The queue lists the most urgent 200 only: a case beyond them is asked after before it is said gone.
async function closeFormIfGone(queue) {
  const item = pending && pending.item;
  if (!item || inFlight.has(item.id) || queue.items.some((held) => held.id === item.id)) return;
  if ((queue.total ?? queue.items.length) > queue.items.length && await stillHeld(item)) return;
  if (!pending || pending.item !== item || inFlight.has(item.id)) return;  // another form opened, or sent, meanwhile
  const typing = form.contains(document.activeElement);
  const code = item.tracking_code;
  tellRow("queue", item.id, stamped(`${code} 已不在本部门队列（已改派或已处理），您的操作未保存 `
    + `${code} is no longer in your queue (re-dispatched or dealt with): nothing of yours was saved`), "warn");
  closeForm();
  if (typing) focusOn("queue", item.id, null, true);  // where the clerk was writing
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

const inFlight = new Map();  // case id -> the action on its way: a double click sends it once

// A public note refused for personal data (422 contains_personal_data): what was found, in words, and what to do.
const PUBLIC_NOTE = {
  fields: { text: ["公开进展", "public note"] }, what: ["公开进展", "a public note"],
  // The guard checks a note against its own case's complainant (known_personal_data.of_complaint), no incident's.
  kinds: { known_person: ["本工单投诉人的姓名、地址或联系方式", "the name, address or contact of this case's complainant"] },
  correct: "请删去后再提交；仅供工作人员的内容请用“进展 Note”。 Take it out and submit again; what only staff may read "
    + "goes in a Note.",
};

const queueButton = (id, action) => $("queue").querySelector(`tr[data-id="${id}"] [data-action="${action}"]`);

// Done is said at the row; a failure where `tellFailure` says it (the form's under the form, tellForm). The row's
// button says it is sending while the request is out, and does nothing if pressed again.
async function command(item, action, body, tellFailure = tellRow) {
  if (inFlight.has(item.id)) return false;
  inFlight.set(item.id, action);
  clearNote("queue", item.id);
  showSending(queueButton(item.id, action), SENDING[action]);
  try {
    const answer = await api(`/api/v1/complaints/${item.id}/${(ASK[action] || { path: action }).path}`, { method: "POST", body });
    done(item.id, action);
    tellRow("queue", item.id, `${item.tracking_code}: ${DONE[action][0]} ${DONE[action][1]}${replayedNote(answer)}`, "ok");
    refresh();
    return true;
  } catch (error) {
    done(item.id, action);
    tellFailure("queue", item.id, ...refusal(error, "操作失败 failed", `${item.tracking_code}: `, action === "progress_public" ? PUBLIC_NOTE : {}));
    // Refused for what the case is now (moved on, resolved, signed for by a colleague): the queue is read again,
    // and a case no longer the department's leaves it, its form with it.
    if (error instanceof ApiError && [403, 409].includes(error.status)) refresh();
    return false;
  }
}

function done(id, action) {
  inFlight.delete(id);
  showSending(queueButton(id, action), null);
}

// Incidents: one row per incident the department holds cases of; the bulk actions act on all of them.

const SKIPPED = {
  not_dispatched: ["非待签收", "not waiting to be accepted"], not_accepted: ["未签收", "not accepted yet"],
  already_resolved: ["已办结", "already resolved"], not_dispatched_to_department: ["已不在本部门", "no longer with us"],
  not_in_incident: ["已不属此事件", "no longer in this incident"], changed_concurrently: ["被同时修改", "changed meanwhile"],
};
let bulkBusy = null;  // { id, action } of the bulk action on its way: one at a time

function renderIncidents(items = lastIncidents) {
  lastIncidents = items;
  const held = new Map(items.map((inc) => [inc.id, inc]));
  const ids = items.map((inc) => inc.id);
  const rows = ordered("incidents", ids)
    .flatMap((key) => [held.has(key) ? incidentRow(held.get(key)) : lineRow("incidents", key, ids), editorFor("incidents", key)])
    .filter(Boolean);
  $("incidents-card").hidden = rows.length === 0;
  placeRows($("incidents"), rows);
  labelCells($("incidents").closest("table"));
}

function incidentRow(inc) {
  const open = isOpenFor("incidents", inc.id, "resolve");
  return keptRow("incidents", inc.id, JSON.stringify([inc, open]), () => {
    const accept = el("button", { type: "button", "data-bulk": "accept", disabled: inc.dispatched === 0,
      onclick: (event) => { if (idle(event.currentTarget)) bulk(inc, "accept", {}); } }, bilingual("全部签收 Accept all"));
    const resolve = el("button", { type: "button", "data-bulk": "resolve", disabled: inc.accepted === 0,
      "aria-expanded": String(open), "aria-controls": "action",
      onclick: (event) => { if (idle(event.currentTarget)) askResolveAll(inc); } }, bilingual("全部办结 Resolve all…"));
    if (bulkBusy) for (const button of [accept, resolve]) showBulkSending(button, bulkBusy.id === inc.id && bulkBusy.action);
    return el("tr", { id: `incident-${inc.id}`, "data-incident": inc.id, "data-row": inc.id },
      el("td", {}, el("strong", {}, bilingual(inc.title || inc.id))),
      el("td", {}, incidentStatus(inc.status)),
      el("td", { class: "num", "data-count": "dispatched", text: String(inc.dispatched) }),
      el("td", { class: "num", "data-count": "accepted", text: String(inc.accepted) }),
      el("td", { class: "actions" }, accept, resolve, noteRegion(inc.id)));
  });
}

// While a bulk action is out every bulk button does nothing, and the one pressed (`action`) says it is sending.
function showBulkSending(button, action) {
  showSending(button, button.dataset.bulk === action ? SENDING[`bulk-${action}`] : "");
}

function askResolveAll(incident) {
  openForm({ incident, action: "resolve", tbody: "incidents", id: incident.id },
    bi(`全部办结：${incident.title}（${incident.accepted} 件）`, `Resolve all ${incident.accepted} cases`),
    bi("办理结果（必填，记入每一件工单）", "What was done (required; recorded on every case)"));
}

function skippedText(skipped) {
  const parts = Object.entries(skipped || {}).map(([code, n]) => {
    const names = SKIPPED[code] || [code, code];
    return `${names[0]} ${names[1]}: ${n}`;
  });
  return parts.length ? `；跳过 skipped — ${parts.join("; ")}` : "";
}

// Said at the incident's row, as a case's action is at its row; a failure where `tellFailure` says it.
async function bulk(incident, action, extra, tellFailure = tellRow) {
  if (bulkBusy) return false;
  bulkBusy = { id: incident.id, action };
  clearNote("incidents", incident.id);
  for (const button of $("incidents").querySelectorAll("[data-bulk]")) {
    showBulkSending(button, button.closest("tr").dataset.row === incident.id && action);
  }
  try {
    const answer = await api(`/api/v1/incidents/${incident.id}/department-actions`, { method: "POST", body: { action, ...extra } });
    const [zh, en] = DONE[action];
    tellRow("incidents", incident.id,
      `${incident.title}: ${zh} ${answer.acted} 件 — ${answer.acted} ${en}${skippedText(answer.skipped)}${replayedNote(answer)}`, "ok");
    return true;
  } catch (error) {
    const done = error.problem && error.problem.acted ? `（已完成 ${error.problem.acted} 件 ${error.problem.acted} done; 重试处理其余 try again for the rest）` : "";
    tellFailure("incidents", incident.id, stamped(`${incident.title}: 批量操作失败 bulk action failed — ${problemText(error)}${done}`), "error");
    return false;
  } finally {
    bulkBusy = null;
    for (const button of $("incidents").querySelectorAll("[data-bulk]")) showSending(button, null);
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
  return parts.length ? el("div", { class: "notes affected" }, bilingual(parts.join(" · "))) : "";
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

function renderQueue(queue = lastQueue) {
  lastQueue = queue;
  const items = queue.items, total = queue.total ?? items.length;
  // The API answers the most urgent 200 (in a surge a department holds thousands): say so, and point at the
  // incidents panel's accept-all / resolve-all for the rest.
  showText($("queue-count"), total > items.length
    ? `显示最紧急的 ${items.length} 件，共 ${total} 件；大批工单请用上方事件的“全部签收” `
      + `Showing the ${items.length} most urgent of ${total}; for the rest use the incidents' Accept all above.`
    : `共 ${total} 件 ${total} in all`);
  const held = new Map(items.map((item) => [item.id, item]));
  const ids = items.map((item) => item.id);
  const rows = ordered("queue", ids)
    .flatMap((key) => [held.has(key) ? caseRow(held.get(key)) : lineRow("queue", key, ids), editorFor("queue", key)])
    .filter(Boolean);
  if (!items.length) {
    rows.push(keptRow("queue", "", "", () => el("tr", {},
      el("td", { colspan: 8, class: "empty" }, bilingual("暂无工单 nothing in the queue")))));
  }
  placeRows($("queue"), rows);
  labelCells($("queue").closest("table"));
  tick();
}

// A case's row, built again only when what it shows changed (its deadline's seconds change on every read).
function caseRow(item) {
  const { seconds_to_accept: toAccept, seconds_to_resolve: toResolve, ...shown } = item;
  const open = pending && pending.tbody === "queue" && pending.id === item.id ? pending.action : "";
  const now = JSON.stringify([shown, toAccept == null, toResolve == null, open]);
  const tr = keptRow("queue", item.id, now, () => el("tr", { id: `case-${item.id}`, "data-id": item.id, "data-row": item.id, "data-status": item.status },
    el("td", { class: "code" }, el("strong", { id: codeId(item.id), text: item.tracking_code })),
    el("td", {}, el("span", { class: `level ${item.level || ""}`, text: item.level || "—" })),
    el("td", {}, names(reference.categories, item.category)),
    el("td", {}, names(reference.districts, item.district)),
    el("td", {}, el("span", { text: item.description || "" }), whoIsAffected(item), reopenReason(item), deniedReason(item)),
    el("td", { class: "status" }, statusLabel(item.status), tags(item)),
    countdown(item),
    actionButtons(item),
  ));
  setDeadline(tr, item);
  return tr;
}

// When the queue on screen was read (the answer's as_of), and when this page got it: a queue not refreshed for a
// while says so, or a hung API or a stalled stream would leave "connected · live" over cases long since moved.
let asOf = null, gotAt = 0;
const STALE_MS = 45000;  // three missed 15 s refetches

function showAsOf(now) {
  if (!asOf) return;
  const stale = now - gotAt > STALE_MS;
  const [zh, en] = howLong((now - gotAt) / 1000, { withSeconds: true });
  showText($("asof"), `数据时间 as of ${fmtClock(asOf)}` + (stale ? `（${zh}未更新 not updated for ${en}）` : ""));
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
    ? [el("span", { class: "reader", "data-reader": "unknown" },
      bilingual("延迟未知：事件库暂时无法回答 Lag unknown: the event store does not answer right now"))]
    : READERS.filter(([key]) => lateness[key] && lateness[key].late).map(([key, zh, en, what]) => {
      const [zhFor, enFor] = howLong(Math.round(lateness[key].seconds), { withSeconds: true }), [whatZh, whatEn] = what(zhFor, enFor);
      return el("span", { class: "reader", "data-reader": key },
        bilingual(`${zh}落后${zhFor} ${en} running behind ${enFor}（${whatZh} ${whatEn}）`));
    });
  const key = lines.map((line) => line.textContent).join("\n");
  if (late.dataset.key === key) return;  // unchanged: a screen reader is not told it again
  late.dataset.key = key;
  late.hidden = !lines.length;
  late.replaceChildren(...(lines.length ? [el("strong", {}, bilingual("数据延迟 Running behind")), ...lines] : []));
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
    renderQueue(queue.value);
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
  if (failures.length) loadFailed($("message"), el("span", {}, ...failures.map((text) => el("div", {}, bilingual(text)))));
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
    $("zone").replaceChildren(bilingual(`时区 time zone: ${zoneName()}`));
    $("dept-name").replaceChildren(" · ", names(reference.departments, me.department));
    await refresh();
    setInterval(tick, 1000);
    liveEvents({ onChange: whenChanged(["complaints", "incidents"], refresh),
      onState: (state, retry) => showConnection($("conn"), state, retry) });
    // Also without a commit, as the board: a stalled projector sends no change, and the countdowns' truth moves.
    ticking = setInterval(refresh, REFRESH_S * 1000);
  },
});
