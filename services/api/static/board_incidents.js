// 事件 The incidents panel's actions (board.js draws the panel): command declares an incident, moves its public
// status from its row (resolving confirmed first), merges incidents that are one event, and answers the suggestions
// of incidents that may be one. Also how the board names incidents, for the case panel's "add to incident" too.
import {
  api, bi, bilingual, el, idle, INCIDENT_STATUS, incidentStatus, keepingFocus, mayHaveBeenStored, once, problemText,
  replayedNote, say, showSending, writeFailed,
} from "/static/common.js";

const $ = (id) => document.getElementById(id);

// What the board lends this panel: its reference data (the districts an incident covers), a refetch of the board,
// and a line under a row (board.js, noteRow).
let board = { reference: () => null, refresh: () => {}, noteRow: () => {} };
let incidents = []; // as the latest board lists them: most urgent first, merged ones left out

export function connectIncidents(deps) {
  board = deps;
}

// The board's incidents, each time it is drawn: their names, and the ones a case may be added to.
export function noteIncidents(list) {
  incidents = list;
  noteSameNamed(list);
}

export const activeIncidents = () => incidents.filter((i) => i.status !== "resolved");

// Incidents of one name (triage names them by kind, district and the ninth of it their reports are in) are
// told apart by the first characters of their ids: "Medical access in Old Town (centre) · … · #52fe".
let sameNamed = new Set();

function noteSameNamed(list) {
  const seen = new Set();
  sameNamed = new Set();
  for (const i of list) (seen.has(i.title) ? sameNamed : seen).add(i.title);
}

export function named(incident) {
  return sameNamed.has(incident.title) ? `${incident.title} · #${incident.id.slice(0, 4)}` : incident.title;
}

// An incident's name by its id, as this board shows it (a refusal's detail names incidents by id), or as the
// merge form offered it (one merged meanwhile is no longer on the board).
export function incidentName(id) {
  const found = incidents.find((i) => i.id === id);
  return found ? named(found) : offered.get(id) || null;
}

// 状态 An incident's public status (the wording its notices use), moved by command. The status in the row is itself
// the control (as the person responsible is: the wall screen's rows stay one line); it opens a small dialog (#status,
// not redrawn by the refetches behind it) offering the other statuses. Any move is allowed, back too (floods come
// back). Resolving takes a press of its own after 宣布已解决… Resolve…, which says what it does: it ends the automatic
// progress summaries and lets press publish the resolution.
const moving = new Set(); // incidents with a status command on its way: one at a time each
let editing = null; // the incident the status dialog is about

export function statusCell(incident) {
  const [zh, en] = INCIDENT_STATUS[incident.status] || [incident.status, incident.status];
  const button = el("button", {
    type: "button", class: "change-status", "data-set-status": incident.id, "aria-haspopup": "dialog",
    "aria-label": `${zh} ${en} · 更改状态 Change the status: ${named(incident)}`, title: `更改状态 Change the status: ${named(incident)}`,
    onclick: () => openStatus(incident),
  }, incidentStatus(incident.status));
  if (moving.has(incident.id)) showSending(button, "更改中… Changing…");
  return el("td", { class: "status", "data-status": incident.status }, button);
}

const rowButton = (id) => $("incidents").querySelector(`button[data-set-status="${id}"]`);

function openStatus(incident) {
  if (moving.has(incident.id)) return;
  editing = incident;
  const name = named(incident), [zh, en] = INCIDENT_STATUS[incident.status] || [incident.status, incident.status];
  $("status-title").replaceChildren(bi(`事件状态：${name}`, `Status of "${name}"`));
  $("status-now").replaceChildren(bilingual(`现为 now: ${zh} ${en}`));
  $("status-moves").replaceChildren(...Object.entries(INCIDENT_STATUS).filter(([code]) => code !== incident.status)
    .map(([code, [toZh, toEn]]) => (code === "resolved"
      ? el("button", { type: "button", class: "danger", "data-to": code, "aria-expanded": "false", "aria-controls": "status-resolve",
        onclick: askToResolve }, bilingual("宣布已解决… Resolve…"))
      : el("button", { type: "button", class: "secondary", "data-to": code, onclick: (event) => moveStatus(event.currentTarget, code) },
        bilingual(`改为 ${toZh} to ${toEn}`)))));
  $("status-resolve").hidden = true;
  say($("status-message"), "");
  $("status").showModal();
  // On what it is now, not on a move: the Enter that opened the dialog, pressed once more, would otherwise move
  // the incident's public status (found by a review). Tab reaches the moves.
  $("status-now").focus();
}

