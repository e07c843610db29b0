// The dashboard: reads the API it is served by (same origin), nothing else.
"use strict";

const JURISDICTIONS = { tianjin: ["天津", "Tianjin"], xinxiang: ["新乡", "Xinxiang"], province: ["省指南", "Province"], tangshan: ["唐山", "Tangshan"], liuzhou: ["柳州", "Liuzhou"] };
const TEXT = {
  en: {
    title: "Digital-transformation service provider pools — ledger", live: "live", signin: "Sign in", registry: "Registry", lists: "Lists",
    charts: "Charts", jurisdiction: "Jurisdiction", standing: "Standing", kind: "Kind", grade: "Grade", filter: "Filter",
    provider_id: "Id", name: "Name", since: "Since (effective)", list: "List", article: "Article", effective_on: "Effective on",
    from: "From (effective)", to: "To (effective)", show: "Show", pool_over_time: "Pool size over time",
    removals_by_article: "Removals by article, per month", grades: "Grades", stars: "Stars", sanctions: "Sanctions",
    scheme: "Scheme", period: "Period", sanction: "Sanction", state: "State", timeline: "Timeline", recorded_at: "Recorded at",
    actor: "Recorded by", event: "Event", summary: "Summary", more: "More", explain: "Explain", evidence: "Evidence",
    axes: "Every date names its axis: effective = when the fact took effect; recorded = when the ledger recorded it.",
    needs_token: "Needs an auditor's or the regulator's token.", public_view: "Without a token: the pool and the published lists only.",
    voided: "voided by appeal", rescinded: "rescinded", new_events: "new events",
  },
  zh: {
    title: "数字化转型服务商资源池台账", live: "实时", signin: "登录", registry: "名录", lists: "名单", charts: "统计图表",
    jurisdiction: "地区", standing: "状态", kind: "类别", grade: "等级", filter: "筛选", provider_id: "编号", name: "名称",
    since: "起始日期（生效）", list: "名单", article: "条款", effective_on: "生效日期", from: "自（生效）", to: "至（生效）",
    show: "显示", pool_over_time: "资源池规模", removals_by_article: "按条款的移出（每月）", grades: "等级", stars: "星级分布",
    sanctions: "处理记录", scheme: "方式", period: "期间", sanction: "处理", state: "状态", timeline: "时间线",
    recorded_at: "记录时间", actor: "记录人", event: "事件", summary: "摘要", more: "更多", explain: "依据", evidence: "证据",
    axes: "日期均注明时间轴：“生效”为事实生效日期，“记录”为台账记录时间。",
    needs_token: "需要审计或本地区主管部门的令牌。", public_view: "未登录：仅显示资源池和公开名单。",
    voided: "已因申诉撤销", rescinded: "已撤销", new_events: "条新事件",
  },
};

const state = {
  lang: new URLSearchParams(location.search).get("lang") === "en" ? "en" : (localStorage.getItem("lang") || "zh"),
  token: localStorage.getItem("token") || "",
  registryOffset: 0, listsOffset: 0, pageSize: 25, provider: null, timelineCursor: null, charts: {}, live: 0,
};
const $ = (selector) => document.querySelector(selector);
const t = (key) => TEXT[state.lang][key] || key;
const juris = (code) => (JURISDICTIONS[code] || [code, code])[state.lang === "zh" ? 0 : 1];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "onclick") node.addEventListener("click", value); else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  return node;
}

async function api(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) if (value !== "" && value != null) url.searchParams.set(key, value);
  const headers = state.token ? { Authorization: `Bearer ${state.token}` } : {};
  const answer = await fetch(url, { headers });
  const body = await answer.json();
  if (!answer.ok) throw Object.assign(new Error(body.detail || answer.statusText), { status: answer.status });
  return body;
}

function translate() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("#lang").textContent = state.lang === "zh" ? "English" : "中文";
  for (const select of document.querySelectorAll("select[name=jurisdiction]")) {
    for (const option of select.options) if (option.value) option.textContent = juris(option.value);
  }
}

// The standings the registry's filter takes: the API's own list (ledger.aggregates.provider.STANDINGS),
// an enum in its OpenAPI schema, so the filter never leaves one out.
async function standings() {
  const openapi = await (await fetch("/openapi.json")).json();
  const resolve = (schema) => (schema?.$ref ? openapi.components.schemas[schema.$ref.split("/").pop()] : schema) || {};
  const parameter = openapi.paths["/v1/registry"].get.parameters.find((p) => p.name === "standing");
  const branches = [parameter.schema, ...(parameter.schema.anyOf || [])].map(resolve);
  return branches.find((s) => Array.isArray(s.enum))?.enum || [];
}

