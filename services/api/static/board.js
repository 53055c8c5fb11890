// The command board: fetches /api/v1/board and refetches it whenever the server says the read models moved.
// The case panel (board_case.js) and the incidents panel's actions (board_incidents.js) are modules of their own.
import {
  api, bi, bilingual, el, fmtDuration, fmtNumber, fmtTime, howLong, intakeWatch, keepingFocus, labelCells, liveEvents,
  loginFlow, names, once, mayHaveBeenStored, problemText, refetcher, replayedNote, say, setCityZone, setDepartments,
  showConnection, showSending, statusLabel, writeFailed, zoneName,
} from "/static/common.js";
import { channelText, connectCasePanel, levelTag, openButton, opensCase } from "/static/board_case.js";
import {
  connectIncidents, incidentName, mergeCell, named, noteIncidents, renderSuggestions, statusCell,
} from "/static/board_incidents.js";

const $ = (id) => document.getElementById(id);
let reference = null;

const category = (code) => names(reference && reference.categories, code);
const district = (code) => names(reference && reference.districts, code);
const department = (code) => names(reference && reference.departments, code);

function stat(id, zh, en, n, cls = "") {
  return el("div", { class: `stat ${cls}`, id },
    el("span", { class: "n", "data-testid": id, text: String(n ?? 0) }), bi(zh, en));
}

// A table of class "stacked" (its rows have buttons) stands each row as a block on a narrow screen, each cell
// under its column's name (levee.css, common.js labelCells).
function rows(tbody, items, render, emptyText) {
  tbody.replaceChildren(...(items.length ? items.map(render).flatMap((tr) => withNote(tbody, tr))
    : [el("tr", {}, el("td", { colspan: 9, class: "empty" }, bilingual(emptyText)))]));
  const table = tbody.closest("table");
  if (table.classList.contains("stacked")) labelCells(table);
}

// What an action on a row came to (a person named, a refusal), said under that row: the page's top is off-screen
// on a wall board. Kept across the refetches that rebuild the rows, for NOTE_MS or until the next action there.
// A screen reader hears it from #row-said, a status region always on the page: the line under the row is drawn
// anew on every refetch, and a region added with its words already in it is not read out.
const NOTE_MS = 60000;
const notes = new Map(); // "<tbody id>:<row id>" -> { text, kind, at }

function noteRow(tbody, id, text, kind) {
  notes.set(`${tbody.id}:${id}`, { text, kind, at: Date.now() });
  $("row-said").replaceChildren(bilingual(text));
  if (lastBoard) render(lastBoard);
}

function withNote(tbody, tr) {
  const key = `${tbody.id}:${tr.dataset.id || tr.dataset.incident}`, note = notes.get(key);
  if (!note) return [tr];
  if (Date.now() - note.at > NOTE_MS) {
    notes.delete(key);
    return [tr];
  }
  const columns = tbody.closest("table").tHead.rows[0].cells.length;
  return [tr, el("tr", { class: "note", "data-note-for": key },
    el("td", { colspan: columns }, el("div", { class: `message ${note.kind}` }, bilingual(note.text))))];
}

// Long lists show their first TOP entries, and a button shows all of them. Which lists are open is kept
// across the live refetches (a commit must not fold a list the officer is reading), not across reloads.
const TOP = 10;
const expanded = new Set();
let lastBoard = null;

// The first TOP of `items` (all when the list is open); `total` is how many there are in all, when the
// server sent only the first of them.
function topOf(id, items, total = items.length) {
  const open = expanded.has(id);
  const shown = open ? items : items.slice(0, TOP);
  const more = $(`${id}-more`);
  more.hidden = items.length <= TOP && total <= items.length;
  const counted = shown.length < items.length ? `显示前 ${shown.length} 项，共 ${items.length} 项 showing ${shown.length} of ${items.length}`
    : `显示全部 ${items.length} 项 showing all ${items.length}`;
  const cut = total > items.length ? ` · 看板只列出 ${total} 项中的前 ${items.length} 项 the board lists the first ${items.length} of ${total}` : "";
  more.querySelector(".notes").replaceChildren(bilingual(counted + cut));
  const button = more.querySelector("button");
  button.setAttribute("aria-expanded", String(open));
  button.hidden = items.length <= TOP;
  button.replaceChildren(open ? bi(`只显示前 ${TOP} 项`, `Show the top ${TOP} only`)
    : bi(`显示全部 ${items.length} 项`, `Show all ${items.length}`));
  return shown;
}

function toggle(event) {
  const id = event.currentTarget.dataset.panel;
  if (expanded.has(id)) expanded.delete(id); else expanded.add(id);
  if (lastBoard) render(lastBoard);
}


// A count that is red when above zero: the P1 and overdue columns.
const alarm = (n) => el("td", { class: `num ${n ? "alarm" : ""}`, text: n ?? 0 });

