// Press officers draft notices in Chinese and English, watch their approval state and publish approved
// text; command staff (same page) approve.
import {
  INCIDENT_STATUS, NOTICE_STATES, api, bi, bilingual, el, fmtTime, incidentStatus, keepingFocus, labelCells, liveEvents,
  idle, loadFailed, loaded, loginFlow, mayHaveBeenStored, problemText, refetcher, refusal, replayedNote, say,
  sayRefused as sayRefusedIn, setCityZone, showConnection, showSending, stamped, whenChanged,
} from "/static/common.js";

const $ = (id) => document.getElementById(id);
const statusWords = (status) => incidentStatus(status).textContent;
let me = null;
const CLOSED = new Set(["cancelled", "superseded"]);
// Summary drafts a newer one replaced: counted under the list, shown only on request.
let showSuperseded = false;
let latest = [];

const DONE = {
  publish: ["已发布", "published"], approve: ["已批准", "approved"], cancel: ["已撤销", "withdrawn"],
};
const FAILED = {
  publish: ["发布失败", "not published"], approve: ["批准失败", "not approved"], cancel: ["撤销失败", "not withdrawn"],
};
// What a row's button says while its request is out. It stays focusable and does nothing (aria-disabled): a disabled
// button loses the focus to the page's body in Chromium (department.js does the same).
const SENDING = { publish: "发布中… Publishing…", approve: "批准中… Approving…", cancel: "撤销中… Withdrawing…" };
const sending = new Map();  // notice id -> the action on its way: one at a time a notice, a second press does nothing

// notice id -> what the personal-data guard found when it was last refused publication, as the page said it
const found = new Map();

async function act(notice, action, body) {
  if (sending.has(notice.id)) return;
  sending.set(notice.id, action);
  clearNote(notice.id);
  render(latest);  // its button says it is sending
  let said, kind, done = false;
  try {
    const answer = await api(`/api/v1/notices/${notice.id}/${action}`, { method: "POST", body: body || {} });
    if (action === "publish") found.delete(notice.id);
    [said, kind, done] = [`${notice.title_zh} ${notice.title_en}: ${DONE[action].join(" ")}${replayedNote(answer)}`, "ok", true];
  } catch (error) {
    // Refused for personal data at publication: the approved text is corrected with Revise, then approved again.
    // What was found is also said in that form, where it is corrected.
    const correct = action === "publish" ? "请按“修改 Revise”改正，再经指挥批准。 Correct it with Revise, then have it "
      + "approved again." : "";
    [said, kind] = refusal(error, FAILED[action].join(" "), `${notice.title_zh} ${notice.title_en}: `, { fields: FIELDS, correct });
    if (said instanceof Node) {
      const copy = said.cloneNode(true);  // in the Revise form, the advice to use it goes without saying
      if (correct) copy.lastChild.remove();
      found.set(notice.id, copy);
    }
  } finally {
    sending.delete(notice.id);
  }
  render(latest);  // the button itself again
  tellRow(notice.id, said, kind);
  if (done) refresh();
}

// What an action on a row came to, said under the row's buttons (role=status): at the top of the page (#message) it
// was out of view on a laptop at 200 %. Kept across the refetches that draw the row anew, for NOTE_MS or until the
// next action on it; brought into view when said, and again when the row is drawn anew within IN_VIEW_MS of it
// while the focus is in the row (the row grows a line once the list shows the change: "published 14:03").
const NOTE_MS = 120000, IN_VIEW_MS = 10000;
const notes = new Map();  // notice id -> { said: text or a node, kind, at }

function freshNote(id) {
  const note = notes.get(id);
  if (note && Date.now() - note.at > NOTE_MS) notes.delete(id);
  return notes.get(id) || null;
}

const copyOf = (said) => (said instanceof Node ? said.cloneNode(true) : said);
const noteOf = (id) => $("notices").querySelector(`tr[data-id="${id}"] [data-note-for]`);

function noteRegion(id) {
  const region = el("div", { class: "message row-said", role: "status", "data-note-for": id }), note = freshNote(id);
  if (note) say(region, copyOf(note.said), note.kind);  // drawn anew: not said again (a region born with words is not read)
  return region;
}

function tellRow(id, said, kind) {
  notes.set(id, { said, kind, at: Date.now() });
  const region = noteOf(id);
  if (!region) return;
  say(region, copyOf(said), kind);
  region.scrollIntoView({ block: "nearest" });
}

