// The after-action summary: figures for one incident or for everything, and the same figures as CSV.
import {
  FOLLOW_UP_OUTCOMES, api, bi, bilingual, el, fmtClock, fmtNumber, fmtTime, incidentStatus, labelCells, loginFlow, names, problemText,
  retried, say, setCityZone,
} from "/static/common.js";

const $ = (id) => document.getElementById(id);
let reference = null;
const TOTALS = {
  received: ["受理", "received"], open: ["未结", "open"], resolved: ["办结", "resolved"], closed: ["归档", "closed"],
  rejected: ["无效", "rejected"], duplicates: ["重复", "duplicates"], first_contact_resolutions: ["当场解决", "settled on the call"],
  returned_complaints: ["被退单工单", "complaints returned"], returns: ["退单次数", "returns"],
  escalated_complaints: ["督办工单", "escalated"], escalated_to_command: ["曾升至二级督办", "ever escalated to level 2 (command)"],
  reopened_complaints: ["重启工单", "reopened"], media_exposure: ["媒体曝光", "media exposure"],
};

const num = (v, d = 0) => el("td", { class: "num", text: fmtNumber(v, d) });
const fill = (id, rows) => $(id).replaceChildren(...(rows.length ? rows
  : [el("tr", {}, el("td", { class: "empty", colspan: 7 }, bilingual("无数据 no data")))]));

function query(format) {
  const params = new URLSearchParams();
  if ($("incident").value) params.set("incident", $("incident").value);
  if (format) params.set("format", format);
  return `/api/v1/reports/summary?${params}`;
}

// The figures and the incidents to choose from load apart, each saying its own error and tried again by itself
// until it loads: a page opened while the database was down stayed blank after it was back.
// Which scope the figures on the page are for: a Show for another incident that fails leaves the last figures
// up, so the line says they are not the chosen incident's and the tables are greyed until it loads.
const scopeName = () => $("incident").selectedOptions[0]?.textContent || "全部 all complaints";
let shownScope = null;

function markStale() {
  if (shownScope === null || shownScope.value === $("incident").value) return;
  $("figures").classList.add("stale");
  say($("shown"), `以下仍为「${shownScope.name}」的数据，不是所选事件的 Still showing ${shownScope.name}, not the incident chosen`, "error");
}

const show = retried($("message"), "读取失败 Summary not loaded", async () => {
  const asked = { value: $("incident").value, name: scopeName() };
  let r;
  try {
    r = await api(query());
  } catch (error) {
    markStale();
    throw error;
  }
  fill("totals", Object.entries(r.totals).map(([k, v]) => el("tr", { "data-metric": k },
    el("th", {}, TOTALS[k] ? bi(TOTALS[k][0], TOTALS[k][1]) : k), num(v))));
  fill("per-hour", r.per_hour.map((h) => el("tr", {}, el("td", { text: fmtTime(h.hour) }), num(h.received))));
  fill("by-category", r.by_category.map((c) => el("tr", {}, el("td", {}, names(reference.categories, c.category)), num(c.received), num(c.open), num(c.resolved))));
  fill("by-district", r.by_district.map((c) => el("tr", {}, el("td", {}, names(reference.districts, c.district)), num(c.received), num(c.open), num(c.resolved))));
  fill("timing", r.timing.map((t) => el("tr", {}, el("td", {}, names(reference.departments, t.department)), el("td", { text: t.level }),
    num(t.complaints), num(t.median_minutes_to_accept, 1), num(t.p90_minutes_to_accept, 1), num(t.median_minutes_to_resolve, 1), num(t.p90_minutes_to_resolve, 1))));
  labelCells($("timing").closest("table"));  // seven columns: a block per row on a phone
  fill("satisfaction", Object.entries(r.satisfaction).map(([k, v]) => el("tr", { "data-answer": k },
    el("th", {}, FOLLOW_UP_OUTCOMES[k] ? bi(...FOLLOW_UP_OUTCOMES[k]) : k), num(v))));
  say($("message"), "");  // an earlier download's failure is not about these figures
  shownScope = asked;
  $("figures").classList.remove("stale");
  say($("shown"), `显示 Showing: ${asked.name} · ${fmtClock(new Date())}`);
});

const loadIncidents = retried($("incidents-message"), "读取失败 Incidents not loaded", async () => {
  const incidents = (await api("/api/v1/incidents")).items;
  $("incident").replaceChildren($("incident").options[0],
    ...incidents.map((i) => el("option", { value: i.id, text: `${i.title}（${incidentStatus(i.status).textContent}）` })));
});

// The CSV needs the token, so it is fetched here and handed to the browser as a download.
async function downloadCsv() {
  try {
    const response = await api(query("csv"), { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `levee-summary-${$("incident").value || "all"}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    say($("message"), `下载失败 Download failed: ${problemText(error)}`, "error");
  }
}

$("scope").addEventListener("submit", (event) => { event.preventDefault(); show(); });
$("csv").addEventListener("click", downloadCsv);

loginFlow({
  form: $("login"), input: $("token"), message: $("login-message"), main: $("main"), logout: $("logout"),
  roles: ["command", "press"],
  async onReady() {
    reference = await api("/api/v1/reference");  // failing, loginFlow says so and runs this again
    setCityZone(reference.area.time_zone);
    await Promise.all([loadIncidents(), show()]);
  },
});