// Shown, never toggled: a double click on Resolve… shows the question once, and sends nothing.
function askToResolve(event) {
  event.currentTarget.setAttribute("aria-expanded", "true");
  $("status-resolve").hidden = false;
}

$("status-resolve-confirm").addEventListener("click", (event) => moveStatus(event.currentTarget, "resolved"));
$("status-close").addEventListener("click", () => $("status").close());
$("status").addEventListener("close", () => {
  const incident = editing;
  editing = null;
  // Back to its row's status (drawn anew meanwhile, maybe), or the panel's heading once the row has gone (merged).
  const back = incident && rowButton(incident.id);
  if (back) {
    back.focus();
  } else {
    $("h-incidents").setAttribute("tabindex", "-1");
    $("h-incidents").focus();
  }
});

async function moveStatus(button, to) {
  const incident = editing;
  if (!incident || !idle(button) || moving.has(incident.id)) return;
  const { id } = incident, label = named(incident), [zh, en] = INCIDENT_STATUS[to];
  moving.add(id);
  showSending(button, "更改中… Changing…");
  showSending(rowButton(id), "更改中… Changing…");
  say($("status-message"), "");
  let said, kind = "ok", error = null;
  try {
    const answer = await api(`/api/v1/incidents/${id}/status`, { method: "POST", body: { status: to } });
    said = `${label}: 状态已改为 ${zh} status now ${en}${replayedNote(answer)}`;
  } catch (refused) {
    error = refused;
    kind = mayHaveBeenStored(error) ? "warn" : "error";
    said = mayHaveBeenStored(error) ? writeFailed(error, "状态未更改 status not changed", `${label}: `)
      : `${label}: 状态未更改 status not changed — ${problemText(error, incidentName)}`;
  } finally {
    moving.delete(id);
    showSending(button, null);
  }
  const open = editing === incident && $("status").open;
  if (!error && open) $("status").close();
  board.noteRow($("incidents"), id, said, kind); // under its row (drawn anew, its status button no longer out)
  if (error && open) {  // said where it was acted on, the dialog left open to choose again or cancel
    say($("status-message"), said, kind);
    if (error.status === 422) $("status-moves").querySelector("button").focus();  // the field it names: the status
  }
  if (error && error.problem && error.problem.code === "incident_merged") {
    say($("incidents-message"), said, kind); // its row leaves the board with the merge: said above the table too
  }
  board.refresh();
}

// 宣布事件 Declare an incident: a form under the panel's heading, folded behind its button (a wall board's height
// is for what needs a decision). A title and a kind (free text; the usual ones offered), the districts it covers
// (none: the whole served area). The new incident shows on the board once the read models have it.
const KINDS = {
  typhoon: ["台风", "typhoon"], flood: ["洪水", "flood"], rainstorm: ["暴雨", "rainstorm"], earthquake: ["地震", "earthquake"],
  landslide: ["山体滑坡", "landslide"], substation_failure: ["变电站故障", "substation failure"],
  power_outage: ["停电", "power outage"], water_outage: ["停水", "water outage"], gas_leak: ["燃气泄漏", "gas leak"],
  telecom_outage: ["通信中断", "telecom outage"],
};
const DECLARE_FIELDS = { title: "declare-title", kind: "declare-kind", districts: "declare-districts", district: "declare-districts" };

function showDeclare(open) {
  $("declare").hidden = !open;
  $("declare-open").setAttribute("aria-expanded", String(open));
  if (!open) return;
  fillDeclare();
  say($("declare-message"), "");
  $("declare-title").focus();
}

// The kinds offered and the districts' boxes, from the reference data once it is there (kept as ticked after).
function fillDeclare() {
  const reference = board.reference() || {};
  if (!$("declare-kinds").children.length) {
    const categories = (reference.categories || []).filter((c) => !KINDS[c.code]);
    $("declare-kinds").replaceChildren(...Object.entries(KINDS).map(([code, words]) => el("option", { value: code }, words.join(" "))),
      ...categories.map((c) => el("option", { value: c.code }, `${c.name_zh} ${c.name_en}`)));
  }
  const boxes = $("declare-districts").querySelector(".boxes");
  if (!boxes.children.length) {
    boxes.replaceChildren(...(reference.districts || []).map((d) => el("label", { class: "check" },
      el("input", { type: "checkbox", name: "district", value: d.code }), " ", bi(d.name_zh, d.name_en))));
  }
}