function clearNote(id) {
  notes.delete(id);
  const region = noteOf(id);
  if (region) say(region, "");
}

function keepNoteInView() {
  const row = document.activeElement && document.activeElement.closest("#notices tr[data-id]");
  const note = row && freshNote(row.dataset.id);
  if (note && Date.now() - note.at < IN_VIEW_MS) noteOf(row.dataset.id)?.scrollIntoView({ block: "nearest" });
}

// The fields of a notice, as a refusal for personal data names them (common.js, personalDataFound).
const FIELDS = {
  title_zh: ["中文标题", "Chinese title"], title_en: ["英文标题", "English title"],
  body_zh: ["中文正文", "Chinese text"], body_en: ["英文正文", "English text"],
};

// A refusal for personal data in words (`correct`: what to do about it, after them), returned; any other failure
// as every write says it (common.js), `maybe` telling what to press again when it may have been stored.
function sayRefused(region, error, notDone, about, correct = "", maybe = undefined) {
  return sayRefusedIn(region, error, notDone, about, { fields: FIELDS, correct, maybe });
}

// Revise (a text not yet public) and Update (a published one) open a form under the row with the notice's working
// text. It is kept across the refetches that rebuild the rows, what is typed and the focus with it, until saved
// or discarded: a live change elsewhere must not throw a half-typed correction away.
const TEXT = ["status", "title_zh", "title_en", "body_zh", "body_en"];
const EDIT = {
  revise: {
    states: ["draft", "approved", "updated"], button: "修改 Revise", title: ["修改", "Revise"], save: "保存修改 Save revision",
    note: ["保存后须经指挥重新批准，方可发布。", "Once saved, command staff must approve it again before it is published."],
    done: ["已修改，待指挥重新批准", "revised; command staff must approve it again"],
    failed: ["修改未保存", "revision not saved"],
  },
  update: {
    states: ["published"], button: "更新 Update", title: ["更新", "Update"], save: "保存更新 Save update",
    note: ["公众仍看到已发布的文本，直至指挥批准此更新并由新闻官发布。",
      "The public keeps seeing the published text until command staff approve this update and it is published."],
    done: ["更新已保存，待指挥批准后发布；公众仍看到已发布的文本",
      "update saved; command staff must approve it, then publish it; until then the public sees the published text"],
    failed: ["更新未保存", "update not saved"],
  },
};
// notice id -> { row: the <tr> holding its form, action, opened: the text it was filled with }
const editors = new Map();
const textOf = (source) => Object.fromEntries(TEXT.map((name) => [name, source[name]]));
const sameText = (a, b) => TEXT.every((name) => a[name] === b[name]);

function openEditor(n, action) {
  if (editors.get(n.id)?.action !== action) editors.set(n.id, { row: editorRow(n, action), action, opened: textOf(n) });
  render(latest);
  editors.get(n.id).row.querySelector("input").focus();
}

// What a save came to is said beside Save (a role=status region under it): the form is as tall as the screen at
// 200 %, its top out of view. Saved, the form closes and it is said at the notice's row, where the focus goes back.
function editorRow(n, action) {
  const spec = EDIT[action], id = (name) => `${action}-${name}-${n.id}`;
  const saved = el("div", { class: "message save-said", role: "status", "aria-live": "polite" });
  const input = (name, zh, en, tag, max) => [el("label", { for: id(name) }, bilingual(`${zh} ${en}`)),
    tag === "input" ? el("input", { id: id(name), name, required: true, maxlength: max, value: n[name] })
      : el("textarea", { id: id(name), name, required: true, maxlength: max, rows: 4, text: n[name] })];
  const save = el("button", { type: "submit" }, bilingual(spec.save));
  const form = el("form", { class: "stack edit", "aria-label": `${spec.title.join(" ")}: ${n.title_zh} ${n.title_en}` },
    el("h3", {}, bi(`${spec.title[0]}「${n.title_zh}」`, `${spec.title[1]} "${n.title_en}"`)),
    el("p", { class: "notes" }, bilingual(`${spec.note[0]} ${spec.note[1]}`)),
    el("p", { class: "message warn changed", hidden: true }),
    // What the personal-data guard found when the notice was refused publication: where it is corrected.
    found.has(n.id) ? el("div", { class: "message error found-said" }, found.get(n.id).cloneNode(true)) : null,
    el("label", { for: id("status") }, bilingual("状态 Status")),
    el("select", { id: id("status"), name: "status", required: true }, ...Object.entries(INCIDENT_STATUS).map(
      ([value, [zh, en]]) => el("option", { value, selected: value === n.status }, `${zh} ${en}`))),
    input("title_zh", "标题（中文）", "Title (Chinese)", "input", 200),
    input("title_en", "标题（英文）", "Title (English)", "input", 200),
    input("body_zh", "正文（中文）", "Text (Chinese)", "textarea", 8000),
    input("body_en", "正文（英文）", "Text (English)", "textarea", 8000),
    el("p", {}, save, " ", el("button", { type: "button", class: "secondary", onclick: () => closeEditor(n.id) },
      bilingual("放弃 Discard"))), saved);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!idle(save)) return;  // already on its way
    const body = formText(form);
    say(saved, "");
    showSending(save, "保存中… Saving…");
    try {
      const answer = await api(`/api/v1/notices/${n.id}/${action}`, { method: "POST", body });
      closeEditor(n.id);
      found.delete(n.id);
      tellRow(n.id, `${body.title_zh} ${body.title_en}: ${spec.done.join(" ")}${replayedNote(answer)}`, "ok");
      refresh();
    } catch (error) {
      sayRefused(saved, error, spec.failed.join(" "), "");
      saved.scrollIntoView({ block: "nearest" });
    } finally {
      showSending(save, null);
    }
  });
  return el("tr", { class: "editor", "data-editor-for": n.id, "data-action": action }, el("td", { colspan: 8 }, form));
}

