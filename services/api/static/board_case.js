// 工单 The case panel of the command board (board.js): a case row of the board (to decide one by one, overdue, the
// newest P1s, rejected by triage) opens its complaint, with what command can do to it now: dispatch or re-dispatch
// it, escalate it, add it to an incident, or reinstate a rejection. A modal dialog (board.html, #case): the board
// keeps refetching behind it, and the panel is not redrawn by that.
import {
  api, bi, bilingual, el, fmtTime, idle, INCIDENT_STATUS, mayHaveBeenStored, names, nameText, problemText, replayedNote, say,
  showSending, statusLabel, writeFailed,
} from "/static/common.js";
import { activeIncidents, incidentName } from "/static/board_incidents.js";

const $ = (id) => document.getElementById(id);

// What the board lends the panel: its reference data (loaded once signed in), a refetch of the board, and a line
// under a row of one of its lists (for an answer that comes once the panel was closed).
let board = { reference: () => null, refresh: () => {}, noteRow: () => {} };

export function connectCasePanel(deps) {
  board = deps;
}

const listOf = (kind) => (board.reference() || {})[kind] || [];
const category = (code) => names(listOf("categories"), code);
const district = (code) => names(listOf("districts"), code);
const department = (code) => names(listOf("departments"), code);
export const levelTag = (level) => el("span", { class: `level ${level || ""}`, text: level || "—" });

const OPEN_STATUSES = new Set(["received", "validated", "prioritised", "dispatched", "accepted", "returned", "reopened"]);
const HOLDING = new Set(["dispatched", "accepted", "reopened"]);  // the department has it: sending it there again is refused
const TIMELINE_SHOWN = 6;
const CHANNELS = {
  hotline: ["热线", "hotline"], web: ["网站", "web"], app: ["应用", "app"], social_media: ["社交媒体", "social media"],
  walk_in: ["来访", "walk-in"], open311: ["Open311", "Open311"],
};
export const channelText = (code) => (CHANNELS[code] || [code || "—", ""]).join(" ").trim();
const deptText = (code) => nameText(listOf("departments"), code);

// The history in words, [Chinese, English, what someone wrote], from a timeline entry (projections/timeline.py
// keeps its detail); who it went to or came from is in the words, a reason or note once after them.
const TIMELINE_WORDS = {
  ComplaintReceived: (e) => [`受理（${channelText(e.detail.channel)}）`, "received"],
  ComplaintValidated: () => ["核实有效", "validated"],
  ComplaintRejected: (e) => ["判为无效", "rejected", e.detail.reason],
  ComplaintReinstated: (e) => ["恢复受理", "reinstated", e.detail.reason],
  ComplaintMarkedDuplicate: () => ["判为重复投诉", "marked a duplicate"],
  ComplaintLinkedToIncident: () => ["归入事件", "linked to an incident"],
  ComplaintMovedToIncident: () => ["移入合并后的事件", "moved to the merged incident"],
  PriorityAssessed: (e) => [`评估为 ${e.detail.level}（${e.detail.score} 分）`, `assessed ${e.detail.level}, score ${e.detail.score}`],
  ComplaintDispatched: (e) => [`派给 ${deptText(e.department)}`, "dispatched", e.detail.reason],
  DispatchAccepted: (e) => [`${deptText(e.department)} 签收`, "accepted"],
  DispatchReturned: (e) => [`${deptText(e.department)} 退单`, "returned", e.detail.reason],
  ExtensionRequested: (e) => [`申请延期 ${e.detail.minutes} 分`, `asked for ${e.detail.minutes} min more`, e.detail.reason],
  ExtensionGranted: (e) => [`批准延期 ${e.detail.minutes} 分`, `extension of ${e.detail.minutes} min granted`],
  ExtensionDenied: (e) => ["驳回延期", "extension denied", e.detail.reason],
  ProgressNoted: (e) => ["进展", "progress noted", e.detail.text],
  ComplaintEscalated: (e) => [`${e.detail.level}级督办`, `escalated to level ${e.detail.level}`, e.detail.reason],
  ComplaintResponsibleAssigned: (e) => [`责任人：${e.detail.person}`, "person responsible named"],
  ComplaintResolved: (e) => ["办结", "resolved", e.detail.summary],
  FollowUpRecorded: () => ["回访", "followed up"],
  FollowUpAttempted: () => ["回访未接通", "follow-up call not reached"],
  ComplaintReopened: (e) => ["重启", "reopened", e.detail.reason],
  ComplaintClosed: () => ["归档", "closed"],
  ComplaintCallRepeated: () => ["再次来电", "called again"],
  ResolutionTimeAgreed: (e) => [`约定办结时间 ${fmtTime(e.detail.agreed_at)}`, "resolution time agreed"],
  ComplaintRedacted: () => ["个人信息已删除", "personal data erased"],
  EmergencyTransferRecorded: (e) => [`转接 ${e.detail.service || ""}`.trim(), "transferred to an emergency service"],
};

