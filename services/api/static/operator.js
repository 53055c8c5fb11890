// The hotline operator's call card: the seven steps, caller history, life first, answers from published
// facts, first-contact resolution, repeat calls, agreed time and follow-up calls. Keyboard only works:
// every action is a form field or a button in reading order; Enter in the number looks up the history.
import {
  FOLLOW_UP_OUTCOMES, api, bi, el, fmtTime, incidentStatus, intakeWatch, liveEvents, loginFlow, nameText, names,
  newKey, once, problemText, retried, say, serverNow, setCityZone, setDepartments, showConnection, stamped,
  statusLabel, replayedNote, sayWriteFailed, whenChanged,
} from "/static/common.js";

const $ = (id) => document.getElementById(id);
const state = { guide: null, reference: null, callStartedAt: null, answer: null, repeatFor: null, lastCall: null, lookedUp: null };

const failed = (text) => say($("message"), stamped(text), "error");
const departments = () => (state.reference ? state.reference.departments : []);

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

function renderSteps() {
  $("steps").replaceChildren(...state.guide.steps.map((step, i) => el("li", {},
    el("b", { text: `${i + 1}. ${step.title_zh} ${step.title_en}` }), `${step.phrases_zh[0]} ${step.phrases_en[0]}`)));
}

function callStarted() {
  if (state.callStartedAt) return;
  state.callStartedAt = serverNow().toISOString(); // not the PC's clock: it may be off
  say($("call-result"), ""); // a new call: the last one's code is read out by now
  // And the last call's agreed-time form closes: a time settled with this caller would go on the last one's case.
  $("agree").hidden = true;
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
    $("history").replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "empty", text: "无 none" })));
    return;
  }
  $("history").replaceChildren(...items.map((item) => el("tr", { "data-code": item.tracking_code },
    el("td", {}, el("span", { class: "code", text: item.tracking_code }), el("br"), el("small", { text: item.description })),
    el("td", {}, statusLabel(item.status)),
    el("td", {}, item.department ? names(departments(), item.department) : "—"),
    el("td", { text: fmtTime(item.agreed_resolution_at || item.resolve_by) || "—" }),
    el("td", {}, item.open ? el("button", { type: "button", class: "add-to-case",
      onclick: () => openRepeat(item), text: "追加到此工单 Add to this case" }) : ""))));
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

async function preview() {
  const body = { description: $("description").value, category: $("category").value || null,
    district: $("district").value || null, phone: $("phone").value.trim() || null };
  try {
    const found = await api("/api/v1/operator/preview", { method: "POST", body, read: true });
    showLifeFirst(found.life_first);
    $("acceptance").replaceChildren(...found.acceptance.map((issue) =>
      el("li", { "data-code": issue.code }, `${issue.message_zh} ${issue.message_en}`)));
  } catch (error) { failed(problemText(error)); }
}

function showLifeFirst(danger) {
  const box = $("life-first");
  box.hidden = !danger;
  if (!danger) {
    // The words that named the danger are gone: a transfer the page filled in is not recorded as made.
    if (state.transferFilled && $("transfer").value === state.transferFilled) $("transfer").value = "";
    state.transferFilled = null;
    return;
  }
  const what = danger.dangers.map((d) => `${d.label_zh} ${d.label_en}`).join("; ");
  box.textContent = `立即转接 ${danger.services.join("/")} — transfer the caller to ${danger.services.join("/")} now (${what})`;
  if (!$("transfer").value) {
    $("transfer").value = danger.services[0];
    state.transferFilled = danger.services[0];  // the page chose it: it goes again if the danger does
  }
}

