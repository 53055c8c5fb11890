// Public: a complaint's status by its tracking code, and the published notices. No token, no personal data.
import {
  ApiError, api, bi, bilingual, el, fmtTime, incidentStatus, names, say, setCityZone, statusLabel, zoneName,
} from "/static/common.js";

const $ = (id) => document.getElementById(id);
let reference = null;

// What happens next, in plain words, for each public status (found by a review of the public pages: a label
// alone left a resident guessing). `expected_by`, when the API gives one, says by when.
const NEXT = {
  received: ["已收到，正在评估并转交负责部门。", "Received: it is being assessed and passed to the department that deals with it."],
  in_progress: ["负责部门正在处理，进展会显示在下方。", "The department responsible is working on it; its progress shows below."],
  resolved: ["已办结，可能会有回访电话。如问题仍在，请重新提交或致电热线。",
    "Resolved; you may get a follow-up call. If the problem is still there, file again or call the hotline."],
  not_accepted: ["如仍需处理，请写明地点和具体问题后重新提交，或致电热线。",
    "If it still needs doing, file again saying what and where, or call the hotline."],
};

async function lookUp(code) {
  try {
    const s = await api(`/api/v1/status/${encodeURIComponent(code)}`);
    $("h-result").replaceChildren(`${s.tracking_code} · `, statusLabel(s.status));
    const row = (zh, en, value) => el("tr", {}, el("th", {}, bi(zh, en)), el("td", {}, value));
    $("facts").replaceChildren(...[
      row("状态", "Status", statusLabel(s.status)),
      // Why it was not taken up, as the caller is told (DOMAIN: invalid "with the reason told to the caller"),
      // and what a merged one means: a web filer has no call back to hear it from.
      s.status === "not_accepted" ? row("原因", "Why", bilingual(s.reason || "—")) : null,
      s.status === "merged" ? row("说明", "Note", bi("已并入您较早提交的同一诉求，请以那一件的进展为准",
        "Joined to your earlier report of the same problem: follow that one")) : null,
      NEXT[s.status] ? row("下一步", "What next", bi(...NEXT[s.status])) : null,
      // Past it, the page says so: a time in the past read as a promise still to be kept (found by a review).
      s.expected_by ? row("预计办结", "Expected by", Date.parse(s.expected_by) < Date.now()
        ? el("span", {}, fmtTime(s.expected_by), " ", bi("已逾期，仍在办理", "overdue, still being handled"))
        : fmtTime(s.expected_by)) : null,
      row("类别", "Category", names(reference.categories, s.category)),
      row("区", "District", names(reference.districts, s.district)),
      row("受理时间", "Received", fmtTime(s.received_at)),
      row("签收时间", "Accepted", fmtTime(s.accepted_at)),
      row("办结时间", "Resolved", fmtTime(s.resolved_at)),
      s.closed_at ? row("结束时间", "Closed", fmtTime(s.closed_at)) : null,
    ].filter(Boolean));
    $("progress").replaceChildren(...(s.progress.length
      ? s.progress.map((p) => el("li", {}, `${fmtTime(p.at)} — `, bilingual(p.text)))
      : [el("li", { class: "empty" }, bilingual("暂无 none yet"))]));
    // What has been published about the event this complaint is part of: often the answer the caller wants.
    $("incident-updates").hidden = !s.notices.length;
    $("incident-notices").replaceChildren(...s.notices.map((n) => noticeArticle(n, "incident-notice")));
    s.notices.forEach((n) => shownAbove.add(n.id));
    $("result").hidden = false;
    // Said in the status region too: a screen reader hears what was found, not only the page going quiet.
    say($("message"), `${s.tracking_code}: ${statusLabel(s.status).textContent}`, "ok");
  } catch (error) {
    $("result").hidden = true;
    say($("message"), lookupFailed(error), "error");
  }
}

// What a citizen can do about a failed lookup, in words, not the server's: try again when, or check the code.
function lookupFailed(error) {
  const status = error instanceof ApiError ? error.status : 0;
  if (status === 404) {
    return "未找到该编号。编号格式如 LV-7K3QX9，不含 0、O、1、I、L、U；刚提交的请一分钟后再查。"
      + " No complaint with that code. Codes look like LV-7K3QX9, with no 0, O, 1, I, L or U; filed a moment ago?"
      + " Try again in a minute.";
  }
  if (status === 429) return "查询太频繁，请一分钟后再试。 Too many lookups from here; please try again in a minute.";
  if (status >= 500 || status === 0) {
    return "系统繁忙或网络不通，请稍后再试；您的诉求不会丢失。 The system is busy or the network is down; please try"
      + " again shortly. Your complaint is not lost.";
  }
  return `查询失败 Lookup failed (${status})`;
}

function noticeArticle(n, prefix = "notice") {
  return el("article", { id: `${prefix}-${n.id}` },
    el("h3", {}, el("span", { lang: "zh", text: n.title_zh }), " · ", el("span", { lang: "en", text: n.title_en })),
    el("p", { lang: "zh", text: n.body_zh }), el("p", { lang: "en", text: n.body_en }),
    el("p", { class: "notes" }, incidentStatus(n.status), ` · ${fmtTime(n.published_at)}`));
}

// The notices already shown above, about the complaint's own incident: not listed a second time below (a review
// of the public pages found a phone's page twice as long for it).
const shownAbove = new Set();

async function notices() {
  const items = (await api("/api/v1/notices")).items.filter((n) => !shownAbove.has(n.id));
  $("notices").replaceChildren(...(items.length ? items.map((n) => noticeArticle(n))
    : [el("p", { class: "empty" }, bilingual(shownAbove.size ? "暂无其他公告 no other notices" : "暂无公告 no notices"))]));
  // A feed or CAP link names its notice (#notice-<id>): the notices arrive after the browser looked for it.
  const named = location.hash.startsWith("#notice-") ? location.hash.slice(1) : null;
  const wanted = named ? document.getElementById(named) || document.getElementById(`incident-${named}`) : null;
  if (wanted) wanted.scrollIntoView();
  else if (location.hash.startsWith("#notice-")) {
    say($("message"), "此公告已撤回或已不在列表中 This notice was withdrawn or is no longer listed", "info");
  }
}

$("lookup").addEventListener("submit", (event) => {
  event.preventDefault();
  const code = $("code").value.trim().toUpperCase();
  if (code) location.assign(`/status/${encodeURIComponent(code)}`);
});

function codeInPath() {
  const match = location.pathname.match(/^\/status\/(.+)$/);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];  // a link cut short ("%E0"): looked up as written, and "not found" says so
  }
}

(async () => {
  const code = codeInPath();
  if (code) {
    $("code").value = code;
    say($("message"), "查询中… Looking up…"); // a weak connection: say something at once
  }
  reference = await api("/api/v1/reference");
  // The city's time, as the staff pages and the hotline say it, whatever zone this phone or PC is set to.
  setCityZone(reference.area && reference.area.time_zone);
  $("zone").replaceChildren(bilingual(`时间均为此时区 times are in: ${zoneName()}`));
  if (code) await lookUp(code);
  // Where the notices go, quietly: the lookup's own message (its result, or "your complaint is not lost") stays.
  await notices().catch(() => $("notices").replaceChildren(el("p", { class: "notes", "data-failed": "notices" },
    bilingual("公告暂时无法加载，请稍后刷新。 The notices cannot be loaded right now; please reload later."))));
})().catch((error) => say($("message"), codeInPath() ? lookupFailed(error)
  : "页面暂时无法加载，请稍后刷新。 The page cannot load right now; please reload later.", "error"));
