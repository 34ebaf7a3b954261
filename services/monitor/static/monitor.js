/* Ketnoi organizer monitor: Vietnamese first, English on request. No framework, no CDN.
 *
 * The server sends a snapshot, then updates (a few per second at most: it batches). The page
 * keeps its state in maps keyed by id, so an update seen twice changes nothing, and it draws at
 * most once per animation frame however many updates arrive. EventSource reconnects by itself
 * and sends Last-Event-ID, so the server resends exactly what was missed (or a new snapshot).
 */
"use strict";

const TEXT = {
  vi: {
    "brand.tagline": "Kết nối cung cầu",
    "login.title": "Đăng nhập màn hình theo dõi",
    "login.help": "Dán khóa API của ban tổ chức (quản trị nền tảng cấp bằng lệnh ketnoi keys create --role organizer).",
    "login.key": "Khóa API",
    "login.submit": "Đăng nhập",
    "login.error.key": "Khóa không đúng hoặc đã bị thu hồi.",
    "login.error.role": "Khóa này không thuộc ban tổ chức: chỉ ban tổ chức và quản trị nền tảng được xem.",
    "logout": "Đăng xuất",
    "report": "Báo cáo",
    "agenda": "Lịch gặp",
    "sessions.title": "Các phiên kết nối của đơn vị",
    "sessions.name": "Phiên",
    "sessions.status": "Trạng thái",
    "sessions.dates": "Ngày",
    "sessions.host": "Tỉnh chủ trì",
    "sessions.empty": "Chưa có phiên nào.",
    "session.scheduled": "Sắp diễn ra",
    "session.open": "Đang diễn ra",
    "session.closed": "Đã kết thúc",
    "live.connecting": "Đang kết nối…",
    "live.live": "Trực tiếp",
    "live.retrying": "Mất kết nối, đang thử lại…",
    "fig.offers": "Chào bán",
    "fig.demands": "Nhu cầu",
    "fig.proposals": "Đề xuất",
    "fig.accepted": "Được đồng ý",
    "fig.confirmed": "Đã chốt",
    "fig.declined": "Bị từ chối",
    "fig.expired": "Hết hạn",
    "fig.volume": "Sản lượng đã chốt",
    "fig.value": "Giá trị đã chốt",
    "fig.fill": "Tỷ lệ đáp ứng nhu cầu",
    "fig.pending": "{kg} đang chờ xác nhận",
    "fig.participants": "{buyers} người mua · {suppliers} nhà cung cấp",
    "funnel.title": "Phễu kết nối",
    "funnel.proposed": "Đề xuất",
    "funnel.accepted": "Được đồng ý",
    "funnel.confirmed": "Đã chốt",
    "chart.origin": "Sản lượng theo tỉnh xuất xứ",
    "chart.category": "Sản lượng theo nhóm hàng",
    "chart.empty": "Chưa có kết nối.",
    "legend.confirmed": "Đã chốt",
    "legend.pending": "Đang chờ xác nhận",
    "feed.title": "Kết nối mới nhất",
    "feed.count": "{n} kết nối",
    "feed.time": "Giờ",
    "feed.supplier": "Nhà cung cấp",
    "feed.product": "Sản phẩm",
    "feed.route": "Tỉnh → Người mua",
    "feed.quantity": "Số lượng",
    "feed.price": "Đơn giá",
    "feed.score": "Điểm",
    "feed.status": "Trạng thái",
    "status.proposed": "Đề xuất",
    "status.accepted": "Một bên đồng ý",
    "status.confirmed": "Đã chốt",
    "status.declined": "Bị từ chối",
    "status.expired": "Hết hạn",
    "status.released": "Đã hủy",
    "stuck.title": "Nhu cầu chưa được đáp ứng, cũ nhất trước",
    "stuck.count": "{n} nhu cầu",
    "stuck.since": "Đăng lúc",
    "stuck.buyer": "Người mua",
    "stuck.product": "Cần mua",
    "stuck.quantity": "Cần",
    "stuck.matched": "Đã ghép",
    "stuck.open": "Còn thiếu",
    "stuck.delivery": "Giao đến",
    "stuck.reason": "Lý do chưa ghép được",
    "reason.price": "Giá chào cao hơn giá trần người mua",
    "reason.region": "Nhà cung cấp không giao đến tỉnh nhận",
    "reason.dates": "Không giao kịp trong thời gian yêu cầu",
    "reason.lot": "Không khớp quy cách lô hàng",
    "reason.stars": "Chưa đủ số sao OCOP yêu cầu",
    "reason.certifications": "Thiếu chứng nhận yêu cầu",
    "reason.payment": "Không nhận điều kiện trả chậm",
    "reason.vat-invoice": "Không xuất hóa đơn VAT",
    "reason.traceability": "Chưa có tem truy xuất nguồn gốc",
    "reason.excluded": "Một bên đã loại trừ bên kia",
    "reason.history": "Các chào hàng phù hợp đã bị từ chối hoặc hết hạn",
    "reason.quantity": "Hàng phù hợp đã được giữ chỗ hết",
    "reason.limit": "Đang chờ lượt ghép tiếp theo",
    "reason.no-offers": "Chưa có chào bán nào trong nhóm hàng này",
    "reason.awaiting": "Đủ hàng đề xuất, đang chờ hai bên xác nhận",
    "reason.other": "Chưa tìm được nguồn phù hợp",
    "reason.none": "Đang chờ bộ ghép xử lý",
    "reason.count": "{bad}/{all} chào bán",
    "unit.tonne": "tấn",
    "lang.switch": "English",
  },
  en: {
    "brand.tagline": "Supply–demand connection",
    "login.title": "Sign in to the monitor",
    "login.help": "Paste your organizer API key (the platform admin issues it with ketnoi keys create --role organizer).",
    "login.key": "API key",
    "login.submit": "Sign in",
    "login.error.key": "This key is wrong or revoked.",
    "login.error.role": "This is not an organizer key: only organizers and the platform admin may watch.",
    "logout": "Sign out",
    "report": "Report",
    "agenda": "Meetings",
    "sessions.title": "Your organization's sessions",
    "sessions.name": "Session",
    "sessions.status": "Status",
    "sessions.dates": "Dates",
    "sessions.host": "Host province",
    "sessions.empty": "No session yet.",
    "session.scheduled": "Scheduled",
    "session.open": "Open",
    "session.closed": "Closed",
    "live.connecting": "Connecting…",
    "live.live": "Live",
    "live.retrying": "Connection lost, retrying…",
    "fig.offers": "Offers",
    "fig.demands": "Demands",
    "fig.proposals": "Proposals",
    "fig.accepted": "Accepted",
    "fig.confirmed": "Confirmed",
    "fig.declined": "Declined",
    "fig.expired": "Expired",
    "fig.volume": "Volume confirmed",
    "fig.value": "Value confirmed",
    "fig.fill": "Demand fill rate",
    "fig.pending": "{kg} awaiting confirmation",
    "fig.participants": "{buyers} buyers · {suppliers} suppliers",
    "funnel.title": "Funnel",
    "funnel.proposed": "Proposed",
    "funnel.accepted": "Accepted",
    "funnel.confirmed": "Confirmed",
    "chart.origin": "Volume by province of origin",
    "chart.category": "Volume by product category",
    "chart.empty": "No match yet.",
    "legend.confirmed": "Confirmed",
    "legend.pending": "Awaiting confirmation",
    "feed.title": "Latest matches",
    "feed.count": "{n} matches",
    "feed.time": "Time",
    "feed.supplier": "Supplier",
    "feed.product": "Product",
    "feed.route": "Province → Buyer",
    "feed.quantity": "Quantity",
    "feed.price": "Unit price",
    "feed.score": "Score",
    "feed.status": "Status",
    "status.proposed": "Proposed",
    "status.accepted": "Accepted by one side",
    "status.confirmed": "Confirmed",
    "status.declined": "Declined",
    "status.expired": "Expired",
    "status.released": "Released",
    "stuck.title": "Demands not yet met, oldest first",
    "stuck.count": "{n} demands",
    "stuck.since": "Posted",
    "stuck.buyer": "Buyer",
    "stuck.product": "Wants",
    "stuck.quantity": "Needs",
    "stuck.matched": "Matched",
    "stuck.open": "Missing",
    "stuck.delivery": "Deliver to",
    "stuck.reason": "Why not matched",
    "reason.price": "Offers are above the buyer's maximum price",
    "reason.region": "Suppliers do not deliver to the province",
    "reason.dates": "Cannot deliver within the window",
    "reason.lot": "Lot sizes do not fit",
    "reason.stars": "Fewer OCOP stars than required",
    "reason.certifications": "A required certification is missing",
    "reason.payment": "Deferred payment not accepted",
    "reason.vat-invoice": "No VAT invoice",
    "reason.traceability": "No traceability stamps",
    "reason.excluded": "One side excluded the other",
    "reason.history": "Fitting offers were declined or expired",
    "reason.quantity": "Fitting stock is all reserved",
    "reason.limit": "Waiting for the next matching round",
    "reason.no-offers": "No offer in this category yet",
    "reason.awaiting": "Fully proposed, awaiting both sides",
    "reason.other": "No fitting supply found",
    "reason.none": "Waiting for the matcher",
    "reason.count": "{bad}/{all} offers",
    "unit.tonne": "t",
    "lang.switch": "Tiếng Việt",
  },
};