async function fillSelects() {
  for (const select of document.querySelectorAll("select[name=jurisdiction]")) {
    for (const code of Object.keys(JURISDICTIONS)) select.append(el("option", { value: code }, juris(code)));
  }
  $("#chart-filters select[name=jurisdiction]").value = "tangshan";
  const standing = $("#registry-filters select[name=standing]");
  for (const s of await standings()) standing.append(el("option", { value: s }, s));
}

function formParams(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function pager(prefix, page, onMove) {
  $(`#${prefix}-page`).textContent = `${page.total ? page.offset + 1 : 0}–${page.offset + page.items.length} / ${page.total}`;
  $(`#${prefix}-prev`).onclick = () => onMove(Math.max(0, page.offset - page.limit));
  $(`#${prefix}-next`).onclick = () => page.next_offset != null && onMove(page.next_offset);
}

async function loadRegistry(offset = state.registryOffset) {
  state.registryOffset = offset;
  const page = await api("/v1/registry", { ...formParams($("#registry-filters")), limit: state.pageSize, offset });
  const body = $("#registry-table tbody");
  body.replaceChildren(...page.items.map((row) => el("tr", { class: "clickable", "data-provider": row.provider_id, onclick: () => { location.hash = `#provider/${encodeURIComponent(row.provider_id)}`; } },
    el("td", {}, row.provider_id), el("td", {}, row.name), el("td", {}, juris(row.jurisdiction)), el("td", {}, row.standing), el("td", {}, row.standing_since))));
  pager("registry", page, loadRegistry);
}

async function loadLists(offset = state.listsOffset) {
  state.listsOffset = offset;
  const page = await api("/v1/lists", { ...formParams($("#lists-filters")), limit: state.pageSize, offset });
  $("#lists-table tbody").replaceChildren(...page.items.map((row) => el("tr", { class: "clickable", onclick: () => { location.hash = `#provider/${encodeURIComponent(row.provider_id)}`; } },
    el("td", {}, row.list_kind), el("td", {}, row.provider_id), el("td", {}, row.provider_name), el("td", {}, row.article), el("td", {}, row.effective_on))));
  pager("lists", page, loadLists);
}

function chart(id, config) {
  state.charts[id]?.destroy();
  state.charts[id] = new Chart(document.getElementById(id), { ...config, options: { animation: false, responsive: true, ...(config.options || {}) } });
}

async function loadCharts() {
  const params = formParams($("#chart-filters"));
  if (!state.token) {  // the reports need an auditor's or the regulator's token: not asked for without one
    $("#charts-note").textContent = t("needs_token");
    for (const id of Object.keys(state.charts)) { state.charts[id].destroy(); delete state.charts[id]; }
    return;
  }
  let report;
  try {
    report = await api(`/v1/reports/${params.jurisdiction}`, { effective_from: params.effective_from, effective_to: params.effective_to });
  } catch (error) {
    $("#charts-note").textContent = error.status === 401 || error.status === 403 ? t("needs_token") : error.message;
    return;
  }
  $("#charts-note").textContent = "";
  chart("chart-pool", { type: "line", data: { labels: report.pool_size_by_month.map((m) => m.month), datasets: [{ label: t("pool_over_time"), data: report.pool_size_by_month.map((m) => m.count), borderColor: "#1f4e79" }] } });
  const months = Object.keys(report.removals_by_month);
  const articles = [...new Set(months.flatMap((m) => Object.keys(report.removals_by_month[m])))];
  const palette = ["#c0392b", "#e67e22", "#8e44ad", "#16a085", "#2c3e50", "#d35400"];
  chart("chart-removals", { type: "bar", data: { labels: months, datasets: articles.map((a, i) => ({ label: a, data: months.map((m) => report.removals_by_month[m][a] || 0), backgroundColor: palette[i % palette.length] })) }, options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } } });
  const grades = Object.entries(report.grade_distribution).flatMap(([scheme, counts]) => Object.entries(counts).map(([grade, n]) => [`${scheme} ${grade}`, n]));
  chart("chart-grades", { type: "bar", data: { labels: grades.map((g) => g[0]), datasets: [{ label: t("grades"), data: grades.map((g) => g[1]), backgroundColor: "#2e86c1" }] } });
  const stars = Object.entries(report.star_distribution);
  chart("chart-stars", { type: "bar", data: { labels: stars.map((s) => `${s[0]}★`), datasets: [{ label: t("stars"), data: stars.map((s) => s[1]), backgroundColor: "#f1c40f" }] } });
}

function tree(node) {
  const label = el("span", { class: node.voided || node.rescinded ? "voided" : "" }, `${node.title} (${node.effective_on || ""}) ${node.ref}`);
  const marks = [node.voided ? ` — ${t("voided")} ${node.voided.appeal_id || ""}` : "", node.rescinded ? ` — ${t("rescinded")} ${node.rescinded.on || ""}` : ""].join("");
  return el("li", {}, label, marks, node.children?.length ? el("ul", {}, ...node.children.map(tree)) : "");
}