// How long since `since`, as of the board's time, in words: "1小时17分 1 h 17 min" ("m:ss" reads as hours).
function waited(since, asOf) {
  return since ? fmtDuration(Math.max(0, new Date(asOf) - new Date(since)) / 1000) : "—";
}

// The readers of the stream, as the board names them; the server says which is `late` (services/api/lateness.py).
const READERS = [
  ["read_models", "看板", "the board", (zh, en) => [`最近${zh}的工单可能尚未显示`, `reports from the last ${en} may be missing`]],
  ["triage", "分诊", "triage", () => ["新工单尚无优先级", "new complaints have no priority yet"]],
  ["dispatch", "派单", "dispatch", () => ["新工单尚未派给部门", "new complaints are not with a department yet"]],
  ["notices", "通告", "notices", () => ["进展摘要会晚到", "progress summaries come late"]],
];

const lateFor = (seconds) => howLong(Math.round(seconds), { withSeconds: true });

// In a surge the readers fall behind the stream: say by how much, so a quiet board is not taken for a quiet city.
// `lateness` null: the event store did not answer, so nobody can say; that is said too.
function renderLateness(lateness) {
  const lines = lateness === null || lateness === undefined
    ? [el("span", { class: "reader", "data-reader": "unknown" },
      bilingual("延迟未知：事件库暂时无法回答 Lag unknown: the event store does not answer right now"))]
    : READERS.filter(([key]) => lateness[key] && lateness[key].late).map(([key, zh, en, what]) => {
      const r = lateness[key], [zhFor, enFor] = lateFor(r.seconds), [whatZh, whatEn] = what(zhFor, enFor);
      return el("span", { class: "reader", "data-reader": key },
        bilingual(`${zh}落后${zhFor} ${en} ${enFor} behind（${r.events.toLocaleString()} 条更新未处理 updates not processed；`
          + `${whatZh} ${whatEn}）`));
    });
  const late = $("late"), key = lines.map((line) => line.textContent).join("\n");
  if (late.dataset.key === key) return; // unchanged: a screen reader is not told it again
  late.dataset.key = key;
  late.hidden = !lines.length;
  late.replaceChildren(...(lines.length ? [el("strong", {}, bilingual("数据延迟 Running behind")), ...lines] : []));
}

// The board drawn anew from `board`, the keyboard's focus put back where it was (common.js, keepingFocus).
function render(board) {
  keepingFocus(() => draw(board));
}