const FEED_ROWS = 200;
const LOCALE = { vi: "vi-VN", en: "en-GB" };
let lang = chooseLanguage();

function chooseLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "vi" || asked === "en") return asked;
  try {
    const saved = localStorage.getItem("ketnoi.lang");
    if (saved === "vi" || saved === "en") return saved;
  } catch (e) { /* storage may be disabled */ }
  return "vi";
}

function t(key, values) {
  let text = (TEXT[lang] && TEXT[lang][key]) || TEXT.vi[key] || key;
  for (const [name, value] of Object.entries(values || {})) text = text.replace(`{${name}}`, value);
  return text;
}

function number(value, digits) {
  return new Intl.NumberFormat(LOCALE[lang], { maximumFractionDigits: digits ?? 0 }).format(value);
}

function kg(value) {
  if (Math.abs(value) >= 1000) return `${number(value / 1000, value >= 100000 ? 0 : 1)} ${t("unit.tonne")}`;
  return `${number(value, 1)} kg`;
}

function vnd(value) {
  if (lang === "vi") {
    if (value >= 1e9) return `${number(value / 1e9, 2)} tỷ ₫`;
    if (value >= 1e6) return `${number(value / 1e6, 1)} triệu ₫`;
    return `${number(value)} ₫`;
  }
  if (value >= 1e9) return `VND ${number(value / 1e9, 2)} bn`;
  if (value >= 1e6) return `VND ${number(value / 1e6, 1)} m`;
  return `VND ${number(value)}`;
}

