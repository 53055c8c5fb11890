// The hotline operator's call card: the seven steps, caller history, life first, answers from published
// facts, first-contact resolution, repeat calls, agreed time and follow-up calls. Keyboard only works:
// every action is a form field or a button in reading order; Enter in the number looks up the history.
import {
  ApiError, FOLLOW_UP_OUTCOMES, api, bi, bilingual, cityTime, el, fmtTime, incidentStatus, intakeWatch, liveEvents, loginFlow,
  mayHaveBeenStored, nameText, names, newKey, once, problemText, retried, say, serverNow, setCityZone, setDepartments,
  showConnection, stamped, statusLabel, replayedNote, sayWriteFailed, whenChanged, zoneName,
} from "/static/common.js";

const $ = (id) => document.getElementById(id);
const state = {
  guide: null, reference: null, callStartedAt: null, answer: null, repeatFor: null, lastCall: null, lookedUp: null,
  issues: [], previewedFor: null, lifeShown: null, filing: false, askedFor: null, confirmedFor: null, maybeCode: null,
  agreeRetry: null,
};

const failed = (text) => say($("message"), stamped(text), "error");
const departments = () => (state.reference ? state.reference.departments : []);
const refList = (name) => (state.reference ? state.reference[name] : []);

// "区外 outside the served area": no district code, so the acceptance preview says "not served here" before the
// call is filed, and the call goes with its address alone.
const OUTSIDE = "_outside";
// What the acceptance rules may still say that makes a call filed as it is go wrong: asked to confirm first. The
// others (no category yet, few facts) the operator sees on the card, and triage settles.
const CONFIRM_FIRST = new Set(["outside_area", "likely_duplicate"]);

// What became of the call just filed, with its tracking code, beside the Submit button (the page's top is off
// screen on a 1366x768 desk, and the operator reads the code to the caller). It stays until the next call starts.
function callResult(code, zh, en, kind = "ok") {
  say($("call-result"), el("span", {}, el("span", { class: "code", text: code }), " ", bi(zh, en)), kind);
}

// Whether a call can be filed at all, said before the call is taken: asked every 15 s and after a call refused.
const checkIntake = intakeWatch($("intake"));

// Run again by loginFlow until it succeeds: nothing here may fail once the guide and reference data are in.
async function start() {
  [state.guide, state.reference] = await Promise.all([api("/api/v1/operator/guide"), api("/api/v1/reference")]);
  setCityZone(state.reference.area.time_zone);
  setDepartments(state.reference.departments);
  renderSteps();
  fillSelect($("category"), state.reference.categories, "— 类别 category —");
  fillSelect($("district"), state.reference.districts, "— 区 district —");
  $("district").append(el("option", { value: OUTSIDE, text: "区外 outside the served area" }));
  offerVulnerableKinds(state.reference.vulnerable_kinds);
  // The agreed time is typed, read and recorded in the city's time, whatever the desk PC's zone.
  $("agreed-zone").replaceChildren(bilingual(`按本市时间 in the city's time: ${zoneName()}`));
  checkIntake();
  setInterval(checkIntake, 15000);
  await Promise.all([loadFacts(), loadFollowUps()]);
  // Cases resolved since join the follow-up list by themselves, and a notice published or an incident declared
  // the facts (each checked at most every 10 s). A stream back after an outage names no table: both are read.
  const onComplaints = whenChanged(["complaints"], loadFollowUps, 10000);
  const onFacts = whenChanged(["notices", "incidents"], loadFacts, 10000);
  liveEvents({ onChange: (change) => { onComplaints(change); onFacts(change); },
    onState: (live, retry) => showConnection($("conn"), live, retry) });
}

function fillSelect(select, items, empty) {
  select.replaceChildren(el("option", { value: "", text: empty }),
    ...items.map((item) => el("option", { value: item.code, text: `${item.name_zh} ${item.name_en}` })));
}

// The seven steps and what to say at each, read to the caller in either language.
function renderSteps() {
  $("steps").replaceChildren(...state.guide.steps.map((step, i) => el("li", {},
    el("b", {}, bilingual(`${i + 1}. ${step.title_zh} ${step.title_en}`)), bilingual(`${step.phrases_zh[0]} ${step.phrases_en[0]}`))));
}