const formText = (form) => Object.fromEntries(TEXT.map((name) => [name, form.elements[name].value]));

function closeEditor(id) {
  const editor = editors.get(id);
  editors.delete(id);
  if (!editor) return;
  const focused = editor.row.contains(document.activeElement);
  editor.row.remove();
  render(latest);  // its button is no longer expanded
  const row = $("notices").querySelector(`tr[data-id="${id}"]`);  // back on the button that opened it
  if (focused) (row?.querySelector(`button[data-action="${editor.action}"]`) || row?.querySelector("button"))?.focus();
}

// The notice as the list says it now, against the text the form was filled with: changed by someone else
// meanwhile, or in a state this change no longer applies to, the form says so before anything is saved over it.
function editorFor(n) {
  const editor = editors.get(n.id);
  if (!editor) return [];
  const { row, action, opened } = editor, state = NOTICE_STATES[n.state] || [n.state, n.state];
  const changed = row.querySelector(".changed");
  changed.hidden = false;
  if (sameText(n, formText(row.querySelector("form"))) && !sameText(n, opened)) {
    changed.hidden = true;  // this form's own text, stored by a try whose answer was lost: pressed again, it replays
  } else if (!EDIT[action].states.includes(n.state)) {
    changed.replaceChildren(bilingual(`此公告现为“${state[0]}”，不能再${EDIT[action].title[0]}。 This notice is now ${state[1]}: `
      + `it cannot be ${action}d.`));
  } else if (!sameText(n, opened)) {
    changed.replaceChildren(bilingual("打开此表后，公告文本已被修改；保存将以此处文本取而代之。 The text changed since this form was "
      + "opened; saving replaces it with the text here."));
  } else {
    changed.hidden = true;
  }
  return [row];
}

// Withdrawing cannot be undone (a published notice is cancelled for the public too): asked first, with a reason.
function withdraw(n) {
  if (sending.has(n.id)) return;
  const reason = prompt(`撤销「${n.title_zh}」？此操作不可恢复，请写明原因。\nWithdraw "${n.title_en}"? This cannot be undone; give the reason.`);
  if (reason === null || !reason.trim()) return;
  act(n, "cancel", { reason: reason.trim() });
}

// A row's buttons, and under them what the last action on the row came to. Each says which notice it acts on
// (aria-describedby: the row's English title), as seven "发布 Publish" in a list do not.
function actions(n) {
  const out = [], about = `title-${n.id}`;
  const button = (action, label, cls, onpress) => el("button", { type: "button", class: cls, "data-action": action,
    "aria-describedby": about, onclick: (event) => { if (idle(event.currentTarget)) onpress(); } }, bilingual(label));
  if (me.kind === "press" && n.state === "approved") out.push(button("publish", "发布 Publish", null, () => act(n, "publish")));
  if (me.kind === "command" && (n.state === "draft" || n.state === "updated")) {
    out.push(button("approve", "批准 Approve", null, () => act(n, "approve", { text_sha256: n.text_sha256 })));
  }
  for (const [action, spec] of Object.entries(EDIT)) {
    if (me.kind === "press" && spec.states.includes(n.state)) {
      const opens = button(action, spec.button, "secondary", () => openEditor(n, action));
      opens.setAttribute("aria-expanded", String(editors.has(n.id)));
      out.push(opens);
    }
  }
  if (me.kind === "press" && !CLOSED.has(n.state)) out.push(button("cancel", "撤销 Withdraw", "danger", () => withdraw(n)));
  const busy = out.find((b) => b.dataset.action === sending.get(n.id));
  if (busy) showSending(busy, SENDING[busy.dataset.action]);  // drawn anew while its request is out
  return el("td", { class: "actions" }, out, noteRegion(n.id));
}