async function explain(providerId, ref) {
  const explanation = await api(`/v1/providers/${encodeURIComponent(providerId)}/explain`, { ref });
  $("#explanation").replaceChildren(el("div", { class: "tree", id: `explain-${ref}` }, el("strong", {}, `${t("explain")}: ${ref}`), el("ul", {}, tree(explanation.root))));
}

async function loadTimeline(providerId, cursor) {
  const page = await api(`/v1/providers/${encodeURIComponent(providerId)}/timeline`, { cursor, limit: 50 });
  const rows = page.items.map((e) => el("tr", {}, el("td", {}, String(e.position)), el("td", {}, e.effective_on || ""), el("td", {}, e.recorded_at), el("td", {}, e.recorded_by), el("td", {}, e.event_type), el("td", {}, e.summary)));
  const body = $("#timeline-table tbody");
  if (cursor == null) body.replaceChildren(...rows); else body.append(...rows);
  state.timelineCursor = page.next_cursor;
  $("#timeline-more").hidden = page.next_cursor == null;
  $("#timeline-more").onclick = () => loadTimeline(providerId, state.timelineCursor);
}

async function loadProvider(providerId) {
  state.provider = providerId;
  $("#explanation").replaceChildren();
  let standing;
  try {
    standing = await api(`/v1/providers/${encodeURIComponent(providerId)}`);
  } catch (error) {
    $("#provider-title").textContent = providerId;
    $("#provider-summary").textContent = "";
    $("#provider-note").textContent = error.status === 401 || error.status === 403 ? t("needs_token") : error.message;
    for (const id of ["grades", "sanctions", "timeline"]) $(`#${id}-table tbody`).replaceChildren();
    return;
  }
  $("#provider-note").textContent = "";
  $("#provider-title").textContent = `${standing.provider_id} ${standing.name}`;
  $("#provider-summary").textContent = `${juris(standing.jurisdiction)} · ${standing.kind} · ${t("standing")}: ${standing.standing} · ${t("since")}: ${standing.status_since}`;
  const grades = await api(`/v1/providers/${encodeURIComponent(providerId)}/grades`, { limit: 500 });
  $("#grades-table tbody").replaceChildren(...grades.items.map((g) => el("tr", {}, el("td", {}, g.scheme), el("td", {}, g.period), el("td", {}, String(g.grade)), el("td", {}, g.effective_on))));
  $("#sanctions-table tbody").replaceChildren(...standing.sanctions.map((s) => el("tr", {},
    el("td", {}, s.sanction), el("td", { title: s.text }, s.article), el("td", {}, s.state), el("td", {}, s.effective_on),
    el("td", {}, el("button", { class: "explain", onclick: () => explain(providerId, s.ref) }, t("explain"))))));
  await loadTimeline(providerId, null);
}

function show(view) {
  for (const name of ["registry", "lists", "charts", "provider"]) $(`#view-${name}`).hidden = name !== view;
}

async function route() {
  const hash = decodeURIComponent(location.hash.slice(1)) || "registry";
  try {
    if (hash.startsWith("provider/")) { show("provider"); await loadProvider(hash.slice("provider/".length)); }
    else if (hash === "lists") { show("lists"); await loadLists(); }
    else if (hash === "charts") { show("charts"); await loadCharts(); }
    else { show("registry"); await loadRegistry(); }
    document.body.dataset.ready = hash;
  } catch (error) {
    document.body.dataset.error = error.message;
  }
}

let refresh = null;
function listen() {
  const source = new EventSource("/v1/events");
  source.onopen = () => $("#live").classList.add("on");
  source.onerror = () => $("#live").classList.remove("on");
  source.addEventListener("ledger", () => {
    state.live += 1;
    $("#live-count").textContent = `${state.live} ${t("new_events")}`;
    clearTimeout(refresh);
    refresh = setTimeout(route, 500);  // the view in front is re-read, at most twice a second
  });
}

function start() {
  fillSelects().catch((error) => { document.body.dataset.error = error.message; });
  translate();
  $("#token").value = state.token;
  $("#save-token").onclick = () => { state.token = $("#token").value.trim(); localStorage.setItem("token", state.token); route(); };
  $("#lang").onclick = () => { state.lang = state.lang === "zh" ? "en" : "zh"; localStorage.setItem("lang", state.lang); translate(); route(); };
  $("#registry-filters").onsubmit = (e) => { e.preventDefault(); loadRegistry(0); };
  $("#lists-filters").onsubmit = (e) => { e.preventDefault(); loadLists(0); };
  $("#chart-filters").onsubmit = (e) => { e.preventDefault(); loadCharts(); };
  window.addEventListener("hashchange", route);
  route();
  listen();
}

start();