function callStarted() {
  if (state.callStartedAt) return;
  state.callStartedAt = serverNow().toISOString(); // not the PC's clock: it may be off
  say($("call-result"), ""); // a new call: the last one's code is read out by now
  // And the last call's agreed-time form closes: a time settled with this caller would go on the last one's case.
  $("agree").hidden = true;
  clearTimeout(state.agreeRetry);  // nor is the last case's time tried again after this call began
}

// The vulnerable people this deployment's intake takes (reference data): the page's own five, those it does not
// take hidden (a box it refuses would make every call with it a 422), any other kind added under its code.
function offerVulnerableKinds(kinds) {
  if (!Array.isArray(kinds)) return;
  const boxes = [...$("vulnerable").querySelectorAll("input[name=vulnerable]")];
  for (const box of boxes) box.closest("label").hidden = !kinds.includes(box.value);
  const known = new Set(boxes.map((box) => box.value));
  for (const kind of kinds.filter((k) => !known.has(k))) {
    $("vulnerable").append(el("label", {}, el("input", { type: "checkbox", name: "vulnerable", value: kind }), ` ${kind}`));
  }
}

// -- caller history -----------------------------------------------------------------------------------

async function lookUpCaller() {
  const phone = $("phone").value.trim();
  // Enter looks up, and leaving the field fires "change" too: a second lookup of the same number would
  // redraw the rows under the operator's focus and swallow the next key press.
  if (!phone || phone === state.lookedUp) return;
  state.lookedUp = phone;
  callStarted();
  try {
    const found = await api("/api/v1/operator/caller-history", { method: "POST", body: { phone }, read: true });
    renderHistory(found.items);
    await preview();
  } catch (error) { failed(problemText(error)); }
}

function renderHistory(items) {
  $("history-box").hidden = false;
  if (!items.length) {
    $("history").replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "empty" }, bilingual("无 none"))));
    return;
  }
  $("history").replaceChildren(...items.map((item) => el("tr", { "data-code": item.tracking_code },
    el("td", {}, el("span", { class: "code", id: `history-${item.id}`, text: item.tracking_code }), el("br"),
      el("small", { text: item.description })),
    el("td", {}, statusLabel(item.status)),
    el("td", {}, item.department ? names(departments(), item.department) : "—"),
    el("td", { text: fmtTime(item.agreed_resolution_at || item.resolve_by) || "—" }),
    el("td", {}, item.open ? el("button", { type: "button", class: "add-to-case", "aria-describedby": `history-${item.id}`,
      onclick: () => openRepeat(item) }, bilingual("追加到此工单 Add to this case")) : ""))));
}

function openRepeat(item) {
  state.repeatFor = item;
  $("repeat-title").replaceChildren(bi("追加来电到", "Add this call to"), ` ${item.tracking_code}`);
  say($("repeat-message"), "");
  $("repeat").hidden = false;
  $("repeat-note").value = $("description").value;
  $("repeat-note").focus();
}

async function addRepeatCall(event) {
  event.preventDefault();
  const item = state.repeatFor;
  try {
    const added = await once($("repeat-submit"), () => api(`/api/v1/complaints/${item.id}/repeat-calls`,
      { method: "POST", body: { note: $("repeat-note").value } }));
    if (added === undefined) return;  // already on its way
    $("repeat").hidden = true;
    resetCard();
    say($("message"), "");
    callResult(item.tracking_code, "已追加来电到此工单", `added to ${item.tracking_code} (repeated call)${replayedNote(added)}`);
    $("call-result").scrollIntoView({ block: "nearest" });
  } catch (error) {
    sayWriteFailed($("repeat-message"), error, "未追加 not added");
  }
}

// -- life first, acceptance preview, facts ------------------------------------------------------------

let previewTimer = null;
function schedulePreview() { clearTimeout(previewTimer); previewTimer = setTimeout(preview, 250); }

function previewBody() {
  return { description: $("description").value, category: $("category").value || null,
    district: $("district").value || null, phone: $("phone").value.trim() || null };
}