function clock(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString(LOCALE[lang], { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: "Asia/Ho_Chi_Minh" });
}

function day(text) {
  // A calendar date ("2026-12-05"), shown as the locale writes it (05/12/2026).
  return new Date(`${text}T12:00:00+07:00`).toLocaleDateString(LOCALE[lang], { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "Asia/Ho_Chi_Minh" });
}

function dayTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(LOCALE[lang], { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", timeZone: "Asia/Ho_Chi_Minh" });
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function translatePage() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  const button = document.getElementById("lang");
  if (button) button.textContent = t("lang.switch");
}

function setupLanguageSwitch(onChange) {
  const button = document.getElementById("lang");
  if (!button) return;
  button.addEventListener("click", () => {
    lang = lang === "vi" ? "en" : "vi";
    try { localStorage.setItem("ketnoi.lang", lang); } catch (e) { /* ignore */ }
    translatePage();
    if (onChange) onChange();
  });
}

/* -- login page --------------------------------------------------------------------------- */

function loginPage() {
  const params = new URLSearchParams(location.search);
  const next = params.get("next");
  if (next) document.getElementById("next").value = next;
  const showError = () => {
    const error = params.get("error");
    const box = document.getElementById("login-error");
    box.hidden = !error;
    if (error) box.textContent = t(`login.error.${error === "role" ? "role" : "key"}`);
  };
  translatePage();
  showError();
  setupLanguageSwitch(showError);
}

/* -- sessions page ------------------------------------------------------------------------ */

async function sessionsPage() {
  translatePage();
  let data = { sessions: [] };
  const draw = () => {
    const body = document.querySelector("#sessions tbody");
    body.replaceChildren(...data.sessions.map((s) => el("tr", {},
      el("td", {}, el("a", { href: `/monitor/sessions/${encodeURIComponent(s.id)}` }, s.name || s.id)),
      el("td", {}, el("span", { class: `badge s-${s.status}` }, t(`session.${s.status}`))),
      el("td", {}, s.dates ? s.dates.map(day).join(" → ") : ""),
      el("td", {}, s.host_province),
      el("td", { class: "num" }, number(s.figures.confirmed)),
      el("td", { class: "num" }, kg(s.figures.confirmed_kg)),
    )));
    document.getElementById("sessions-empty").hidden = data.sessions.length > 0;
  };
  setupLanguageSwitch(draw);
  const response = await fetch("/monitor/api/sessions", { credentials: "same-origin" });
  if (response.status === 401) { location.href = "/monitor/login?next=/monitor"; return; }
  data = await response.json();
  draw();
}

/* -- session page ------------------------------------------------------------------------- */

const state = {
  session: null,
  figures: null,
  charts: null,
  matches: new Map(),   // id -> row
  demands: new Map(),   // id -> row (open ones only)
  openDemands: 0,
  fresh: new Set(),     // match ids to highlight once
  dirty: { all: true },
  stats: { updates: 0, snapshots: 0, rendered: 0, lastRenderMs: 0, maxRenderMs: 0, renderMsTotal: 0, matchesSeen: 0 },
};
window.ketnoiMonitor = state.stats;  // read by the load script and the browser test

function applyMessage(kind, payload) {
  if (kind === "snapshot") {
    state.matches.clear();
    state.demands.clear();
    state.stats.snapshots += 1;
  } else {
    state.stats.updates += 1;
  }
  state.session = payload.session;
  state.figures = payload.figures;
  state.charts = payload.charts;
  state.openDemands = payload.open_demands;
  for (const row of payload.matches) {
    if (!state.matches.has(row.id)) {
      state.stats.matchesSeen += 1;
      if (kind === "update") state.fresh.add(row.id);
    }
    state.matches.set(row.id, row);
  }
  if (state.matches.size > FEED_ROWS * 2) {
    const newest = [...state.matches.values()].sort(byTimeDesc).slice(0, FEED_ROWS);
    state.matches = new Map(newest.map((row) => [row.id, row]));
  }
  for (const row of payload.demands) {
    if (row.open) state.demands.set(row.id, row);
    else state.demands.delete(row.id);
  }
  scheduleRender();
}

function byTimeDesc(a, b) {
  return (b.at || "").localeCompare(a.at || "") || b.id.localeCompare(a.id);
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    const started = performance.now();
    render();
    state.stats.rendered += 1;
    const took = performance.now() - started;
    state.stats.lastRenderMs = took;
    state.stats.renderMsTotal += took;
    state.stats.maxRenderMs = Math.max(state.stats.maxRenderMs, took);
  });
}