$("declare-open").addEventListener("click", () => showDeclare($("declare").hidden));
$("declare-cancel").addEventListener("click", () => {
  showDeclare(false);
  $("declare-open").focus();
});

$("declare").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("declare-submit"), message = $("declare-message");
  if (!idle(button)) return; // its request is out: a second Enter or click sends nothing
  const title = $("declare-title").value.trim(), kind = $("declare-kind").value.trim();
  const districts = [...$("declare-districts").querySelectorAll("input:checked")].map((box) => box.value);
  const lacking = !title ? ["declare-title", "请填写事件名称 a title is required"]
    : !kind ? ["declare-kind", "请填写事件类型 a kind is required (flood, typhoon, …)"] : null;
  if (lacking) {
    say(message, lacking[1], "error");
    $(lacking[0]).focus();
    return;
  }
  showSending(button, "宣布中… Declaring…");
  say(message, "");
  try {
    const answer = await api("/api/v1/incidents", { method: "POST", body: { title, kind, districts } });
    const where = districts.length ? districts.map(districtName).join("、") : "全市 the whole area";
    say($("incidents-message"), `已宣布事件「${answer.title}」 incident declared（${where}）${replayedNote(answer)}`, "ok");
    $("declare").reset();
    showDeclare(false);
    $("declare-open").focus();
    board.refresh();
  } catch (error) {
    say(message, mayHaveBeenStored(error) ? writeFailed(error, "未宣布 not declared")
      : `未宣布 not declared — ${problemText(error)}`, mayHaveBeenStored(error) ? "warn" : "error");
    const field = ((error.problem && error.problem.errors) || [])[0]?.field || "";
    const control = $(DECLARE_FIELDS[field.replace(/\[\d+\]$/, "")] || "");
    if (control) (control.querySelector("input") || control).focus();
  } finally {
    showSending(button, null);
  }
});

function districtName(code) {
  const found = ((board.reference() || {}).districts || []).find((d) => d.code === code);
  return found ? `${found.name_zh} ${found.name_en}` : code;
}

// 合并: two incidents that are one event (one burst main seen as a water outage and a flood). Command picks the
// incident this one goes into from the active ones; the API ends this one and triage moves its complaints.
// `merging` is what the open form ends: one incident (a row's button), or a suggestion's group (every one of
// them but the target chosen).
let merging = null;
let offered = new Map(); // id -> name of the incidents the open merge form offers

export function mergeCell(incident) {
  return el("td", { class: "merge-cell" }, el("button", {
    type: "button", class: "secondary", "data-merge": incident.id, "aria-label": `合并 Merge ${named(incident)} into…`,
    onclick: () => openMerge(incident),
  }, bilingual("合并 Merge into…")));
}

function openMerge(incident) {
  const targets = incidents.filter((i) => i.id !== incident.id && i.status !== "resolved");
  if (!targets.length) {
    board.noteRow($("incidents"), incident.id, "没有可并入的事件 no other active incident to merge into", "error");
    return;
  }
  showMerge([incident], bi(`合并事件：${named(incident)}`, `Merge "${named(incident)}" into another incident`),
    "此事件结束，其工单并入所选事件 This incident ends; its complaints go to the one chosen",
    targets.map((t) => el("option", { value: t.id }, `${named(t)} · ${t.complaints} 件 complaints`)), [incident, ...targets]);
}

// A suggestion's group: the largest (first) preselected as the one the others go into.
function openGroupMerge(suggestion) {
  const group = suggestion.incidents, titles = group.map(named).join(" · ");
  showMerge(group, bi(`合并为一个事件：${titles}`, `Merge into one incident: ${titles}`),
    "其余事件结束，其工单并入所选事件（默认为未结工单最多的） The others end; their complaints go to the one chosen "
      + "(the one with the most open complaints unless you choose another)",
    group.map((t) => el("option", { value: t.id }, `${named(t)} · ${t.open} 件未结 open`)), group);
  $("merge-into").value = group[0].id;
}