function draw(board) {
  lastBoard = board;
  noteIncidents(board.incidents);
  const c = board.counts;
  renderLateness(board.lateness);
  $("asof").replaceChildren(bilingual(`数据时间 as of ${fmtTime(board.as_of)} · #${board.position}`));
  const gap = board.stream_gap;
  $("gap").hidden = !gap;
  if (gap) {
    $("gap").replaceChildren(bilingual(`数据缺失：事件库只到 #${gap.stream_ends_at}，看板已处理到 #${gap.read_models_at}，已确认的数据可能丢失，`
      + `请立即通知值班工程师。 Stream gap: the event store ends at #${gap.stream_ends_at} but the board has processed `
      + `#${gap.read_models_at}: acknowledged data may be lost. Call the on-call engineer now (docs/operations.md).`));
  }
  $("totals").replaceChildren(
    stat("count-open", "未结", "open", c.open),
    stat("count-overdue", "超时", "overdue", c.overdue, "overdue"),
    stat("count-total", "累计", "all", Object.values(c.by_status).reduce((a, b) => a + b, 0)),
    stat("count-escalated", "上报指挥部", "escalated to command", c.escalated_to_command, c.escalated_to_command ? "overdue" : ""),
    stat("count-unassigned", "无责任人", "no owner", c.unassigned_major, c.unassigned_major ? "overdue" : ""),
    stat("count-extensions", "待批延期", "extension requests", c.extension_pending),
    stat("count-dead-letters", "死信", "dead letters", c.dead_letters, c.dead_letters ? "overdue" : ""),
  );
  const levels = ["P1", "P2", "P3", "P4", "unassessed"];
  $("by-level").replaceChildren(...levels.map((lv) =>
    stat(`count-${lv}`, lv === "unassessed" ? "未评估" : lv, lv === "unassessed" ? "unassessed" : "open", c.by_level[lv] || 0, lv)));
  $("by-status").replaceChildren(...Object.entries(c.by_status).map(([s, n]) =>
    el("div", { class: "stat" }, el("span", { class: "n", text: String(n) }), statusLabel(s))));

  const p1 = $("p1-list");
  // The newest 20 of every open P1 (a review read "showing 10 of 20" with 813 open): the count says how many.
  const p1Shown = topOf("p1-list", board.newest_p1, Math.max(c.by_level.P1 || 0, board.newest_p1.length));
  p1.replaceChildren(...(p1Shown.length ? p1Shown.map((item) =>
    opensCase(el("li", { "data-id": item.id },
      el("strong", {}, openButton(item, "p1-list")), " · ", category(item.category), " · ", district(item.district),
      " · ", statusLabel(item.status), item.department ? [" → ", department(item.department)] : [],
      " · ", fmtTime(item.received_at), item.overdue ? el("span", { class: "overdue-text" }, bilingual(" 超时 overdue")) : null),
    item, "p1-list"))
    : [el("li", { class: "empty" }, bilingual("暂无 none"))]));

  renderCommand(board);

  renderExtensions(board.extension_requests, board.as_of, c.extension_pending);

  rows($("dead-letters"), board.dead_letters, (d) => el("tr", { "data-id": String(d.position), "data-position": d.position },
    // The workers' own words (their names, the event's type, the exception): English.
    el("td", {}, bilingual(d.worker)), el("td", { class: "num", text: d.event_position ?? "—" }),
    el("td", {}, bilingual((d.topic || "—").replace(/^events\.\w+:/, ""))), el("td", { class: "error" }, bilingual(d.error)),
    el("td", { text: fmtTime(d.at) }), retryCell(d)), "暂无死信 no dead letters");
  $("dead-letters-note").hidden = !board.dead_letters.some(retriable);

  rows($("overdue"), topOf("overdue", board.overdue, c.overdue), (o) => opensCase(el("tr", { "data-id": o.id },
    el("td", { class: "code" }, openButton(o, "overdue")), el("td", {}, levelTag(o.level)), el("td", {}, category(o.category)),
    el("td", {}, district(o.district)),
    el("td", { class: o.department ? null : "undispatched" }, o.department ? department(o.department) : bi("未派单", "not dispatched")),
    el("td", { class: "num overdue-text wait" }, bilingual(fmtDuration(o.seconds_overdue)))), o, "overdue"),
  "暂无超时 nothing overdue");

  renderRejected(board.rejected_recently || [], c.rejected_recently);

  const incidents = board.incidents; // most urgent first (the server's order)
  rows($("incidents"), topOf("incidents", incidents), (i, n) => el("tr", { "data-id": i.id },
    el("td", { class: "num rank", text: n + 1 }), el("td", { class: "title" }, bilingual(named(i))),
    owner("incident", i.id, named(i), i.responsible), statusCell(i), alarm(i.open_p1), alarm(i.overdue),
    el("td", { class: "num", text: i.open }), el("td", { class: "num", text: i.complaints }), mergeCell(i)),
    "暂无事件 no incidents");
  renderSuggestions(board.merge_suggestions || []);

  rows($("hotspots"), topOf("hotspots", board.hotspots), (h) => el("tr", {},
    el("td", {}, district(h.district)), el("td", {}, category(h.category)), el("td", { class: "num", text: h.last }),
    el("td", { class: "num", text: h.before }),
    el("td", { class: `num ${h.change > 0 ? "up" : h.change < 0 ? "down" : ""}`, text: (h.change > 0 ? "+" : "") + h.change })),
    "近2小时无工单 nothing in the last two hours");

  rows($("departments"), board.departments, (d) => el("tr", {},
    el("td", {}, bi(d.name_zh, d.name_en)), el("td", { class: "num", text: d.open }),
    el("td", { class: `num ${d.overdue ? "overdue-text" : ""}`, text: d.overdue }),
    el("td", { class: "num", text: fmtNumber(d.median_minutes_to_accept, 1) }),
    el("td", { class: "num", text: fmtNumber(d.median_minutes_to_resolve, 1) }),
    el("td", { class: "num", text: fmtRate(d.satisfaction_rate) }),
    el("td", { class: "num", text: fmtRate(d.reopen_rate) })), "—");

  drawMap(board.map, board.hotspots, board.map_districts || []);
}