function render() {
  if (!state.session) return;
  const s = state.session;
  document.getElementById("session-name").textContent = s.name || s.id;
  document.title = `Ketnoi · ${s.name || s.id}`;
  const dates = s.dates ? s.dates.map(day).join(" → ") : "";
  const p = state.figures.participants;
  const people = t("fig.participants", { buyers: number(p.buyer), suppliers: number(p.supplier) });
  const meta = [t(`session.${s.status}`), s.host_province, dates, s.venue, people].filter(Boolean).join(" · ");
  document.getElementById("session-meta").textContent = meta;
  renderFigures(state.figures);
  renderFunnel(state.figures);
  renderBars("by-origin", state.charts.by_origin);
  renderBars("by-category", state.charts.by_category);
  renderFeed();
  renderDemands();
}

function setText(id, text) {
  const node = document.getElementById(id);
  if (node.textContent !== text) node.textContent = text;
}

function renderFigures(f) {
  setText("fig-offers", number(f.offers));
  setText("fig-offered", kg(f.offered_kg));
  setText("fig-demands", number(f.demands));
  setText("fig-demanded", kg(f.demanded_kg));
  setText("fig-proposals", number(f.proposals));
  setText("fig-accepted", number(f.accepted));
  setText("fig-declined", number(f.declined));
  setText("fig-expired", number(f.expired));
  setText("fig-volume", kg(f.confirmed_kg));
  setText("fig-pending", t("fig.pending", { kg: kg(f.pending_kg) }));
  setText("fig-value", vnd(f.value_vnd));
  document.getElementById("fig-value").title = `${number(f.value_vnd)} ₫`;
  setText("fig-fill", `${number(f.fill_rate * 100, 1)}%`);
  document.getElementById("fig-fill-bar").style.width = `${Math.min(100, f.fill_rate * 100)}%`;
}