let previews = 0;
async function preview() {
  const body = previewBody(), asked = JSON.stringify(body), mine = ++previews;
  try {
    const found = await api("/api/v1/operator/preview", { method: "POST", body, read: true });
    if (mine !== previews) return;  // a newer card's preview says what is so now
    showLifeFirst(found.life_first);
    state.issues = found.acceptance;
    state.previewedFor = asked;
    $("acceptance").replaceChildren(...found.acceptance.map((issue) =>
      el("li", { "data-code": issue.code }, bilingual(`${issue.message_zh} ${issue.message_en}`))));
  } catch (error) { failed(problemText(error)); }
}

// Life first is a reading of the words: it says whom to put the caller through to, and records nothing. It once
// chose "Transferred to" itself, and a call was stored as transferred to 110 and escalated to command that nobody
// had transferred (a manhole cover). The transfer is recorded when the operator says where the caller went.
function showLifeFirst(danger) {
  $("life-first").hidden = !danger;
  const key = danger ? JSON.stringify([danger.services, danger.dangers.map((d) => d.code)]) : null;
  if (key === state.lifeShown) return;  // redrawn only when it changes: a button under the operator's focus stays
  state.lifeShown = key;
  if (!danger) return;  // a transfer the operator chose stays: it was made, whatever the words say now
  const what = danger.dangers.map((d) => `${d.label_zh} ${d.label_en}`).join("; ");
  const joined = danger.services.join("/");
  $("life-first-text").replaceChildren(
    bilingual(`请立即让来电人拨打或转接 ${joined} — put the caller through to ${joined} now (${what})`));
  $("life-first-actions").replaceChildren(...danger.services.map((service) => el("button", {
    type: "button", class: "transfer-made", "data-service": service, "aria-pressed": "false",
    onclick: () => chooseTransfer(service),
  }, bilingual(`已转接 ${service} — I transferred to ${service}`))));
  showTransferChosen();
}

function chooseTransfer(service) {
  $("transfer").value = service;
  showTransferChosen();
}

// Says in the box whether a transfer will be recorded, and which: the box alone records nothing.
function showTransferChosen() {
  const chosen = $("transfer").value;
  for (const button of $("life-first-actions").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.service === chosen));
  }
  $("life-first-note").replaceChildren(bilingual(chosen
    ? `提交时记为已转接 ${chosen}（改选“已转接”为“无”可撤销） — recorded as transferred to ${chosen} when the call is `
      + "submitted (set \"Transferred to\" back to none to undo)"
    : "尚未记录转接：只有选择实际转接的服务后才记为已转接 — no transfer is recorded until you choose the service you "
      + "actually put the caller through to"));
}

// What the operator reads to callers: tried again by itself while it fails (an outage as the console opened left
// it empty, and its error on the page, for good).
const loadFacts = retried($("facts-message"), "读取失败 Facts not loaded", async () => {
  const q = new URLSearchParams();
  if ($("district").value && $("district").value !== OUTSIDE) q.set("district", $("district").value);
  if ($("category").value) q.set("category", $("category").value);
  const facts = await api(`/api/v1/operator/facts?${q}`);
  const notices = facts.notices.map((n) => factItem(`notice:${n.id}`, n.title_zh, n.title_en, n.body_zh, n.body_en));
  const answers = facts.answers.map((a) => factItem(`answer:${a.code}`, a.title_zh, a.title_en, a.text_zh, a.text_en));
  const incidents = facts.incidents.map((i) => el("p", { class: "fact" }, bi("事件", "Incident"),
    " ", bilingual(i.title), "（", incidentStatus(i.status), `）· ${i.linked_complaints} `, bi("件诉求", "reports")));
  const none = () => el("p", { class: "empty" }, bilingual("无 none"));
  $("facts").replaceChildren(...incidents,
    el("h3", {}, bi("已发布公告", "Published notices")), ...(notices.length ? notices : [none()]),
    el("h3", {}, bi("标准答复", "Standard answers")), ...(answers.length ? answers : [none()]));
});