function stepWords(entry) {
  const words = TIMELINE_WORDS[entry.kind], [zh, en, wrote] = words ? words(entry) : [entry.kind, ""];
  return `${zh} ${en}`.trim() + (wrote ? `：${wrote}` : "");
}

let opened = null;  // { id, code, list, detail } of the case the panel shows (list: the id of the list it came from)
const acting = new Set();  // cases with a command on its way: one at a time each

export function openButton(item, list) {
  return el("button", {
    type: "button", class: "open-case", "data-open": item.id, "aria-haspopup": "dialog",
    "aria-label": `${item.tracking_code} 打开工单 open the case`, title: "打开工单 Open the case",
    onclick: () => openCase(item.id, item.tracking_code, list),
  }, item.tracking_code);
}

// A row anywhere but its own controls opens its case too (the button in it is what the keyboard reaches).
export function opensCase(row, item, list) {
  row.classList.add("opens");
  row.addEventListener("click", (event) => {
    if (event.target.closest("button, a, input, select, textarea, summary")) return;
    if (String(window.getSelection())) return;  // text selected (a code copied), not a press on the row
    openCase(item.id, item.tracking_code, list);
  });
  return row;
}

async function openCase(id, code, list) {
  opened = { id, code, list, detail: null };
  $("case-title").replaceChildren(bilingual(`工单 ${code} case`));
  say($("case-message"), "读取中… loading…", "info");
  $("case-body").replaceChildren();
  showActions(null);
  if (!$("case").open) $("case").showModal();
  $("case-close").focus();
  await loadCase(id);
}

// The case as the read models have it; `version`: wait for them to show this version (a command just answered),
// asking again every 250 ms, then every second, for CATCH_UP_MS at most: in a surge the projector runs behind.
const CATCH_UP_MS = 20000;

async function loadCase(id, version = 0) {
  const asked = opened, started = Date.now();  // an answer for a panel closed or opened anew since is dropped
  const current = () => opened === asked && $("case").open;
  try {
    let detail = await api(`/api/v1/complaints/${id}`);
    while (lastVersion(detail) < version && Date.now() - started < CATCH_UP_MS && current()) {
      const wait = Date.now() - started < 2000 ? 250 : 1000;
      await new Promise((resolve) => { setTimeout(resolve, wait); });
      detail = await api(`/api/v1/complaints/${id}`);
    }
    if (!current()) return;
    opened.detail = detail;
    opened.code = detail.tracking_code;
    showCase(detail);
    if ($("case-message").classList.contains("info")) say($("case-message"), "");
    if (lastVersion(detail) < version) {  // shown as it was: said so, and no action offered on a stale state
      $("case-body").classList.add("stale");
      showActions(null);
      $("case-none").hidden = false;
      $("case-none").replaceChildren(bilingual("看板数据尚未更新，请稍后重新打开此工单 the board's data has not caught up "
        + "yet: open the case again in a moment"));
    }
  } catch (error) {
    if (current()) say($("case-message"), `工单读取失败 Case not loaded: ${problemText(error)}`, "error");
  }
}

const lastVersion = (detail) => Math.max(0, ...(detail.timeline || []).map((entry) => entry.version));

function fact(zh, en, ...value) {
  return el("div", {}, el("dt", {}, bi(zh, en)), el("dd", {}, ...value));
}