// What the operator reads to callers: tried again by itself while it fails (an outage as the console opened left
// it empty, and its error on the page, for good).
const loadFacts = retried($("facts-message"), "读取失败 Facts not loaded", async () => {
  const q = new URLSearchParams();
  if ($("district").value) q.set("district", $("district").value);
  if ($("category").value) q.set("category", $("category").value);
  const facts = await api(`/api/v1/operator/facts?${q}`);
  const notices = facts.notices.map((n) => factItem(`notice:${n.id}`, n.title_zh, n.title_en, n.body_zh, n.body_en));
  const answers = facts.answers.map((a) => factItem(`answer:${a.code}`, a.title_zh, a.title_en, a.text_zh, a.text_en));
  const incidents = facts.incidents.map((i) => el("p", { class: "fact" }, bi("事件", "Incident"),
    ` ${i.title}（`, incidentStatus(i.status), `）· ${i.linked_complaints} `, bi("件诉求", "reports")));
  $("facts").replaceChildren(...incidents,
    el("h3", {}, bi("已发布公告", "Published notices")), ...(notices.length ? notices : [el("p", { class: "empty", text: "无 none" })]),
    el("h3", {}, bi("标准答复", "Standard answers")), ...(answers.length ? answers : [el("p", { class: "empty", text: "无 none" })]));
});

function factItem(ref, titleZh, titleEn, textZh, textEn) {
  return el("div", { class: "fact", "data-ref": ref },
    el("b", {}, bi(titleZh, titleEn)), el("p", { lang: "zh", text: textZh }), el("p", { lang: "en", class: "en", text: textEn }),
    el("button", { type: "button", class: "use-answer", onclick: () => chooseAnswer(ref, titleZh, titleEn, textZh),
      text: "用此答复当场办结 Settle the call with this" }));
}

function chooseAnswer(ref, titleZh, titleEn, textZh) {
  state.answer = ref;
  $("answer-box").hidden = false;
  $("answer-chosen").replaceChildren(bi("答复依据", "Answer given"), `: ${titleZh} ${titleEn}`);
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

async function submitCall(event) {
  event.preventDefault();
  callStarted();
  const complaint = { channel: "hotline", description: $("description").value,
    people_affected: Number($("people_affected").value) || 1, call_started_at: state.callStartedAt };
  if ($("category").value) complaint.category = $("category").value;
  if ($("district").value) complaint.location = { district: $("district").value };
  const reporter = {};
  if ($("phone").value.trim()) reporter.phone = $("phone").value.trim();
  if ($("reporter_name").value.trim()) reporter.name = $("reporter_name").value.trim();
  if (Object.keys(reporter).length) complaint.reporter = reporter;
  const body = { complaint };
  if ($("transfer").value) body.transfer = { service: $("transfer").value, reason: "danger to life / 生命危险" };
  if (state.answer) body.first_contact = { answer_ref: state.answer, summary: $("answer-summary").value || state.answer };
  // One key per call as sent: a double submit, or the same card sent again after a 503, files it once;
  // a card corrected after a refusal is another request, with a key of its own.
  const sent = JSON.stringify(body);
  if (state.callSent !== sent) { state.callKey = newKey(); state.callSent = sent; }
  try {
    const stored = await once($("submit"), () => api("/api/v1/operator/calls",
      { method: "POST", body, headers: { "Idempotency-Key": state.callKey } }));
    if (stored === undefined) return;  // already on its way
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
  } catch (error) {
    sayWriteFailed($("call-result"), error, "未提交 not filed", "", FILE_AGAIN);
    checkIntake();  // a call refused: the banner says whether the next one can be filed
  }
}

// The call may be stored though no answer said so (a 503 write_unconfirmed, an outage, no answer at all). The card
// keeps its Idempotency-Key while it is unchanged (its own, not api()'s ten minutes: the caller's case is kept
// however long the outage): Submit again gets the same tracking code, never a second case. A reload, or the card
// typed again, would file a duplicate: the operator is told so, never to reload.
const FILE_AGAIN = ["可能已提交，尚未确认。请勿修改此卡片，直接再按“提交”：若已提交，会返回同一个编号，不会重复登记。",
  "May have been filed, not confirmed. Press Submit again WITHOUT changing the card: if it was filed, the same code "
  + "comes back and nothing is filed twice."];

async function agreeTime(event) {
  event.preventDefault();
  const local = $("agreed-at").value;
  if (!local || !state.lastCall) return;
  try {
    await api(`/api/v1/complaints/${state.lastCall.id}/agreed-resolution-time`,
      { method: "POST", body: { agreed_at: new Date(local).toISOString() } });
    $("agree").hidden = true;
    say($("message"), "");
    callResult(state.lastCall.tracking_code, "约定期限已记录", "agreed time recorded");
  } catch (error) { sayWriteFailed($("agree-message"), error, "约定期限未记录 not recorded"); }
}

function resetCard() {
  $("call").reset();
  state.callStartedAt = null; state.answer = null; state.lookedUp = null; state.callKey = null; state.callSent = null;
  state.transferFilled = null;
  $("answer-box").hidden = true; $("history-box").hidden = true; $("life-first").hidden = true;
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
    $("followups").replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "empty", text: "无 none" })));
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