// A notice or standard answer to read to the caller. Its button says which (aria-describedby: the title): seven
// "Settle the call with this" read alike.
function factItem(ref, titleZh, titleEn, textZh, textEn) {
  const title = `fact-${ref.replace(/[^\w-]/g, "-")}`;
  return el("div", { class: "fact", "data-ref": ref },
    el("b", { id: title }, bi(titleZh, titleEn)), el("p", { lang: "zh", text: textZh }), el("p", { lang: "en", class: "en", text: textEn }),
    el("button", { type: "button", class: "use-answer", "aria-describedby": title,
      onclick: () => chooseAnswer(ref, titleZh, titleEn, textZh) }, bilingual("用此答复当场办结 Settle the call with this")));
}

function chooseAnswer(ref, titleZh, titleEn, textZh) {
  state.answer = ref;
  $("answer-box").hidden = false;
  $("answer-chosen").replaceChildren(bi("答复依据", "Answer given"), bilingual(`: ${titleZh} ${titleEn}`));
  if (!$("answer-summary").value) $("answer-summary").value = textZh;
  $("answer-summary").focus();
}

// A chosen answer can be put back: the call then goes on as a complaint to dispatch, not settled.
$("answer-drop").addEventListener("click", () => {
  state.answer = null;
  $("answer-box").hidden = true;
  $("answer-summary").value = "";
  $("description").focus();
});

// -- submitting the call ------------------------------------------------------------------------------

function callBody() {
  const complaint = { channel: "hotline", description: $("description").value,
    people_affected: Number($("people_affected").value) || 1, call_started_at: state.callStartedAt };
  if ($("category").value) complaint.category = $("category").value;
  const location = {};
  if ($("district").value && $("district").value !== OUTSIDE) location.district = $("district").value;
  if ($("address").value.trim()) location.address = $("address").value.trim();
  if (Object.keys(location).length) complaint.location = location;
  const vulnerable = [...$("vulnerable").querySelectorAll("label:not([hidden]) input:checked")].map((box) => box.value);
  if (vulnerable.length) complaint.vulnerable = vulnerable;
  // Only operators may say it (intake refuses it from anyone else); sent only when ticked, so an untouched card
  // is the same request it always was.
  if ($("media_exposure").checked) complaint.media_exposure = true;
  const reporter = {};
  if ($("phone").value.trim()) reporter.phone = $("phone").value.trim();
  if ($("reporter_name").value.trim()) reporter.name = $("reporter_name").value.trim();
  if (Object.keys(reporter).length) complaint.reporter = reporter;
  const body = { complaint };
  if ($("transfer").value) body.transfer = { service: $("transfer").value, reason: "danger to life / 生命危险" };
  if (state.answer) body.first_contact = { answer_ref: state.answer, summary: $("answer-summary").value || state.answer };
  return body;
}

async function submitCall(event) {
  event.preventDefault();
  if (state.filing) return;  // already on its way: the card is locked until it is answered
  callStarted();
  const body = callBody();
  // One key per call as sent: a double submit, or the same card sent again after a 503, files it once;
  // a card corrected after a refusal is another request, with a key of its own.
  const sent = JSON.stringify(body);
  if (state.callSent !== sent) { state.callKey = newKey(); state.callSent = sent; state.maybeCode = null; }
  state.filing = true;
  const unlock = lockCard();
  let stored = null, failure = null;
  try {
    if (await acceptable(sent)) {
      stored = await api("/api/v1/operator/calls", { method: "POST", body, headers: { "Idempotency-Key": state.callKey } });
    }
  } catch (error) {
    failure = error;
  } finally {
    state.filing = false;
    unlock();
  }
  if (failure) {
    callFailed(failure);
    checkIntake();  // a call refused: the banner says whether the next one can be filed
    return;
  }
  if (!stored) {  // the acceptance rules see a problem: the operator confirms, or goes back to the card
    $("confirm-file").focus();
    return;
  }
  const [zh, en] = stored.status === "resolved" ? ["当场办结", "resolved at first contact"] : ["已受理", "received"];
  const moved = stored.transferred_to ? [`，已转 ${stored.transferred_to}`, `, transferred to ${stored.transferred_to}`] : ["", ""];
  resetCard();
  say($("message"), "");  // an error of a lookup before the call was filed is no longer what the page says
  callResult(stored.tracking_code, `${zh}${moved[0]}，请告知来电人此编号`, `${en}${moved[1]}: read the code to the caller`);
  state.lastCall = stored;
  $("agree").hidden = stored.status === "resolved";
  $("agree-code").textContent = stored.tracking_code;
  say($("agree-message"), "");
  // The agreed time is the next thing to settle with the caller: the form in view, the code still above it.
  ($("agree").hidden ? $("call-result") : $("agree")).scrollIntoView({ block: "nearest" });
  await loadFollowUps();
}