// What is with command: one line per incident (hundreds of P1s of one typhoon incident are one matter for
// command), then the cases command decides one by one. A command-queue case of an incident is in both.
function renderCommand(board) {
  const c = board.counts;
  const groups = board.escalated_by_incident, cases = board.escalated_individual;
  const inIncidents = groups.reduce((sum, g) => sum + g.escalated, 0);
  // Counted in both parts, so the parts add up to more than the whole (a review added them up): said.
  const both = groups.reduce((sum, g) => sum + (g.in_command_queue || 0), 0);
  const titles = new Map(board.incidents.map((i) => [i.id, i.title]));
  $("command-summary").replaceChildren(bilingual(c.escalated_to_command === 0 ? "暂无上报 nothing escalated to command"
    : `共 ${c.escalated_to_command} 件上报指挥部：${inIncidents} 件属于 ${groups.length} 个事件（每个事件一行），`
      + `${c.escalated_individual} 件需逐件决定${both ? `（其中 ${both} 件为事件中的指挥部队列工单，两处都列）` : ""}。 `
      + `${c.escalated_to_command} with command: ${inIncidents} in `
      + `${groups.length} incident(s), one line each; ${c.escalated_individual} to decide one by one`
      + `${both ? ` (${both} in both: command-queue cases of an incident)` : ""}.`));

  rows($("escalated-incidents"), topOf("escalated-incidents", groups), (g) => el("tr", { "data-incident": g.id },
    el("td", { class: "title" }, bilingual(g.title ? named(g) : g.id)), owner("incident", g.id, g.title || g.id, g.responsible),
    el("td", { class: "num strong", text: g.escalated }), alarm(g.p1), alarm(g.overdue),
    el("td", { class: `num ${g.in_command_queue ? "alarm" : ""}`, text: g.in_command_queue }),
    el("td", { class: "when", text: fmtTime(g.oldest_received_at) }),
    el("td", { class: "wait" }, bilingual(waited(g.oldest_received_at, board.as_of)))),
  "没有属于事件的上报 none in an incident");

  rows($("escalated"), topOf("escalated", cases, c.escalated_individual), (e) => opensCase(el("tr",
    { "data-id": e.id, "data-escalation": e.escalation_level, "data-queue": e.in_command_queue ? "true" : null,
      class: e.in_command_queue ? "queue" : null },
    el("td", { class: "code" }, el("strong", {}, openButton(e, "escalated"))),
    owner("complaint", e.id, e.tracking_code, e.responsible, e.incident_responsible),
    el("td", {}, e.in_command_queue ? el("span", { class: "tag queue" }, bi("指挥部队列", "command queue")) : null,
      e.escalation_level >= 2 ? [e.in_command_queue ? " " : "", bi(`${e.escalation_level}级督办`, `level ${e.escalation_level}`)] : null),
    el("td", {}, levelTag(e.level)), el("td", {}, category(e.category)), el("td", {}, district(e.district)),
    el("td", { class: "why", title: e.why || null }, bilingual(localTimes(e.why) || "—"),
      e.incident_id ? el("div", { class: "notes" }, bilingual(`事件 incident: ${titles.get(e.incident_id) || e.incident_id}`)) : null),
    el("td", { class: "when" }, fmtTime(e.since || e.received_at),
      e.overdue ? el("div", { class: "overdue-text" }, bilingual("超时 overdue")) : null)), e, "escalated"),
    "暂无需逐件决定的工单 nothing to decide one by one");
}

// 无效: what triage rejected lately (no clear facts, outside the remit), newest first, for command to look over:
// a wrong one is opened and reinstated. `total`: how many in the last 24 h (the list is the newest 20).
function renderRejected(items, total) {
  const n = Number.isFinite(total) ? total : items.length;
  $("rejected-note").replaceChildren(bilingual(n ? `近24小时 ${n} 件，最新在前；打开工单可恢复受理 `
    + `${n} in the last 24 h, newest first; open a case to reinstate it` : "近24小时没有判为无效的投诉 none rejected in the last 24 h"));
  rows($("rejected"), topOf("rejected", items), (r) => opensCase(el("tr", { "data-id": r.id },
    el("td", { class: "code" }, openButton(r, "rejected")),
    el("td", { class: "when" }, fmtTime(r.rejected_at),
      el("div", { class: "notes" }, bilingual(channelText(r.channel)), " · ", district(r.district))),
    el("td", { class: "why" }, bilingual(r.reason || "—")),
    el("td", { class: "excerpt" }, bilingual(r.description || "—"),
      r.category ? el("div", { class: "notes" }, category(r.category)) : null)), r, "rejected"),
  "暂无判为无效的投诉 nothing rejected lately");
}

// A reason's timestamps as the board shows every time, in local time: the deadline watcher writes "missed
// resolve-by deadline 2025-09-01T06:00:00+00:00" (UTC) into the stored text, which stays as it is (the cell's
// title). Only stamps with an offset: one without would be read as local time, and wrongly.
const ISO_STAMP = /(?<!\d)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})(?!\d)/g;

function localTimes(text) {
  return text && text.replace(ISO_STAMP, (stamp) => (Number.isNaN(Date.parse(stamp)) ? stamp : fmtTime(stamp)));
}

// 责任人: the one person responsible for a case or an incident, or a red "未指定 unassigned" when nobody is
// (a case that names nobody is still owned through its incident's person, shown grey). The cell is itself the
// control, to keep the wall screen's rows one line: command staff press it, type the name, and it is POSTed.
function owner(kind, id, label, name, viaIncident = null) {
  const [text, cls] = name ? [name, "person"]
    : viaIncident ? [`${viaIncident}（事件 incident）`, "via"] : ["未指定 unassigned", "unassigned"];
  const action = name ? "更换 change" : "指定 assign";
  return el("td", { class: "owner", "data-responsible": name || "" },
    el("button", { type: "button", class: `assign ${cls}`, "data-assign": kind, title: `${action}: ${label}`,
                   "aria-label": `${text} · ${action}: ${label}`,
                   onclick: (event) => assign(event.currentTarget.closest("tbody"), kind, id, label, name) },
      bilingual(text)));
}