function showCase(c) {
  $("case-body").classList.remove("stale");
  $("case-title").replaceChildren(bilingual(`工单 ${c.tracking_code} case`));
  const escalation = c.escalation_level ? bi(`${c.escalation_level}级督办`, `level ${c.escalation_level}`) : "—";
  const timeline = c.timeline || [], recent = timeline.slice(-TIMELINE_SHOWN);
  $("case-body").replaceChildren(
    el("dl", { class: "case-facts" },
      fact("状态", "Status", statusLabel(c.status)),
      fact("等级", "Level", c.level ? [levelTag(c.level), " ", bilingual(`${c.score ?? "—"} 分 score`)] : bi("未评估", "unassessed")),
      fact("类别", "Category", category(c.category)), fact("区", "District", district(c.district)),
      fact("部门", "Department", c.department ? department(c.department) : bi("未派单", "not dispatched")),
      fact("督办", "Escalation", escalation),
      fact("事件", "Incident", c.incident_id ? bilingual(incidentName(c.incident_id) || `#${c.incident_id.slice(0, 8)}`) : "—"),
      fact("受理", "Received", [fmtTime(c.received_at), el("div", { class: "notes" }, bilingual(channelText(c.channel)))]),
      fact("期限", "Deadline", c.accept_by ? bilingual(`签收 accept by ${fmtTime(c.accept_by)}`)
        : c.resolve_by ? bilingual(`办结 resolve by ${fmtTime(c.resolve_by)}`) : "—",
      c.overdue ? el("div", { class: "overdue-text" }, bilingual("超时 overdue")) : null)),
    el("h3", {}, bi("投诉内容", "What was reported")),
    el("p", { class: "case-description" }, bilingual(c.description || "—")),
    el("h3", {}, bi("最近经过", "Latest steps"),
      timeline.length > recent.length ? el("span", { class: "notes" },
        " ", bilingual(`（共 ${timeline.length} 步，显示最近 ${recent.length} 步 the last ${recent.length} of ${timeline.length}）`)) : null),
    el("ol", { class: "case-timeline" }, recent.map((entry) => el("li", { "data-kind": entry.kind },
      el("span", { class: "when", text: fmtTime(entry.at) }), " ", bilingual(stepWords(entry))))));
  showActions(c);
}

// The forms that fit its status, emptied: open cases are dispatched and escalated (and added to an incident when in
// none), a rejected one reinstated.
function showActions(c) {
  const open = c && OPEN_STATUSES.has(c.status), rejected = c && c.status === "rejected";
  const levels = open ? [1, 2].filter((level) => level > (c.escalation_level || 0)) : [];
  $("case-dispatch").hidden = !open;
  $("case-escalate").hidden = !levels.length;
  $("case-link").hidden = !open || Boolean(c.incident_id);
  $("case-reinstate").hidden = !rejected;
  for (const id of ["case-dispatch", "case-escalate", "case-link", "case-reinstate"]) {
    $(id).reset();
    say($(`${id}-message`), "");
  }
  $("case-none").hidden = !c || open || rejected;
  if (c && !open && !rejected) {
    $("case-none").replaceChildren(bilingual("此状态下无需指挥部操作 nothing for command to do in this status"));
  }
  if (open) fillDispatch(c);
  if (levels.length) {
    $("case-level").replaceChildren(...levels.map((level) => el("option", { value: level },
      level === 1 ? "1级：部门负责人 level 1: department head" : "2级：指挥部 level 2: command")));
  }
  if (open && !c.incident_id) fillLink();
  if (rejected) fillReinstate(c);
}

// The departments that returned it (退单), with their reasons: marked in the list, and said under it.
function returnsOf(c) {
  const returns = new Map();
  for (const entry of c.timeline || []) {
    if (entry.kind === "DispatchReturned" && entry.department) returns.set(entry.department, entry.detail.reason || "");
  }
  return returns;
}

