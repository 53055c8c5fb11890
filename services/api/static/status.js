// Public: a complaint's status by its tracking code, and the published notices. No token, no personal data.
import { ApiError, api, bi, el, fmtTime, say, statusLabel } from "/static/common.js";

const $ = (id) => document.getElementById(id);
let reference = null;

function names(list, code) {
  const item = (list || []).find((x) => x.code === code);
  return item ? bi(item.name_zh, item.name_en) : document.createTextNode(code || "—");
}

async function lookUp(code) {
  try {
    const s = await api(`/api/v1/status/${encodeURIComponent(code)}`);
    $("h-result").replaceChildren(`${s.tracking_code} · `, statusLabel(s.status));
    const row = (zh, en, value) => el("tr", {}, el("th", {}, bi(zh, en)), el("td", {}, value));
    $("facts").replaceChildren(
      row("状态", "Status", statusLabel(s.status)),
      row("类别", "Category", names(reference.categories, s.category)),
      row("区", "District", names(reference.districts, s.district)),
      row("受理时间", "Received", fmtTime(s.received_at)),
      row("签收时间", "Accepted", fmtTime(s.accepted_at)),
      row("办结时间", "Resolved", fmtTime(s.resolved_at)),
    );
    $("progress").replaceChildren(...(s.progress.length
      ? s.progress.map((p) => el("li", {}, `${fmtTime(p.at)} — ${p.text}`))
      : [el("li", { class: "empty", text: "暂无 none yet" })]));
    // What has been published about the event this complaint is part of: often the answer the caller wants.
    $("incident-updates").hidden = !s.notices.length;
    $("incident-notices").replaceChildren(...s.notices.map((n) => noticeArticle(n, "incident-notice")));
    $("result").hidden = false;
    say($("message"), "");
  } catch (error) {
    $("result").hidden = true;
    const text = error instanceof ApiError && error.status === 404
      ? "未找到该编号，请核对（格式如 LV-7K3QX9） No complaint with that code; please check it (codes look like LV-7K3QX9)"
      : `查询失败 Lookup failed: ${error.message}`;
    say($("message"), text, "error");
  }
}

function noticeArticle(n, prefix = "notice") {
  return el("article", { id: `${prefix}-${n.id}` },
    el("h3", {}, el("span", { lang: "zh", text: n.title_zh }), " · ", el("span", { lang: "en", text: n.title_en })),
    el("p", { lang: "zh", text: n.body_zh }), el("p", { lang: "en", text: n.body_en }),
    el("p", { class: "notes", text: `${n.status} · ${fmtTime(n.published_at)}` }));
}

async function notices() {
  const items = (await api("/api/v1/notices")).items;
  $("notices").replaceChildren(...(items.length ? items.map((n) => noticeArticle(n))
    : [el("p", { class: "empty", text: "暂无公告 no notices" })]));
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
  reference = await api("/api/v1/reference");
  const code = codeInPath();
  if (code) {
    $("code").value = code;
    await lookUp(code);
  }
  await notices().catch((error) => say($("message"), `公告暂时无法加载 Notices cannot be loaded now: ${error.message}`, "error"));
})().catch((error) => say($("message"), `页面暂时无法加载，请稍后刷新 The page cannot load now; please reload later: ${error.message}`, "error"));