// The card cannot change while its call is on its way: what was typed meanwhile was lost when the card was reset
// on the answer (found by a review). Unlocked on the answer as it was, the text kept; the focus goes back.
function lockCard() {
  const focused = document.activeElement;
  const fields = [...$("call").elements, ...$("life-first").querySelectorAll("button")].filter((f) => !f.disabled);
  for (const field of fields) field.disabled = true;
  $("call").setAttribute("aria-busy", "true");
  return () => {
    for (const field of fields) field.disabled = false;
    $("call").removeAttribute("aria-busy");
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && focused instanceof HTMLElement && document.contains(focused)) focused.focus();
  };
}

// Whether the call may be filed as it is: the acceptance rules see nothing that makes it go wrong (an out-of-area
// caller, a likely duplicate), or the operator confirmed this very card. The card's preview is asked again first
// when the card changed since it was last asked; a preview that fails holds no call back.
async function acceptable(sent) {
  if (state.previewedFor !== JSON.stringify(previewBody())) await preview();
  const known = state.previewedFor === JSON.stringify(previewBody());  // not when the preview failed
  const found = known ? state.issues.filter((issue) => CONFIRM_FIRST.has(issue.code)) : [];
  if (!found.length || state.confirmedFor === sent) return true;
  state.askedFor = sent;
  $("confirm-text").replaceChildren(bi("受理条件提示", "The acceptance rules say"), ": ",
    ...found.map((issue) => el("span", { class: "issue", "data-code": issue.code },
      bilingual(`${issue.message_zh} ${issue.message_en}`), " ")),
    bi("仍要提交此来电吗？", "File the call anyway?"));
  $("confirm").hidden = false;
  say($("call-result"), "");
  return false;
}

$("confirm-file").addEventListener("click", () => {
  state.confirmedFor = state.askedFor;
  $("confirm").hidden = true;
  $("call").requestSubmit();
});
$("confirm-back").addEventListener("click", () => {
  $("confirm").hidden = true;
  $("district").focus();
});
// The card changed: what was confirmed was another card.
for (const kind of ["input", "change"]) $("call").addEventListener(kind, () => { $("confirm").hidden = true; });

// The call may be stored though no answer said so (a 503 write_unconfirmed, an outage, no answer at all). The card
// keeps its Idempotency-Key while it is unchanged (its own, not api()'s ten minutes: the caller's case is kept
// however long the outage): Submit again gets the same tracking code, never a second case. A reload, or the card
// typed again, would file a duplicate: the operator is told so, never to reload.
const FILE_AGAIN = ["可能已提交，尚未确认。请勿修改此卡片，直接再按“提交”：若已提交，会返回同一个编号，不会重复登记。",
  "May have been filed, not confirmed. Press Submit again WITHOUT changing the card: if it was filed, the same code "
  + "comes back and nothing is filed twice."];

// A 503 write_unconfirmed names the tracking code the call has if it was stored: kept with the card's key (a
// later try that fails with no answer at all names none), and shown, so the caller can be given it now.
function callFailed(error) {
  sayWriteFailed($("call-result"), error, "未提交 not filed", "", FILE_AGAIN);
  const code = error instanceof ApiError && error.problem && error.problem.tracking_code;
  if (code && mayHaveBeenStored(error)) state.maybeCode = String(code);
  if (state.maybeCode && mayHaveBeenStored(error)) {
    $("call-result").append(" ", el("span", { class: "maybe-code" }, bi("若已提交，编号为", "if it was filed, its code is"),
      " ", el("span", { class: "code", text: state.maybeCode })));
  }
}

