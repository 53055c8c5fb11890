// A department's queue: countdowns to its deadlines, and accept / return / resolve through the command API.
import {
  api, bi, el, fmtDuration, liveEvents, loginFlow, problemText, refetcher, say, showConnection, statusLabel,
} from "/static/common.js";

const $ = (id) => document.getElementById(id);
let me = null, reference = null, pending = null;

function names(list, code) {
  const item = (list || []).find((x) => x.code === code);
  return item ? bi(item.name_zh, item.name_en) : document.createTextNode(code || "—");
}

// Deadlines count down on the client between refetches; the server's seconds are the truth at fetch time.
function countdown(item, fetchedAt) {
  const seconds = item.status === "dispatched" ? item.seconds_to_accept : item.seconds_to_resolve;
  if (seconds === null || seconds === undefined) return el("td", { class: "empty", text: "—" });
  const kind = item.status === "dispatched" ? ["签收", "accept"] : ["办结", "resolve"];
  return el("td", { class: "countdown", "data-deadline": String(fetchedAt + seconds * 1000), "data-kind-zh": kind[0], "data-kind-en": kind[1] });
}

function tick() {
  const now = Date.now();
  for (const cell of document.querySelectorAll("td.countdown")) {
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
    buttons.push(el("button", { type: "button", class: "danger", "data-action": "return", onclick: () => ask(item, "return") }, "退单 Return"));
  }
  if (item.status === "accepted" || item.status === "reopened") {
    buttons.push(el("button", { type: "button", "data-action": "resolve", onclick: () => ask(item, "resolve") }, "办结 Resolve"));
  }
  return el("td", { class: "actions" }, buttons);
}

const ASK = {
  return: { title: ["退单", "Return to dispatch"], label: ["退单原因（必填）", "Reason (required)"], field: "reason" },
  resolve: { title: ["办结", "Resolve"], label: ["办理结果（必填）", "What was done (required)"], field: "summary" },
};

function ask(item, action) {
  pending = { item, action };
  const spec = ASK[action];
  $("action-title").replaceChildren(bi(`${spec.title[0]} ${item.tracking_code}`, spec.title[1]));
  $("action-label").replaceChildren(bi(spec.label[0], spec.label[1]));
  $("action").hidden = false;
  $("action-text").value = "";
  $("action-text").focus();
}

$("action").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!pending) return;
  const { item, action } = pending;
  const ok = await command(item, action, { [ASK[action].field]: $("action-text").value });
  if (ok) { $("action").hidden = true; pending = null; }
});
$("action-cancel").addEventListener("click", () => { $("action").hidden = true; pending = null; });

const DONE = { accept: ["已签收", "accepted"], return: ["已退单", "returned"], resolve: ["已办结", "resolved"] };

async function command(item, action, body) {
  try {
    await api(`/api/v1/complaints/${item.id}/${action}`, { method: "POST", body });
    say($("message"), `${item.tracking_code}: ${DONE[action][0]} ${DONE[action][1]}`, "ok");
    refresh();
    return true;
  } catch (error) {
    say($("message"), `${item.tracking_code}: 操作失败 failed — ${problemText(error)}`, "error");
    return false;
  }
}

function render(queue) {
  const fetchedAt = Date.now();
  const items = queue.items;
  $("queue").replaceChildren(...(items.length ? items.map((item) => el("tr", { "data-id": item.id, "data-status": item.status },
    el("td", {}, el("strong", { text: item.tracking_code })),
    el("td", {}, el("span", { class: `level ${item.level || ""}`, text: item.level || "—" })),
    el("td", {}, names(reference.categories, item.category)),
    el("td", {}, names(reference.districts, item.district)),
    el("td", { text: item.description || "" }),
    el("td", { class: "status" }, statusLabel(item.status)),
    countdown(item, fetchedAt),
    actionButtons(item),
  )) : [el("tr", {}, el("td", { colspan: 8, class: "empty", text: "暂无工单 nothing in the queue" }))]));
  tick();
}

const refresh = refetcher(async () => {
  try {
    render(await api(`/api/v1/departments/${encodeURIComponent(me.department)}/queue`));
  } catch (error) {
    say($("message"), `读取失败 Queue not loaded: ${problemText(error)}`, "error");
  }
});

loginFlow({
  form: $("login"), input: $("token"), message: $("login-message"), main: $("main"), logout: $("logout"),
  roles: ["department"],
  async onReady(who) {
    me = who;
    reference = await api("/api/v1/reference");
    $("dept-name").replaceChildren(" · ", names(reference.departments, me.department));
    await refresh();
    setInterval(tick, 1000);
    liveEvents({ onChange: refresh, onState: (state, retry) => showConnection($("conn"), state, retry) });
  },
});