async function assign(tbody, kind, id, label, current) {
  const person = prompt(`${label}\n责任人姓名 Name of the person responsible:`, current || "");
  if (person === null || !person.trim()) return;
  const collection = kind === "incident" ? "incidents" : "complaints";
  try {
    const answer = await api(`/api/v1/${collection}/${id}/responsible`, { method: "POST", body: { person } });
    noteRow(tbody, id, `责任人已指定 ${person.trim()} is now responsible${replayedNote(answer)}`, "ok");
    refresh();
  } catch (error) {
    if (mayHaveBeenStored(error)) noteRow(tbody, id, writeFailed(error, "指定责任人失败 not assigned"), "warn");
    else noteRow(tbody, id, `指定责任人失败 not assigned — ${problemText(error, incidentName)}`, "error");
  }
}

// 延期: a department asked command for more time. Command grants it (the minutes asked, or another number) or
// denies it, saying why. The rows are kept across the live refetches, not rebuilt (only their deadline is
// redrawn): an officer typing the minutes to grant keeps the value and the focus while the board moves. A row
// is one request, the case and when it was asked: a case that asks again after a decision is a new row.
const MAX_MINUTES = 20160; // what the grant command takes (services/api/commands.py): 14 days
const deciding = new Set(); // cases with a decision on its way: a double click sends it once
let denying = null; // the row whose request the deny form answers

// With none waiting the panel is its heading line only: a wall screen's height goes to what needs a decision.
function renderExtensions(items, asOf, total) {
  const tbody = $("extensions");
  const kept = new Map([...tbody.querySelectorAll("tr[data-key]")].map((tr) => [tr.dataset.key, tr]));
  const next = items.map((x) => {
    const tr = kept.get(`${x.id}@${x.requested_at}`) || extensionRow(x);
    showDeadline(tr, x, asOf);
    return tr;
  });
  const n = items.length, cut = total > n ? ` · 看板只列出 ${total} 项中的前 ${n} 项 the board lists the first ${n} of ${total}` : "";
  $("extensions-note").replaceChildren(bilingual(n ? `${n} 件，最早的申请在前 ${n} waiting, the oldest first${cut}`
    : "暂无待批申请 no requests waiting"));
  $("extensions-table").hidden = !n;
  if (denying && !next.includes(denying)) { // decided: here (the deny form closes), or by someone else meanwhile
    if (!denying.dataset.decided) {
      say($("extensions-message"), `${denying.dataset.code}: 延期申请已不在待批列表 the request is no longer waiting`, "info");
    }
    $("deny").hidden = true;
    denying = null;
  }
  for (const tr of [...tbody.children]) if (!next.includes(tr)) tr.remove();
  // Only rows out of place are moved: moving the row being typed in would take its focus away.
  next.forEach((tr, n) => { if (tbody.children[n] !== tr) tbody.insertBefore(tr, tbody.children[n] || null); });
  labelCells($("extensions-table"));
}

function extensionRow(x) {
  const minutes = el("input", {
    type: "number", class: "minutes", min: 1, max: MAX_MINUTES, step: 1, required: true, value: x.minutes ?? "",
    "aria-label": `批准分钟数 Minutes to grant: ${x.tracking_code}`, oninput: () => preview(tr),
    onkeydown: (event) => { if (event.key === "Enter") grantExtension(tr); },
  });
  const tr = el("tr", { "data-id": x.id, "data-key": `${x.id}@${x.requested_at}`, "data-code": x.tracking_code },
    el("td", { class: "code" }, el("strong", { text: x.tracking_code })), el("td", {}, department(x.department)),
    el("td", { class: "asked" }, el("strong", {}, bilingual(x.minutes ? `${x.minutes} 分 min` : "—")),
      el("div", { class: "notes", text: fmtTime(x.requested_at) })),
    el("td", { class: "reason", text: x.reason || "—" }),
    el("td", { class: "deadline" }),
    el("td", { class: "decide" },
      el("div", { class: "acts" }, minutes, el("span", { class: "unit" }, bilingual("分 min")),
        el("button", { type: "button", "data-decide": "grant", onclick: () => grantExtension(tr) }, bilingual("批准 Grant")),
        el("button", { type: "button", class: "danger", "data-decide": "deny", onclick: () => openDeny(tr) }, bilingual("驳回 Deny…"))),
      el("div", { class: "notes after" }), el("div", { class: "message row-message", role: "alert" })));
  return tr;
}