// When it was drafted, last changed and published: a desk sees at once what is stale.
function times(n) {
  const line = (zh, en, at) => el("div", {}, bi(zh, en), ` ${fmtTime(at)}`);
  return el("td", { class: "times" }, line("起草", "drafted", n.drafted_at),
    n.updated_at && n.updated_at !== n.drafted_at ? line("更新", "updated", n.updated_at) : null,
    n.published_at ? line("发布", "published", n.published_at)
      : el("div", { class: "notes" }, bi("未发布", "never published")),
    n.cancelled_at ? line("撤销", "withdrawn", n.cancelled_at) : null);
}

// The list drawn anew; the keyboard's focus put back on the same button of the same notice (common.js).
function render(all) {
  keepingFocus(() => draw(all));
  keepNoteInView();
}

function draw(all) {
  latest = all;
  const superseded = all.filter((n) => n.state === "superseded").length;
  const items = showSuperseded ? all : all.filter((n) => n.state !== "superseded");
  const more = $("superseded-more");
  more.hidden = superseded === 0;
  more.querySelector(".notes").replaceChildren(
    bilingual(`${superseded} 份自动进展草稿已被更新的草稿取代 automatic progress drafts replaced by a newer one`));
  const toggle = more.querySelector("button");
  toggle.replaceChildren(bilingual(showSuperseded ? "隐藏 Hide" : "显示 Show"));
  toggle.setAttribute("aria-expanded", String(showSuperseded));
  const active = document.activeElement;
  const rows = items.flatMap((n) => [noticeRow(n), ...editorFor(n)]);
  for (const id of built.keys()) if (!items.some((n) => n.id === id)) built.delete(id);
  placeRows($("notices"), rows.length ? rows : [el("tr", {}, el("td", { colspan: 8, class: "empty" },
    bilingual(superseded ? "暂无其他公告 no other notices" : "暂无公告 no notices yet")))]);
  if (active && active !== document.activeElement && document.contains(active)) active.focus();
  labelCells($("notices").closest("table"));
}

// A notice's row, built again only when what it shows changed: a live change to another notice (every few seconds
// on a busy night) left the row, its focus and what its note says alone.
const built = new Map();  // notice id -> { tr, shown }

function noticeRow(n) {
  const shown = JSON.stringify([n, sending.get(n.id) || null, editors.has(n.id)]), kept = built.get(n.id);
  if (kept && kept.shown === shown) return kept.tr;
  const state = NOTICE_STATES[n.state] || [n.state, n.state], pending = changeNotPublic(n);
  const tr = el("tr", { "data-id": n.id, "data-state": n.state },
    el("td", {}, el("strong", { lang: "zh", text: n.title_zh }), el("br"),
      el("span", { lang: "en", id: `title-${n.id}`, text: n.title_en }),
      // The whole text, as it would be published: what command approves (its digest goes with the approval).
      el("details", { class: "notice-text" },
        el("summary", {}, pending ? bi("新正文（尚未公开）", "new text, not public yet") : bi("正文", "text")),
        el("p", { lang: "zh", text: n.body_zh }), el("p", { lang: "en", text: n.body_en })), pending),
    el("td", { class: "state" }, bi(state[0], state[1])), el("td", {}, incidentStatus(n.status)),
    el("td", { text: n.author }), el("td", { text: n.approved_by || "—" }), times(n),
    el("td", { class: "num", text: n.published_version || "—" }), actions(n));
  built.set(n.id, { tr, shown });
  return tr;
}

// `rows` into `tbody` in order, moving only those out of place: a row moved loses the keyboard's focus.
function placeRows(tbody, rows) {
  const wanted = new Set(rows);
  for (const tr of [...tbody.children]) if (!wanted.has(tr)) tr.remove();
  rows.forEach((tr, n) => { if (tbody.children[n] !== tr) tbody.insertBefore(tr, tbody.children[n] || null); });
}