function barRow(label, parts, max, value) {
  const track = el("span", { class: "track" });
  for (const [cls, amount] of parts) {
    const width = max > 0 ? (100 * amount) / max : 0;
    const bar = el("span", { class: `bar ${cls}` });
    bar.style.width = `${width}%`;
    track.append(bar);
  }
  return el("div", { class: "bar-row" }, el("span", { class: "bar-label", title: label }, label), track,
    el("span", { class: "bar-value" }, value));
}

function renderFunnel(f) {
  const steps = [["proposed", f.proposals], ["accepted", f.accepted], ["confirmed", f.confirmed]];
  const max = Math.max(1, f.proposals);
  document.getElementById("funnel").replaceChildren(...steps.map(([name, n]) => {
    const share = f.proposals ? ` (${number((100 * n) / f.proposals, 0)}%)` : "";
    return barRow(t(`funnel.${name}`), [[`stage-${name}`, n]], max, `${number(n)}${share}`);
  }));
}

function renderBars(id, rows) {
  const box = document.getElementById(id);
  if (!rows.length) { box.replaceChildren(el("p", { class: "muted" }, t("chart.empty"))); return; }
  const top = rows.slice(0, 10);
  const max = Math.max(...top.map((r) => r.confirmed_kg + r.pending_kg), 1);
  box.replaceChildren(...top.map((r) => barRow(r.label[lang] || r.key,
    [["confirmed", r.confirmed_kg], ["pending", r.pending_kg]], max,
    kg(r.confirmed_kg + r.pending_kg))));
}

function matchCells(row) {
  const price = row.unit_price_vnd === null ? "" : `${number(row.unit_price_vnd)} ₫/${row.price_unit}`;
  const breakdown = Object.entries(row.breakdown || {}).map(([k, v]) => `${k}: ${number(v, 1)}`).join(", ");
  return [
    el("td", { class: "time" }, clock(row.at)),
    el("td", {}, row.supplier ? row.supplier.name : ""),
    el("td", {}, row.product || row.category[lang] || row.category.code),
    el("td", {}, `${row.origin || "?"} → ${row.buyer ? row.buyer.name : ""}`),
    el("td", { class: "num" }, kg(row.quantity_kg)),
    el("td", { class: "num" }, price),
    el("td", { class: "num", title: breakdown }, row.score === null ? "" : number(row.score, 0)),
    el("td", {}, el("span", { class: `badge m-${row.status}` }, t(`status.${row.status}`))),
  ];
}