function fillDispatch(c) {
  const returns = returnsOf(c), holds = HOLDING.has(c.status) ? c.department : null;
  $("case-dispatch-title").replaceChildren(c.department ? bi("改派", "Re-dispatch") : bi("派单", "Dispatch"));
  $("case-dispatch-submit").replaceChildren(bilingual(c.department ? "改派 Re-dispatch" : "派单 Dispatch"));
  $("case-department").replaceChildren(el("option", { value: "" }, "请选择部门 choose a department…"),
    ...listOf("departments").map((d) => el("option", {
      value: d.code, "data-returned": returns.has(d.code) ? "true" : null, disabled: d.code === holds,
    }, `${d.name_zh} ${d.name_en}${returns.has(d.code) ? "（已退单 returned it）" : ""}`
      + `${d.code === holds ? "（现办理 has it now）" : ""}`)));
  $("case-returns").hidden = !returns.size;
  $("case-returns").replaceChildren(returns.size ? bilingual(`已退单 Returned by: ${[...returns].map(([code, reason]) =>
    `${deptText(code)}${reason ? `（${reason}）` : ""}`).join("；")}`) : "");
  showOverrule();
}

// The overrule box shows while a department that returned the case is chosen; sent only then.
function showOverrule() {
  const option = $("case-department").selectedOptions[0], returned = Boolean(option && option.dataset.returned);
  $("case-overrule-label").hidden = !returned;
  if (!returned) $("case-overrule").checked = false;
}
$("case-department").addEventListener("change", showOverrule);

// The category dispatch routes by: the reported one kept, or command's; a report that names none needs one (the API
// refuses it without: category_required). The district only where the reported location was wrong.
function fillReinstate(c) {
  const keep = c.category ? `保留原类别：${nameText(listOf("categories"), c.category)} keep the reported one`
    : "请选择类别（报告未注明） choose one: the report names none";
  $("case-category").replaceChildren(el("option", { value: "" }, keep), ...options(listOf("categories")));
  $("case-category").required = !c.category;
  const where = c.district ? `保留：${nameText(listOf("districts"), c.district)} keep the reported one`
    : "保留报告的位置 keep the reported location";
  $("case-district").replaceChildren(el("option", { value: "" }, where), ...options(listOf("districts")));
}

// 加入事件: the incidents still being handled (not resolved, not merged), most urgent first as the board lists them.
function fillLink() {
  const active = activeIncidents();
  $("case-incident").replaceChildren(el("option", { value: "" }, active.length ? "请选择事件 choose an incident…"
    : "暂无进行中的事件 no active incident"), ...active.map((i) => el("option", { value: i.id },
    `${incidentName(i.id)} · ${INCIDENT_STATUS[i.status] ? INCIDENT_STATUS[i.status].join(" ") : i.status}`)));
  $("case-link-none").hidden = Boolean(active.length);
}

const options = (list) => (list || []).map((item) => el("option", { value: item.code }, `${item.name_zh} ${item.name_en}`));

// One command at a time per case, its button showing it is out (common.js showSending: a double click or a second
// Enter sends nothing more, and the keyboard keeps its place); api() sends a retry with the same Idempotency-Key.
// `path`: where the command goes, when not the case's own `action`; `version`: the case's version in the answer.
async function act(form, action, body, sending, done, notDone, {
  path = (id) => `/api/v1/complaints/${id}/${action}`, version = (answer) => answer.version,
} = {}) {
  const button = form.querySelector("button[type=submit]"), message = $(`${form.id}-message`);
  if (!opened || !opened.detail || !idle(button) || acting.has(opened.id)) return;
  const { id, code, list } = opened;
  acting.add(id);
  showSending(button, sending);
  say(message, "");
  let answer;
  try {
    answer = await api(path(id), { method: "POST", body });
  } catch (error) {
    const text = mayHaveBeenStored(error) ? writeFailed(error, notDone) : `${notDone} — ${problemText(error, incidentName)}`;
    const kind = mayHaveBeenStored(error) ? "warn" : "error";
    if (!showing(id)) {
      if (list) board.noteRow($(list), id, `${code}: ${text}`, kind);
    } else if (error.status === 409) {  // it moved on meanwhile: said above the case, shown as it is now
      say($("case-message"), `${code}: ${text}`, kind);
      $("case-message").focus();
      loadCase(id);
    } else {
      say(message, text, kind);
      const field = { department_returned_it: "case-overrule", category_required: "case-category",
        outside_served_area: "case-district" }[error.problem && error.problem.code];
      if (field) $(field).focus();
    }
    return;
  } finally {
    acting.delete(id);
    showSending(button, null);
  }
  const text = `${code}: ${done}${replayedNote(answer)}`;
  board.refresh();
  if (!showing(id)) {  // closed meanwhile: said under the row it was opened from
    if (list) board.noteRow($(list), id, text, "ok");
    return;
  }
  say($("case-message"), text, "ok");
  showActions(null);  // what fits it now is shown once the read models have it; till then, what it was is greyed
  $("case-body").classList.add("stale");
  $("case-message").focus();
  await loadCase(id, version(answer));
}