// A published notice with a change waiting (for approval, or approved and not yet published): what the row shows
// is that change; the public still reads the version published last, until press publishes this one.
function changeNotPublic(n) {
  if (!n.published_version || !["updated", "approved"].includes(n.state)) return null;
  const until = n.state === "updated" ? ["待指挥批准并发布此更新", "command staff approve this update and it is published"]
    : ["发布此更新", "this update is published"];
  return el("p", { class: "notes public-now" }, bilingual(
    `公众仍看到第${n.published_version}版「${n.public_title_zh}」，直至${until[0]}。 `
    + `The public still sees version ${n.published_version}, "${n.public_title_en}", until ${until[1]}.`));
}

$("superseded-more").querySelector("button").addEventListener("click", () => {
  showSuperseded = !showSuperseded;
  render(latest);
});

const refresh = refetcher(async () => {
  try {
    render((await api("/api/v1/staff/notices")).items);
    loaded($("message"));
  } catch (error) {
    loadFailed($("message"), stamped(`读取失败 Not loaded: ${problemText(error)}`));
  }
});

// A draft saved into an outage may have been stored. Saved again unchanged it carries the same Idempotency-Key
// (common.js api()), so it is never stored twice; once /healthz says NATS and PostgreSQL answer again, the list is
// also fetched again, where a draft that was stored shows (the live stream refetches it as the projector catches
// up). One wait at a time: a second uncertain save replaces the first's, never stacks beside it.
let relisting = null;
const SAVE_AGAIN = ["可能已保存，尚未确认：请勿修改，直接再按“保存草稿”，不会重复保存。",
  "May have been saved, not confirmed — press Save draft again unchanged: it is never saved twice."];

function relistWhenBack(error) {
  const every = (error.retryAfter || 5) * 1000;
  const retry = async () => {
    try {
      await api("/healthz");
    } catch {
      relisting = setTimeout(retry, every);
      return;
    }
    relisting = null;
    await refresh();
    say($("draft-message"), stamped("服务已恢复，草稿列表已刷新：若下方没有此草稿，请不作修改再按一次“保存草稿”。 The service is "
      + "back and the drafts list is fetched again: if the draft is not in it below, press Save draft again unchanged."),
    "warn");
  };
  clearTimeout(relisting);
  relisting = setTimeout(retry, every);
}

// What came of a save is said beside Save draft (#draft-message), where the officer is: at the top of the page it
// was off-screen on a laptop at 200 %, and the form only emptied.
$("draft").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { incident_id: $("incident").value || null, status: $("status").value };
  for (const name of ["title_zh", "title_en", "body_zh", "body_en"]) body[name] = $(name).value;
  try {
    const answer = await api("/api/v1/notices", { method: "POST", body });
    clearTimeout(relisting);  // saved again after an uncertain save: nothing left to look for
    relisting = null;
    say($("draft-message"), `草稿已保存，待指挥批准 Draft saved; command staff must approve it${replayedNote(answer)}`, "ok");
    $("draft").reset();
    refresh();
  } catch (error) {
    sayRefused($("draft-message"), error, "保存失败 Not saved", "", "", SAVE_AGAIN);
    if (mayHaveBeenStored(error)) relistWhenBack(error);
  }
});

// The incidents a notice may be about: an incident declared during the night is offered without a reload.
async function loadIncidents() {
  try {
    const incidents = (await api("/api/v1/incidents")).items;
    const select = $("incident"), chosen = select.value;
    select.replaceChildren(select.options[0],
      ...incidents.map((i) => el("option", { value: i.id, text: `${i.title}（${statusWords(i.status)}）` })));
    select.value = chosen;
  } catch (error) {
    loadFailed($("message"), `读取失败 Incidents not loaded: ${problemText(error)}`);
  }
}

loginFlow({
  form: $("login"), input: $("token"), message: $("login-message"), main: $("main"), logout: $("logout"),
  roles: ["press", "command"],
  async onReady(who) {
    me = who;
    $("draft").hidden = me.kind !== "press";
    setCityZone((await api("/api/v1/reference")).area.time_zone);  // times as the board says them
    await Promise.all([loadIncidents(), refresh()]);
    const onNotices = whenChanged(["notices"], refresh), onIncidents = whenChanged(["incidents"], loadIncidents, 10000);
    liveEvents({ onChange: (change) => { onNotices(change); onIncidents(change); },
      onState: (state, retry) => showConnection($("conn"), state, retry) });
  },
});