function renderFeed() {
  const body = document.querySelector("#feed tbody");
  const rows = [...state.matches.values()].sort(byTimeDesc).slice(0, FEED_ROWS);
  const existing = new Map([...body.children].map((tr) => [tr.dataset.id, tr]));
  const ordered = rows.map((row) => {
    const key = `${row.status}|${row.score}|${row.quantity_kg}|${row.supplier && row.supplier.name}|${row.buyer && row.buyer.name}|${row.product}|${row.origin}|${lang}`;
    let tr = existing.get(row.id);
    if (!tr) {
      tr = el("tr", { "data-id": row.id });
      if (state.fresh.has(row.id)) tr.classList.add("fresh");
    }
    if (tr.dataset.key !== key) {
      tr.replaceChildren(...matchCells(row));
      tr.dataset.key = key;
      tr.dataset.status = row.status;
    }
    return tr;
  });
  state.fresh.clear();
  const same = ordered.length === body.children.length && ordered.every((tr, i) => body.children[i] === tr);
  if (!same) body.replaceChildren(...ordered);
  setText("feed-count", t("feed.count", { n: number(state.figures.proposals) }));
}

function reasonText(row) {
  const code = row.reason_code || "none";
  let text = t(`reason.${code}`);
  const counts = row.reason && row.reason.match(/(\d+) of (?:the )?(\d+)/);
  if (counts) text += ` (${t("reason.count", { bad: counts[1], all: counts[2] })})`;
  return text;
}

function renderDemands() {
  const rows = [...state.demands.values()].sort((a, b) => (a.posted_at || "").localeCompare(b.posted_at || ""));
  const body = document.querySelector("#demands tbody");
  body.replaceChildren(...rows.map((row) => el("tr", { "data-id": row.id },
    el("td", { class: "time" }, dayTime(row.posted_at)),
    el("td", {}, row.buyer.name),
    el("td", {}, [row.category[lang] || row.category.code, ...row.keywords].join(" · ")),
    el("td", { class: "num" }, kg(row.quantity_kg)),
    el("td", { class: "num" }, kg(row.confirmed_kg + row.pending_kg)),
    el("td", { class: "num" }, kg(row.open_kg)),
    el("td", {}, row.delivery),
    el("td", { class: `reason r-${row.reason_code || "none"}`, title: row.reason || "" }, reasonText(row)),
  )));
  setText("stuck-count", t("stuck.count", { n: number(state.openDemands) }));
}

function setLive(mode) {
  const node = document.getElementById("live");
  node.dataset.state = mode;
  node.textContent = t(`live.${mode}`);
}

function setPrintLinks(id) {
  // The report and the agenda print from the gateway, in the language shown here.
  const base = `/monitor/sessions/${encodeURIComponent(id)}`;
  document.getElementById("report-link").href = `${base}/report?format=html&lang=${lang}`;
  document.getElementById("xlsx-link").href = `${base}/report?format=xlsx&lang=${lang}`;
  document.getElementById("agenda-link").href = `${base}/agenda?lang=${lang}`;
}

function sessionPage() {
  translatePage();
  let mode = "connecting";
  setLive(mode);
  setupLanguageSwitch(() => { setLive(mode); for (const tr of document.querySelectorAll("#feed tbody tr")) delete tr.dataset.key; render(); });
  const id = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
  setPrintLinks(id);
  document.getElementById("lang").addEventListener("click", () => setPrintLinks(id));
  const source = new EventSource(`/monitor/sessions/${encodeURIComponent(id)}/events`);
  source.addEventListener("open", () => { mode = "live"; setLive(mode); });
  source.addEventListener("error", () => {
    mode = "retrying";
    setLive(mode);
    if (source.readyState === EventSource.CLOSED) {
      // The server refused (logged out, or the session is gone): go back to the login.
      setTimeout(() => location.reload(), 3000);
    }
  });
  for (const kind of ["snapshot", "update"]) {
    source.addEventListener(kind, (event) => applyMessage(kind, JSON.parse(event.data)));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "login") loginPage();
  else if (page === "sessions") sessionsPage();
  else if (page === "session") sessionPage();
});