async function agreeTime(event) {
  event.preventDefault();
  clearTimeout(state.agreeRetry);
  const local = $("agreed-at").value, call = state.lastCall;
  if (!local || !call) return;
  const at = cityTime(local);
  if (!at || Number.isNaN(at.getTime())) {
    say($("agree-message"), "时间格式不对 not a date and time", "error");
    return;
  }
  await recordAgreedTime(call, at.toISOString(), true);
}

// `mayRetry`: a case not assessed yet (409 not_assessed_yet, with Retry-After) is tried again by itself once:
// triage sets its resolve-by within moments, and the caller is still on the line.
async function recordAgreedTime(call, iso, mayRetry) {
  try {
    const done = await once($("agree-submit"), () => api(`/api/v1/complaints/${call.id}/agreed-resolution-time`,
      { method: "POST", body: { agreed_at: iso } }));
    if (done === undefined) return;  // already on its way
    if (state.lastCall !== call) return;  // the next call has begun: its card says nothing of this one
    $("agree").hidden = true;
    say($("message"), "");
    // Echoed as recorded, in the city's time and zone: the operator reads it back to the caller.
    const when = fmtTime(iso);
    callResult(call.tracking_code, `约定期限已记录：${when}`, `agreed time recorded: ${when} (${zoneName()})${replayedNote(done)}`);
  } catch (error) {
    const code = error instanceof ApiError && error.problem ? error.problem.code : null;
    if (mayRetry && code === "not_assessed_yet" && error.retryAfter !== null) {
      const s = Math.max(error.retryAfter, 1);
      say($("agree-message"), stamped(`${problemText(error)} — ${s}秒后自动重试一次 trying again by itself in ${s} s`), "warn");
      state.agreeRetry = setTimeout(() => recordAgreedTime(call, iso, false), s * 1000);
    } else {
      sayWriteFailed($("agree-message"), error, "约定期限未记录 not recorded");
    }
    $("agree-message").scrollIntoView({ block: "nearest" });  // under Record, below the fold at 1366x768
  }
}

function resetCard() {
  $("call").reset();
  state.callStartedAt = null; state.answer = null; state.lookedUp = null; state.callKey = null; state.callSent = null;
  state.maybeCode = null; state.confirmedFor = null; state.askedFor = null; state.previewedFor = null; state.issues = [];
  state.lifeShown = null;
  $("answer-box").hidden = true; $("history-box").hidden = true; $("life-first").hidden = true; $("confirm").hidden = true;
  $("acceptance").replaceChildren();
}

// -- follow-up calls ----------------------------------------------------------------------------------

// No outcome is chosen for the operator: a Record pressed without one would file "satisfied", and a caller who
// was not would never be called back.
const OUTCOMES = [["", "— 请选择 choose —"],
  ...Object.entries(FOLLOW_UP_OUTCOMES).map(([value, [zh, en]]) => [value, `${zh} ${en}`])];
const OUTCOME_WORDS = Object.fromEntries(OUTCOMES);

// Its error goes once it loads (a recorded outcome said there stays): tried again by itself while it fails.
const loadFollowUps = retried($("fu-message"), "读取失败 Follow-ups not loaded", async () => {
  const queue = await api("/api/v1/operator/follow-ups");
  if (!queue.items.length) {
    noFollowUps();
    return;
  }
  // A row already shown is kept as it is (an outcome chosen, a reason being typed), and so is the focus.
  const shown = new Map([...$("followups").querySelectorAll("tr[data-code]")].map((r) => [r.dataset.code, r]));
  const rows = queue.items.map((item) => shown.get(item.tracking_code) || followUpRow(item));
  if (rows.length === shown.size && rows.every((row) => shown.get(row.dataset.code) === row)) return;
  const active = document.activeElement;
  $("followups").replaceChildren(...rows);
  if (active && active !== document.activeElement && document.contains(active)) active.focus();
});

function noFollowUps() {
  $("followups").replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "empty" }, bilingual("无 none"))));
}