const showing = (id) => Boolean(opened && opened.id === id && $("case").open);

// A form's required fields, said in words before anything is sent.
function missing(form, checks) {
  const failed = checks.find(([field]) => !field.value.trim());
  if (!failed) return false;
  say($(`${form.id}-message`), failed[1], "error");
  failed[0].focus();
  return true;
}

$("case-dispatch").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget, department = $("case-department").value, reason = $("case-dispatch-reason").value;
  if (missing(form, [[$("case-department"), "请选择部门 choose a department"],
    [$("case-dispatch-reason"), "派单须写明理由 a reason is required"]])) return;
  const overrule = $("case-overrule").checked && !$("case-overrule-label").hidden;
  const name = deptText(department);
  act(form, "dispatch", { department, reason: reason.trim(), ...(overrule ? { overrule_return: true } : {}) },
    "派单中… Dispatching…", `已派给 ${name} dispatched${overrule ? "（推翻退单 return overruled）" : ""}`,
    "派单失败 not dispatched");
});

$("case-escalate").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget, level = Number($("case-level").value);
  if (missing(form, [[$("case-escalate-reason"), "督办须写明理由 a reason is required"]])) return;
  act(form, "escalate", { level, reason: $("case-escalate-reason").value.trim() }, "督办中… Escalating…",
    `已${level}级督办 escalated to level ${level}`, "督办失败 not escalated");
});

$("case-link").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget, incident = $("case-incident").value;
  if (!opened) return;
  if (missing(form, [[$("case-incident"), "请选择事件 choose an incident"]])) return;
  const name = incidentName(incident) || $("case-incident").selectedOptions[0].textContent;
  act(form, "link", { complaint_id: opened.id }, "加入中… Adding…", `已加入事件「${name}」 added to the incident`,
    "未加入事件 not added to the incident", {
      path: () => `/api/v1/incidents/${incident}/complaints`, version: (answer) => answer.complaint.version,
    });
});

$("case-reinstate").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget, chosen = $("case-category").value || null, district = $("case-district").value;
  if (missing(form, [...($("case-category").required ? [[$("case-category"), "请选择类别：报告未注明类别，派单按类别分派 "
    + "choose the category: the report names none, and dispatch routes by it"]] : []),
  [$("case-reinstate-reason"), "恢复受理须写明理由 a reason is required"]])) return;
  const as = chosen ? `（类别 category: ${nameText(listOf("categories"), chosen)}）` : "";
  act(form, "reinstate", { reason: $("case-reinstate-reason").value.trim(), category: chosen, ...(district ? { district } : {}) },
    "恢复中… Reinstating…", `已恢复受理，交分诊评估 reinstated: triage scores it next${as}`, "恢复受理失败 not reinstated");
});

// Closed (the button, Escape): the keyboard goes back to the row it came from, found again if a refetch redrew
// it, or to its list's heading when the case has left the list.
$("case-close").addEventListener("click", () => $("case").close());
$("case").addEventListener("close", () => {
  const was = opened;
  opened = null;
  if (!was || !was.list) return;
  const list = $(was.list), row = [...list.children].find((child) => child.dataset.id === was.id);
  const back = row && row.querySelector("button.open-case");
  if (back) { back.focus(); return; }
  const heading = $(list.closest("section").getAttribute("aria-labelledby"));
  heading.setAttribute("tabindex", "-1");
  heading.focus();
});

