// Press officers draft notices in Chinese and English, watch their approval state and publish approved
// text; command staff (same page) approve.
import {
  NOTICE_STATES, api, bi, el, fmtTime, incidentStatus, labelCells, liveEvents, loadFailed, loaded, loginFlow,
  mayHaveBeenStored, problemText, refetcher, replayedNote, say, sayWriteFailed, setCityZone, showConnection, stamped,
  whenChanged,
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

async function act(notice, action, body) {
  try {
    const answer = await api(`/api/v1/notices/${notice.id}/${action}`, { method: "POST", body: body || {} });
    say($("message"), `${notice.title_zh} ${notice.title_en}: ${DONE[action].join(" ")}${replayedNote(answer)}`, "ok");
    refresh();
  } catch (error) {
    sayWriteFailed($("message"), error, FAILED[action].join(" "), `${notice.title_zh} ${notice.title_en}: `);
  }
}

// Withdrawing cannot be undone (a published notice is cancelled for the public too): asked first, with a reason.
function withdraw(n) {
  const reason = prompt(`撤销「${n.title_zh}」？此操作不可恢复，请写明原因。\nWithdraw "${n.title_en}"? This cannot be undone; give the reason.`);
  if (reason === null || !reason.trim()) return;
  act(n, "cancel", { reason: reason.trim() });
}

function actions(n) {
  const out = [];
  if (me.kind === "press" && n.state === "approved") {
    out.push(el("button", { type: "button", "data-action": "publish", onclick: () => act(n, "publish") }, "发布 Publish"));
  }
  if (me.kind === "command" && (n.state === "draft" || n.state === "updated")) {
    out.push(el("button", { type: "button", "data-action": "approve", onclick: () => act(n, "approve", { text_sha256: n.text_sha256 }) }, "批准 Approve"));
  }
  if (me.kind === "press" && !CLOSED.has(n.state)) {
    out.push(el("button", { type: "button", class: "danger", "data-action": "cancel",
      onclick: () => withdraw(n) }, "撤销 Withdraw"));
  }
  return el("td", { class: "actions" }, out);
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

function render(all) {
  latest = all;
  const superseded = all.filter((n) => n.state === "superseded").length;
  const items = showSuperseded ? all : all.filter((n) => n.state !== "superseded");
  const more = $("superseded-more");
  more.hidden = superseded === 0;
  more.querySelector(".notes").textContent =
    `${superseded} 份自动进展草稿已被更新的草稿取代 automatic progress drafts replaced by a newer one`;
  const toggle = more.querySelector("button");
  toggle.textContent = showSuperseded ? "隐藏 Hide" : "显示 Show";
  toggle.setAttribute("aria-expanded", String(showSuperseded));
  $("notices").replaceChildren(...(items.length ? items.map((n) => {
    const state = NOTICE_STATES[n.state] || [n.state, n.state];
    return el("tr", { "data-id": n.id, "data-state": n.state },
      el("td", {}, el("strong", { lang: "zh", text: n.title_zh }), el("br"), el("span", { lang: "en", text: n.title_en }),
        // The whole text, as it would be published: what command approves (its digest goes with the approval).
        el("details", { class: "notice-text" }, el("summary", {}, bi("正文", "text")),
          el("p", { lang: "zh", text: n.body_zh }), el("p", { lang: "en", text: n.body_en }))),
      el("td", { class: "state" }, bi(state[0], state[1])), el("td", {}, incidentStatus(n.status)),
      el("td", { text: n.author }), el("td", { text: n.approved_by || "—" }), times(n),
      el("td", { class: "num", text: n.published_version || "—" }), actions(n));
  }) : [el("tr", {}, el("td", { colspan: 8, class: "empty",
    text: superseded ? "暂无其他公告 no other notices" : "暂无公告 no notices yet" }))]));
  labelCells($("notices").closest("table"));
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
    say($("message"), stamped("服务已恢复，草稿列表已刷新：若下方没有此草稿，请不作修改再按一次“保存草稿”。 The service is "
      + "back and the drafts list is fetched again: if the draft is not in it below, press Save draft again unchanged."),
    "warn");
  };
  clearTimeout(relisting);
  relisting = setTimeout(retry, every);
}

$("draft").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { incident_id: $("incident").value || null, status: $("status").value };
  for (const name of ["title_zh", "title_en", "body_zh", "body_en"]) body[name] = $(name).value;
  try {
    const answer = await api("/api/v1/notices", { method: "POST", body });
    clearTimeout(relisting);  // saved again after an uncertain save: nothing left to look for
    relisting = null;
    say($("message"), `草稿已保存，待指挥批准 Draft saved; command staff must approve it${replayedNote(answer)}`, "ok");
    $("draft").reset();
    refresh();
  } catch (error) {
    sayWriteFailed($("message"), error, "保存失败 Not saved", "", SAVE_AGAIN);
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