function followUpRow(item) {
  const hint = el("span", { class: "fu-hint", id: `fu-hint-${item.id}`, role: "alert" });
  const outcome = el("select", { "aria-label": `回访结果 outcome ${item.tracking_code}`, class: "fu-outcome", required: true,
    "aria-describedby": hint.id, onchange: () => { hint.textContent = ""; } },
    ...OUTCOMES.map(([value, label]) => el("option", { value, text: label })));
  const reason = el("input", { "aria-label": `原因 reason ${item.tracking_code}`, class: "fu-reason", maxlength: 2000 });
  const record = el("button", { type: "button", class: "fu-record", text: "记录 Record", onclick: async () => {
    if (!outcome.value) {
      hint.textContent = "请先选择回访结果 choose the outcome first";
      outcome.focus();
      return;
    }
    try {
      const result = await once(record, () => api(`/api/v1/complaints/${item.id}/follow-up-calls`,
        { method: "POST", body: { outcome: outcome.value, reason: reason.value } }));
      if (result === undefined) return;  // already on its way
      const where = result.status === "reopened"
        ? ` → 重启至 reopened to ${nameText(departments(), result.department)}` : "";
      say($("fu-message"), `${item.tracking_code}: ${OUTCOME_WORDS[outcome.value]}${where}${replayedNote(result)}`, "ok");
      // The read models may lag the command: take the row out now unless the case stays in the queue. One that
      // stays (a call that reached nobody) is made ready for the next call: no outcome, one more try counted.
      if (result.status !== "resolved") {
        row.remove();
      } else {
        tries.textContent = String(Number(tries.textContent) + (outcome.value === "not_reached" ? 1 : 0));
        outcome.value = ""; reason.value = "";
      }
    } catch (error) {
      sayWriteFailed($("fu-message"), error, "未记录 not recorded", `${item.tracking_code}: `);
    }
  } });
  // The number to call is opened on request only (each opening is logged), never sent with the queue.
  const caller = el("td", { class: "fu-caller" });
  const reveal = el("button", { type: "button", class: "fu-contact", text: "号码 Number",
    "aria-label": `来电人号码 caller's number ${item.tracking_code}`, onclick: async () => {
      try {
        const c = await api(`/api/v1/complaints/${item.id}/contact`);
        caller.replaceChildren(c.phone || c.email
          ? el("span", { text: [c.name, c.phone, c.email].filter(Boolean).join(" · ") })
          : el("span", { class: "empty", text: "无联系方式 no contact given" }));
      } catch (error) { say($("fu-message"), stamped(`${item.tracking_code}: ${problemText(error)}`), "error"); }
    } });
  caller.append(reveal);
  const tries = el("td", { text: String(item.follow_up_attempts) });
  const row = el("tr", { "data-code": item.tracking_code },
    el("td", { class: "code", text: item.tracking_code }),
    el("td", {}, item.level ? el("span", { class: `level ${item.level}`, text: item.level }) : "—"),
    el("td", {}, item.resolved_by ? names(departments(), item.resolved_by) : "—"),
    tries, caller,
    el("td", {}, outcome, hint), el("td", {}, reason), el("td", {}, record));
  return row;
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
$("call").addEventListener("submit", submitCall);
$("repeat").addEventListener("submit", addRepeatCall);
$("repeat-cancel").addEventListener("click", () => { $("repeat").hidden = true; });
$("agree").addEventListener("submit", agreeTime);

loginFlow({ form: $("login"), input: $("token"), message: $("login-message"), main: $("main"), logout: $("logout"),
  roles: ["operator"], onReady: start });