// The case's resolve-by now and the time left to it, as of the board's time; and what a grant would make it.
function showDeadline(tr, x, asOf) {
  tr.dataset.resolveBy = x.resolve_by || "";
  tr.dataset.asOf = asOf;
  const cell = tr.querySelector("td.deadline");
  if (!x.resolve_by) {
    cell.replaceChildren(el("span", { class: "empty" }, bilingual("无办结期限 no resolve-by")));
  } else {
    const left = new Date(x.resolve_by) - new Date(asOf), [zh, en] = howLong(left / 1000);
    cell.replaceChildren(el("div", { class: "when", text: fmtTime(x.resolve_by) }),
      left < 0 ? el("div", { class: "overdue-text" }, bilingual(`超时 ${zh} ${en} overdue`))
        : el("div", { class: "left" }, bilingual(`剩余 ${zh} ${en} left`)));
  }
  preview(tr);
}

// As the deadline watcher folds a grant (events/deadlines.py): from the resolve-by, or from now when it passed.
function preview(tr) {
  const minutes = Number(tr.querySelector("input.minutes").value), after = tr.querySelector(".after");
  const { resolveBy, asOf } = tr.dataset;
  if (!validMinutes(minutes)) {
    after.replaceChildren(bilingual(`1–${MAX_MINUTES} 分 min`));
  } else {
    const from = Math.max(new Date(resolveBy || asOf), new Date(asOf));
    after.replaceChildren(resolveBy ? bilingual(`批准后 after grant: ${fmtTime(new Date(from + minutes * 60000).toISOString())}`) : "");
  }
}

const validMinutes = (n) => Number.isInteger(n) && n >= 1 && n <= MAX_MINUTES;

// A refusal, or a value that cannot be sent, is said in the row: the officer's eyes are on it.
// Said in the row acted on, and kept in view: the page above it may have grown meanwhile (a banner, a refetch).
function sayInRow(tr, text, kind = "error") {
  const message = tr.querySelector(".row-message");
  say(message, text, kind);
  if (text) message.scrollIntoView({ block: "nearest" });
}

function grantExtension(tr) {
  const input = tr.querySelector("input.minutes"), minutes = Number(input.value);
  if (!validMinutes(minutes)) {
    sayInRow(tr, `批准分钟数须为 1–${MAX_MINUTES} 的整数 minutes to grant must be a whole number from 1 to ${MAX_MINUTES}`);
    input.focus();
    return;
  }
  decide(tr, "grant", { minutes }, [`已批准延期 ${minutes} 分`, `extension of ${minutes} min granted`]);
}

function openDeny(tr) {
  denying = tr;
  const code = tr.dataset.code, asked = tr.querySelector("td.asked strong").textContent;
  $("deny-title").replaceChildren(bi(`驳回延期申请：${code}（申请 ${asked}）`, `Deny the extension asked for ${code}`));
  $("deny-reason").value = "";
  say($("deny-message"), "");
  $("deny").hidden = false;
  $("deny-reason").focus();
}

$("deny").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!denying) return;
  const tr = denying, reason = $("deny-reason").value.trim();
  if (!reason) {
    say($("deny-message"), `${tr.dataset.code}: 驳回须写明理由 a reason is required to deny`, "error");
    $("deny-reason").focus();
    return;
  }
  const ok = await once($("deny-submit"), () => decide(tr, "deny", { reason }, ["已驳回延期", "extension denied"]));
  if (ok && denying === tr) { $("deny").hidden = true; denying = null; }
});
$("deny-cancel").addEventListener("click", () => { $("deny").hidden = true; denying = null; });

// One decision per case at a time, its row's controls disabled while it is on its way. Once decided they stay
// disabled: the row goes when the board hears of the decision, and a second click would only be refused.
async function decide(tr, action, body, [zh, en]) {
  const { id, code } = tr.dataset;
  if (deciding.has(id) || tr.dataset.decided) return false; // decided here already (the row lingers a moment)
  deciding.add(id);
  const controls = tr.querySelectorAll("td.decide button, td.decide input");
  for (const control of controls) control.disabled = true;
  say(tr.querySelector(".row-message"), "");
  let decided = false;
  try {
    const answer = await api(`/api/v1/complaints/${id}/extension-requests/${action}`, { method: "POST", body });
    decided = true;
    tr.dataset.decided = action;
    if (denying === tr) { $("deny").hidden = true; denying = null; } // its deny form, left open, is moot now
    say($("extensions-message"), `${code}: ${zh} ${en}${replayedNote(answer)}`, "ok"); // the row goes: the panel says it
    refresh();
    return true;
  } catch (error) {
    const [notZh, notEn] = action === "grant" ? ["批准延期失败", "not granted"] : ["驳回延期失败", "not denied"];
    const said = mayHaveBeenStored(error) ? writeFailed(error, `${notZh} ${notEn}`) : `${notZh} ${notEn} — ${problemText(error)}`;
    sayInRow(tr, said);
    if (denying === tr) say($("deny-message"), `${code}: ${said}`, mayHaveBeenStored(error) ? "warn" : "error");
    return false;
  } finally {
    deciding.delete(id);
    if (!decided) for (const control of controls) control.disabled = false;
  }
}