function followUpRow(item) {
  const hint = el("span", { class: "fu-hint", id: `fu-hint-${item.id}`, role: "alert" });
  const outcome = el("select", { "aria-label": `回访结果 outcome ${item.tracking_code}`, class: "fu-outcome", required: true,
    "aria-describedby": hint.id, onchange: () => { hint.textContent = ""; } },
    ...OUTCOMES.map(([value, label]) => el("option", { value, text: label })));
  const reason = el("input", { "aria-label": `原因 reason ${item.tracking_code}`, class: "fu-reason", maxlength: 2000 });
  const record = el("button", { type: "button", class: "fu-record", "aria-describedby": `fu-code-${item.id}`, onclick: async () => {
    if (!outcome.value) {
      hint.replaceChildren(bilingual("请先选择回访结果 choose the outcome first"));
      outcome.focus();
      return;
    }
    try {
      const result = await once(record, () => api(`/api/v1/complaints/${item.id}/follow-up-calls`,
        { method: "POST", body: { outcome: outcome.value, reason: reason.value } }));
      if (result === undefined) return;  // already on its way
      const chosen = outcome.value, tried = Number(tries.textContent) + (chosen === "not_reached" ? 1 : 0);
      // The calls allowed (the guide's, at most the domain's 3): the last that reaches nobody is recorded as
      // "not contacted" by the API, and the case then leaves the queue, to be closed.
      const most = state.guide.max_follow_up_attempts, usedUp = chosen === "not_reached" && tried >= most;
      const where = result.status === "reopened"
        ? ` → 重启至 reopened to ${nameText(departments(), result.department)}` : "";
      const count = chosen !== "not_reached" ? ""
        : usedUp ? `（已打${tried}次，次数已用完，记为未联系上） — called ${tried} of ${most} times: no tries left, recorded as not contacted`
          : `（第${tried}次，共可打${most}次） — call ${tried} of ${most}`;
      const said = `${item.tracking_code}: ${OUTCOME_WORDS[chosen]}${count}${where}${replayedNote(result)}`;
      say($("fu-message"), said, "ok");
      // The read models may lag the command: take the row out now unless the case stays in the queue. One that
      // stays (a call that reached nobody, tries left) is made ready for the next call: no outcome, the try counted.
      if (result.status !== "resolved" || usedUp) {
        row.remove();
        if (!$("followups").rows.length) noFollowUps();
      } else {
        tries.textContent = String(tried);
        outcome.value = ""; reason.value = "";
      }
      // 回访 done (the caller reached and not left unsatisfied, or the tries used up): 归档 is what comes next.
      if (result.status === "followed_up" || usedUp) offerClose(item, OUTCOME_WORDS[chosen] + (usedUp ? ` ×${tried}` : ""));
    } catch (error) {
      sayWriteFailed($("fu-message"), error, "未记录 not recorded", `${item.tracking_code}: `);
    }
  } }, bilingual("记录 Record"));
  // The number to call is opened on request only (each opening is logged), never sent with the queue.
  const caller = el("td", { class: "fu-caller" });
  const reveal = el("button", { type: "button", class: "fu-contact",
    "aria-label": `来电人号码 caller's number ${item.tracking_code}`, onclick: async () => {
      try {
        const c = await api(`/api/v1/complaints/${item.id}/contact`);
        caller.replaceChildren(c.phone || c.email
          ? el("span", { text: [c.name, c.phone, c.email].filter(Boolean).join(" · ") })
          : el("span", { class: "empty" }, bilingual("无联系方式 no contact given")));
      } catch (error) { say($("fu-message"), stamped(`${item.tracking_code}: ${problemText(error)}`), "error"); }
    } }, bilingual("号码 Number"));
  caller.append(reveal);
  const tries = el("td", { text: String(item.follow_up_attempts) });
  // What the case is about, so the operator knows before dialling: the queue's category and district. Its text
  // and what was done are shown when the queue carries them (description, resolution_summary).
  const what = [item.category && nameText(refList("categories"), item.category),
    item.district && nameText(refList("districts"), item.district)].filter(Boolean).join(" · ");
  const row = el("tr", { "data-code": item.tracking_code },
    el("td", { class: "fu-case" }, el("span", { class: "code", id: `fu-code-${item.id}`, text: item.tracking_code }),
      el("small", { class: "fu-what" }, bilingual(what || "—")),
      item.description ? el("small", { class: "fu-text", text: item.description }) : null,
      item.resolution_summary ? el("small", { class: "fu-text" }, bi("办理结果", "Done"), `: ${item.resolution_summary}`) : null),
    el("td", {}, item.level ? el("span", { class: `level ${item.level}`, text: item.level }) : "—"),
    el("td", {}, item.resolved_by ? names(departments(), item.resolved_by) : "—"),
    tries, caller,
    el("td", {}, outcome, hint), el("td", {}, reason), el("td", {}, record));
  return row;
}