function showMerge(sources, title, note, options, incidents) {
  merging = sources;
  offered = new Map(incidents.map((i) => [i.id, named(i)]));
  $("merge-title").replaceChildren(title);
  $("merge-note").replaceChildren(bilingual(note));
  $("merge-into").replaceChildren(...options);
  $("merge-reason").value = "";
  say($("merge-message"), "");
  $("merge").hidden = false;
  $("merge-into").focus();
}

$("merge").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (merging) await once($("merge-submit"), mergeChosen);
});

async function mergeChosen() {
  const into = $("merge-into").value, sources = merging.filter((s) => s.id !== into);
  const target = incidentName(into) || $("merge-into").selectedOptions[0]?.textContent || into;
  const merged = [];
  let moving = 0, intoTitle = target, source = null, replayed = "";
  try {
    for (source of sources) { // one at a time: a refusal stops the rest, and says which were merged
      const answer = await api(`/api/v1/incidents/${source.id}/merge`, {
        method: "POST", body: { into, reason: $("merge-reason").value },
      });
      merged.push(source.title);
      moving += answer.moving;
      intoTitle = answer.into.title;
      replayed = replayed || replayedNote(answer);
    }
    say($("incidents-message"), `${merged.join(" · ")}: 已并入 merged into ${intoTitle}（${moving} 件工单移入 complaints moving）${replayed}`, "ok");
    $("merge").hidden = true;
    merging = null;
    board.refresh();
  } catch (error) {
    const before = merged.length ? `（已并入 merged: ${merged.join(" · ")}）` : "";
    say($("merge-message"), `${named(source)} → ${target}: 合并失败 not merged — ${problemText(error, incidentName)}${before}`, "error");
    if (merged.length) board.refresh();
  }
}
$("merge-cancel").addEventListener("click", () => { $("merge").hidden = true; merging = null; });

// 可能是同一事件 Possibly one event: active incidents whose open complaints centre near each other, declared
// close in time (the server's merge_suggestions, best first), one line above the incidents table: the best one,
// and a button for the others (kept open across refetches, as the long lists are). 不是 Not one event hides a
// suggestion for this browser session (sessionStorage; no server state); the same incidents with another one
// joined are a new suggestion and show again.
const NOT_ONE_EVENT = "levee.board.not-one-event";
let suggested = []; // the latest board's suggestions
let allSuggestions = false; // all of them shown, or the best one only

function dismissed() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(NOT_ONE_EVENT) || "[]"));
  } catch {
    return new Set();
  }
}

const suggestionKey = (s) => s.incidents.map((i) => i.id).sort().join("+");

function dismiss(suggestion) {
  const keys = dismissed().add(suggestionKey(suggestion));
  try { sessionStorage.setItem(NOT_ONE_EVENT, JSON.stringify([...keys])); } catch { /* storage off: for this render */ }
  keepingFocus(() => renderSuggestions(suggested, keys));
}

export function renderSuggestions(suggestions, hidden = dismissed()) {
  suggested = suggestions;
  const shown = suggestions.filter((s) => !hidden.has(suggestionKey(s)));
  const open = allSuggestions, others = shown.length - 1;
  $("suggestions").hidden = !shown.length;
  $("suggestions").replaceChildren(...(open ? shown : shown.slice(0, 1)).map((s, n) => el("li",
    { class: "suggestion", "data-incidents": s.incidents.map((i) => i.id).join(" "), title: s.reason },
    el("span", { class: "what" }, el("strong", {}, bi("可能是同一事件", "Possibly one event:")), " ",
      el("span", { class: "titles" }, bilingual(s.incidents.map(named).join(" · "))), " ",
      el("span", { class: "notes" }, bilingual(`（相距 ${s.distance_km.toFixed(1)} km apart）`))),
    el("span", { class: "acts" },
      el("button", { type: "button", onclick: () => openGroupMerge(s) }, bilingual("合并到最大的 Merge into the largest…")),
      el("button", { type: "button", class: "secondary", onclick: () => dismiss(s) }, bilingual("不是 Not one event")),
      n === 0 && others > 0 ? el("button", {
        type: "button", class: "secondary more-suggestions", "aria-expanded": String(open),
        onclick: () => {
          allSuggestions = !open;
          keepingFocus(() => renderSuggestions(suggestions));
        },
      }, bilingual(open ? "只看第一条 First only" : `还有 ${others} 条 ${others} more`)) : null))));
}