// 死信 重试 Retry: the worker handles a dead-lettered event once more (POST /api/v1/dead-letters/…/retry), which is
// for after the cause is fixed and deployed (docs/operations.md, section 5; the panel's note says so): before, it
// only fails again. One request per dead letter at a time; what came of it shows in its row as the worker answers
// (pending, then succeeded, or failed: a newer dead letter above it, to retry once the cause is really fixed).
const retrying = new Set(); // dead letters (their own positions) with a retry request on its way
const RETRY_STATES = {
  pending: ["等待重试", "retry pending"], succeeded: ["已重试成功", "retried"],
  failed: ["重试又失败：见上方新的一条", "failed again: see the newer one above"],
};

const retriable = (d) => !RETRY_STATES[d.retry_state];  // none asked for yet, or the last request ignored

function retryCell(d) {
  if (!retriable(d)) {
    return el("td", { class: `retry ${d.retry_state}`, "data-retry-state": d.retry_state }, bilingual(RETRY_STATES[d.retry_state].join(" ")));
  }
  const what = `${d.worker} #${d.event_position}`, key = String(d.position);
  const button = el("button", {
    type: "button", class: "secondary", "data-retry": key, "aria-label": `重试 Retry: ${what}`,
    title: "原因修复后再重试 Retry once the cause is fixed", onclick: () => retryDeadLetter(d),
  }, bilingual("重试 Retry"));
  if (retrying.has(key)) showSending(button, "重试中… Retrying…");
  return el("td", { class: "retry", "data-retry-state": d.retry_state || "" }, button,
    d.retry_state === "ignored" ? el("div", { class: "notes" }, bilingual("上次请求未处理 the last request was ignored")) : null);
}

async function retryDeadLetter(d) {
  const key = String(d.position), what = `${d.worker} #${d.event_position}: `;
  if (retrying.has(key)) return;
  retrying.add(key);
  showSending($("dead-letters").querySelector(`[data-retry="${key}"]`), "重试中… Retrying…");
  let said, kind = "ok";
  try {
    const answer = await api(`/api/v1/dead-letters/${encodeURIComponent(d.worker)}/${d.event_position}/retry`, { method: "POST" });
    said = `${what}已请求重试，等待 ${d.worker} 处理 retry requested: pending until ${d.worker} handles it${replayedNote(answer)}`;
  } catch (error) {
    kind = mayHaveBeenStored(error) ? "warn" : "error";
    said = mayHaveBeenStored(error) ? writeFailed(error, "未请求重试 retry not requested", what)
      : `${what}未请求重试 retry not requested — ${problemText(error)}`;
  } finally {
    retrying.delete(key);
  }
  noteRow($("dead-letters"), key, said, kind);
  refresh();
}