// 归档 after 回访 (POST /api/v1/complaints/{id}/close, docs/operator.md): offered on the follow-up result once the
// call is recorded; no page offered it, and done cases waited for ever. The API refuses what the page could not
// know (409 unsatisfied_follow_up, follow_up_required, complaint_closed): said in words beside the button.
function offerClose(item, outcome) {
  const note = el("span", { class: "fu-close-note", role: "status" });
  const close = el("button", { type: "button", class: "fu-close",
    onclick: async () => {
      try {
        const closed = await once(close, () => api(`/api/v1/complaints/${item.id}/close`, { method: "POST", body: {} }));
        if (closed === undefined) return;  // already on its way
        close.remove();
        say(note, `已归档 closed${replayedNote(closed)}`, "ok");
      } catch (error) { sayWriteFailed(note, error, "未归档 not closed"); }
    } }, bilingual(`归档 Close ${item.tracking_code}`));
  const line = el("li", { "data-code": item.tracking_code }, el("span", { class: "code", text: item.tracking_code }),
    " ", bilingual(`${outcome} — 回访已完成，可以归档 the follow-up is done: the case can be closed`), " ", close, " ", note);
  const before = $("fu-done").querySelector(`li[data-code="${item.tracking_code}"]`);
  if (before) before.replaceWith(line); else $("fu-done").prepend(line);
  // A shift's worth, newest first: one not closed yet is back in no queue, so it is kept the longest.
  const closedLines = () => [...$("fu-done").children].filter((li) => !li.querySelector(".fu-close"));
  while ($("fu-done").children.length > 20 && closedLines().length) closedLines().pop().remove();
  close.focus();  // the row (and the Record button with the focus) is gone: the next key goes here
}

// -- wiring -------------------------------------------------------------------------------------------

$("phone").addEventListener("keydown", (event) => {
  if (event.key === "Enter") { event.preventDefault(); lookUpCaller(); }
});
$("phone").addEventListener("change", lookUpCaller);
// Enter in any other one-line field of the card goes to the next field: a browser would submit the card, and
// a call half taken (a name typed, nothing else) would be filed. The card is sent from its Submit button.
$("call").addEventListener("keydown", (event) => {
  const field = event.target;
  if (event.key !== "Enter" || field.id === "phone" || !(field instanceof HTMLInputElement)) return;
  event.preventDefault();
  const fields = [...$("call").querySelectorAll("input, select, textarea, button")].filter((f) => !f.disabled && f.offsetParent);
  const next = fields[fields.indexOf(field) + 1];
  if (next) next.focus();
});
$("description").addEventListener("input", () => { callStarted(); schedulePreview(); });
for (const id of ["category", "district"]) $(id).addEventListener("change", () => { schedulePreview(); loadFacts(); });
$("transfer").addEventListener("change", showTransferChosen);
// A time changed while the last one waits to be tried again: the new one is sent with Record, not the old one.
$("agreed-at").addEventListener("input", () => { clearTimeout(state.agreeRetry); });
$("call").addEventListener("submit", submitCall);
$("repeat").addEventListener("submit", addRepeatCall);
$("repeat-cancel").addEventListener("click", () => { $("repeat").hidden = true; });
$("agree").addEventListener("submit", agreeTime);

loginFlow({ form: $("login"), input: $("token"), message: $("login-message"), main: $("main"), logout: $("logout"),
  roles: ["operator"], onReady: start });