// A share (0..1) as a whole percentage; "—" before any follow-up call or resolution gives it a base.
function fmtRate(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value * 100)}%`;
}

// The map: the districts' bounding boxes from the reference data, drawn as SVG (no tiles, no CDN).
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

// The numbers are every open case of a district, by its district (a case reported by district alone has no point);
// where fewer of them have a point, the label says how many do. The map is one image to a screen reader: its name
// says how many points of each level it shows, its description each district's number (what it says in words).
function drawMap(points, hotspots, districts) {
  if (!reference) return;
  const counts = new Map(districts.map((d) => [d.district, d]));
  const open = districts.reduce((sum, d) => sum + d.open, 0);
  const area = reference.area.bbox, W = 760;
  const H = Math.round(W * (area.north - area.south) / (area.east - area.west));
  const x = (lon) => ((lon - area.west) / (area.east - area.west)) * W;
  const y = (lat) => ((area.north - lat) / (area.north - area.south)) * H;
  const hot = new Set(hotspots.filter((h) => h.change > 0).map((h) => h.district));
  const map = svg("svg", { class: "map", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "map-title",
    "aria-describedby": "map-desc" },
  svg("title", { id: "map-title" }, mapName(open, points)), svg("desc", { id: "map-desc" }, mapDescription(counts)));
  for (const d of reference.districts) {
    const b = d.bbox;
    const rect = svg("rect", { class: `district ${hot.has(d.code) ? "hot" : ""}`, x: x(b.west), y: y(b.north),
      width: x(b.east) - x(b.west), height: y(b.south) - y(b.north) });
    map.append(rect);
  }
  for (const p of points) {
    const level = p.level || "unassessed";
    map.append(dot(level, x(p.lon), y(p.lat), svg("title", {}, `${p.tracking_code} ${level} ${p.category || ""}`)));
  }
  for (const d of reference.districts) {
    const b = d.bbox, cx = (x(b.west) + x(b.east)) / 2, top = y(b.north);
    const n = counts.get(d.code) || { open: 0, located: 0 };
    map.append(svg("text", { x: cx, y: top + 30, "data-district": d.code, "data-open": n.open }, `${d.name_zh} ${n.open}`));
    map.append(svg("text", { x: cx, y: top + 52, class: "en", lang: "en" }, d.name_en));
    if (n.located !== n.open) {
      map.append(svg("text", { x: cx, y: top + 74, class: "located", "data-located": d.code },
        `图上 ${n.located} 件 ${n.located} on the map`));
    }
  }
  $("map").replaceChildren(map);
  const elsewhere = (counts.get(null) || { open: 0 }).open;
  $("map-note").hidden = !elsewhere;
  $("map-note").replaceChildren(elsewhere
    ? bilingual(`另有 ${elsewhere} 件未结工单未注明区 ${elsewhere} more open complaints name no district`) : "");
}

// A point of the map: each level a shape of its own as well as a colour (P1's red and P2's orange are 1.5:1 apart, the
// same to many eyes): P1 a triangle, P2 a diamond, P3 a square, P4 a dot, not yet assessed an open ring (levee.css,
// and the legend under the map).
const MAP_LEVELS = [["P1", "P1", "P1"], ["P2", "P2", "P2"], ["P3", "P3", "P3"], ["P4", "P4", "P4"],
  ["unassessed", "未评估", "unassessed"]];

function dot(level, cx, cy, title) {
  const at = (corners) => corners.map(([dx, dy]) => `${(cx + dx).toFixed(1)},${(cy + dy).toFixed(1)}`).join(" ");
  const shape = level === "P1" ? svg("polygon", { points: at([[0, -11], [10, 7], [-10, 7]]) })
    : level === "P2" ? svg("polygon", { points: at([[0, -8.5], [8.5, 0], [0, 8.5], [-8.5, 0]]) })
      : level === "P3" ? svg("rect", { x: (cx - 6).toFixed(1), y: (cy - 6).toFixed(1), width: 12, height: 12 })
        : svg("circle", { cx: cx.toFixed(1), cy: cy.toFixed(1), r: level === "P4" ? 6.5 : 5.5 });
  shape.setAttribute("class", `dot ${level}`);
  shape.append(title);
  return shape;
}

// "未结工单 12 件，图上 9 件：P1 2 件，P2 3 件，… 12 open complaints, 9 on the map: P1 2, P2 3, …"
function mapName(open, points) {
  const n = (level) => points.filter((p) => (p.level || "unassessed") === level).length;
  const zh = MAP_LEVELS.map(([level, name]) => `${name} ${n(level)} 件`).join("，");
  const en = MAP_LEVELS.map(([level, , name]) => `${name} ${n(level)}`).join(", ");
  return `未结工单 ${open} 件，图上 ${points.length} 件：${zh}。 ${open} open complaints, ${points.length} on the map: ${en}.`;
}

// "各区未结：老城区 4，… Open by district: Old Town 4, …", as the numbers on the map say it.
function mapDescription(counts) {
  const open = (d) => (counts.get(d.code) || { open: 0 }).open;
  return `各区未结：${reference.districts.map((d) => `${d.name_zh} ${open(d)}`).join("，")}。 `
    + `Open by district: ${reference.districts.map((d) => `${d.name_en} ${open(d)}`).join(", ")}.`;
}

// What the panels in their own modules borrow of the board: the reference data, a refetch, a line under a row.
const lent = { reference: () => reference, refresh: () => refresh(), noteRow };
connectCasePanel(lent);
connectIncidents(lent);

// Whether complaints can be received at all (common.js): a banner above the board when intake is down.
const checkIntake = intakeWatch($("intake"));

let ticking = null; // the refetch every 15 s, stopped once the token is refused
const refresh = refetcher(async () => {
  checkIntake();
  try {
    render(await api("/api/v1/board"));
    say($("error"), "");
  } catch (error) {
    if ((error.status === 401 || error.status === 403) && ticking !== null) {
      clearInterval(ticking);
      ticking = null;
    }
    say($("error"), `看板读取失败 Board not loaded: ${problemText(error)}`, "error");
  }
});

for (const button of document.querySelectorAll("p.more button")) button.addEventListener("click", toggle);

loginFlow({
  form: $("login"), input: $("token"), message: $("login-message"), main: $("main"), logout: $("logout"),
  roles: ["command"], loadMessage: $("error"),
  async onReady() {
    reference = await api("/api/v1/reference");
    setCityZone(reference.area && reference.area.time_zone);
    $("zone").replaceChildren(bilingual(`时区 time zone: ${zoneName()}`));  // once: the zone does not change
    setDepartments(reference.departments);
    await refresh();
    liveEvents({ onChange: refresh, onState: (state, retry) => showConnection($("conn"), state, retry) });
    // Also without a commit: a stalled projector sends no change, and the overdue counts move with the clock.
    ticking = setInterval(refresh, 15000);
  },
});
