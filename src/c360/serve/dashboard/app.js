// c360 dashboard: reads /api/v1 with the viewer's key, so every number and value shown is what the
// viewer's role may see. No framework, no network beyond this origin; charts are plain SVG whose
// marks carry data-label / data-value (the browser test reads them). Data is only ever written
// with textContent, never as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const money = new Intl.NumberFormat("en", { style: "currency", currency: "EUR", maximumFractionDigits: 0 });
const money2 = new Intl.NumberFormat("en", { style: "currency", currency: "EUR", maximumFractionDigits: 2 });
const count = new Intl.NumberFormat("en");
const one = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });
let credential = sessionStorage.getItem("c360.key") || "";

function el(tag, attrs = {}, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

async function api(path) {
  const r = await fetch(`/api/v1/${path}`, { headers: { Authorization: `Bearer ${credential}` } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error ? `${body.error.message} (${body.error.status})` : `HTTP ${r.status}`);
  return body;
}

function say(text) {
  const m = document.getElementById("message");
  m.textContent = text;
  m.hidden = !text;
}

function kpi(id, value, format) {
  const v = document.querySelector(`#${id} .value`);
  v.dataset.value = value === null || value === undefined ? "" : String(value);
  v.textContent = value === null || value === undefined ? "–" : format(value);
}

// ---------------------------------------------------------------- charts
function frame(container, height) {
  // the drawing is as wide as its box, in pixels, so that text keeps its size on any card
  const width = Math.max(320, Math.round(container.clientWidth || 600));
  container.replaceChildren();
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  svg.w = width;
  container.append(svg);
  return svg;
}

function mark(node, label, value, shown) {
  node.setAttribute("data-label", label);
  node.setAttribute("data-value", String(value));
  node.append(el("svg:title", {}, `${label}: ${shown}`));
  return node;
}

function hbars(container, items, format) {
  // horizontal bars: one row per item, labels left
  const rowH = 22, left = 130;
  const svg = frame(container, Math.max(40, items.length * rowH + 10));
  const width = svg.w - left - 60;
  const max = Math.max(1, ...items.map((d) => d.value));
  items.forEach((d, i) => {
    const y = 5 + i * rowH;
    svg.append(el("svg:text", { x: left - 6, y: y + 14, "text-anchor": "end" }, d.label));
    const w = Math.max(1, (d.value / max) * width);
    svg.append(mark(el("svg:rect", { class: `bar ${d.cls || ""}`, x: left, y: y + 3, width: w, height: rowH - 6 }),
                    d.label, d.value, format(d.value)));
    svg.append(el("svg:text", { x: left + w + 4, y: y + 14 }, format(d.value)));
  });
}

function vbars(container, items, format) {
  // vertical bars (a histogram): labels under every few bars
  const h = 220, bottom = 30, top = 10, left = 10;
  const svg = frame(container, h);
  const width = svg.w - 2 * left;
  const max = Math.max(1, ...items.map((d) => d.value));
  const bw = width / Math.max(1, items.length);
  svg.append(el("svg:line", { class: "axis", x1: left, x2: left + width, y1: h - bottom, y2: h - bottom }));
  items.forEach((d, i) => {
    const bh = (d.value / max) * (h - bottom - top);
    svg.append(mark(el("svg:rect", { class: "bar", x: left + i * bw + 1, y: h - bottom - bh, width: bw - 2,
                                     height: Math.max(0, bh) }), d.label, d.value, format(d.value)));
    if (i % Math.ceil(items.length / 6) === 0) {
      svg.append(el("svg:text", { x: left + i * bw, y: h - bottom + 14 }, d.tick || d.label));
    }
  });
}

function line(container, points, format) {
  const h = 240, bottom = 30, top = 14, left = 70;
  const svg = frame(container, h);
  const width = svg.w - left - 30;
  if (!points.length) { container.append(el("p", { class: "empty" }, "no data")); return; }
  const vals = points.map((p) => p.value);
  const lo = Math.min(0, ...vals), hi = Math.max(1e-9, ...vals);
  const x = (i) => left + (points.length === 1 ? width / 2 : (i / (points.length - 1)) * width);
  const y = (v) => h - bottom - ((v - lo) / (hi - lo || 1)) * (h - bottom - top);
  svg.append(el("svg:line", { class: "axis", x1: left, x2: left + width, y1: y(lo), y2: y(lo) }));
  svg.append(el("svg:text", { x: left - 6, y: y(hi) + 4, "text-anchor": "end" }, format(hi)));
  svg.append(el("svg:text", { x: left - 6, y: y(lo) + 4, "text-anchor": "end" }, format(lo)));
  svg.append(el("svg:polyline", { class: "line", points: points.map((p, i) => `${x(i)},${y(p.value)}`).join(" ") }));
  points.forEach((p, i) => {
    svg.append(mark(el("svg:circle", { class: "dot", cx: x(i), cy: y(p.value), r: 3.5 }), p.label, p.value,
                    format(p.value)));
    const step = Math.ceil(points.length / 6);
    if (i % step === 0 || (i === points.length - 1 && i % step >= step / 2)) {
      svg.append(el("svg:text", { x: x(i), y: h - bottom + 16, "text-anchor": "middle" }, p.label));
    }
  });
}

function table(container, head, rows) {
  container.replaceChildren();
  const t = el("table");
  const tr = el("tr");
  head.forEach(([h, num]) => tr.append(el("th", num ? { class: "num" } : {}, h)));
  t.append(tr);
  rows.forEach((r) => {
    const row = el("tr", r.attrs || {});
    r.cells.forEach(([v, cls]) => row.append(el("td", cls ? { class: cls } : {}, v)));
    t.append(row);
  });
  container.append(t);
}

// ---------------------------------------------------------------- panels
async function panel(name, draw) {
  const c = document.querySelector(`[data-chart="${name}"]`);
  c.removeAttribute("data-ready");
  c.removeAttribute("data-error");
  try {
    await draw(c);
    c.setAttribute("data-ready", "true");
  } catch (e) {
    c.replaceChildren(el("p", { class: "empty" }, e.message));
    c.setAttribute("data-error", e.message);
  }
}

const PANELS = {
  async kpis() {
    const s = await api("metrics/summary");
    kpi("kpi-customers", s.customers, (v) => count.format(v));
    kpi("kpi-revenue", s.revenue, (v) => money.format(v));
    kpi("kpi-aov", s.avg_order_value, (v) => money2.format(v));
    kpi("kpi-clv", s.avg_predicted_clv, (v) => money.format(v));
    kpi("kpi-nps", s.nps, (v) => one.format(v));
    kpi("kpi-churn", s.high_churn_risk, (v) => count.format(v));
    document.querySelector(".kpis").setAttribute("data-ready", "true");
    await panel("sentiment", async (c) => {
      hbars(c, ["positive", "neutral", "negative", "none"].map((k) => ({ label: k, value: s.sentiment[k], cls: k })),
            (v) => count.format(v));
    });
  },
  revenue: () => panel("revenue", async (c) => {
    const r = await api("trends/revenue?grain=month");
    line(c, r.items.map((m) => ({ label: m.month.slice(0, 7), value: m.revenue })), (v) => money.format(v));
  }),
  segments: () => panel("segments", async (c) => {
    const r = await api("segments");
    hbars(c, r.map((s) => ({ label: s.segment, value: s.customers })), (v) => count.format(v));
  }),
  clv: () => panel("clv", async (c) => {
    const r = await api("clv/distribution?bins=20");
    vbars(c, r.bins.map((b) => ({ label: b.upper === null ? `≥ ${money.format(b.lower)}` :
      `${money.format(b.lower)}–${money.format(b.upper)}`, tick: money.format(b.lower), value: b.customers })),
          (v) => count.format(v));
  }),
  nps: () => panel("nps", async (c) => {
    const r = await api("reports/monthly");
    line(c, r.items.filter((m) => m.nps !== null).map((m) => ({ label: m.month.slice(0, 7), value: m.nps })),
         (v) => one.format(v));
  }),
  products: () => panel("products", async (c) => {
    const r = await api("products/top?limit=10");
    table(c, [["#"], ["product"], ["category"], ["units", true], ["revenue", true]], r.items.map((p, i) => ({
      attrs: { "data-label": p.product_id, "data-value": String(p.revenue) },
      cells: [[String(i + 1)], [p.name || p.product_id], [p.category || ""], [count.format(p.units), "num"],
              [money.format(p.revenue), "num"]],
    })));
  }),
  quality: () => panel("quality", async (c) => {
    const r = await api("quality/scorecard");
    const by = {};
    r.items.forEach((t) => { by[t.status] = (by[t.status] || 0) + 1; });
    const rows = ["PASS", "FAILED", "NOT RUN"].map((st) => ({
      attrs: { "data-label": st, "data-value": String(by[st] || 0) },
      cells: [[st, `status-${st.replace(" ", "")}`], [count.format(by[st] || 0), "num"]],
    }));
    r.items.filter((t) => t.status === "FAILED").slice(0, 8).forEach((t) => rows.push({
      attrs: { "data-failed": t.table_id },
      cells: [[`${t.table_id} ${t.score === null ? "" : one.format(100 * t.score) + " %"}`], [t.error || "", "num"]],
    }));
    table(c, [["tables"], ["count", true]], rows);
  }),
};

// ---------------------------------------------------------------- customer lookup
const PROFILE_FIELDS = ["person_id", "first_name", "last_name", "email", "phone", "city", "country", "segment",
  "total_spend", "order_count", "avg_order_value", "predicted_clv", "churn_risk", "nps_class",
  "next_best_products"];

async function lookup(by, value) {
  const out = document.getElementById("profile");
  out.replaceChildren(el("p", { class: "empty" }, "looking up…"));
  out.dataset.person = "";
  try {
    let person;
    if (by === "person_id") {
      person = (await api(`customers/${encodeURIComponent(value)}`)).customer;
    } else {
      const r = await api(`customers?${by}=${encodeURIComponent(value)}&limit=1`);
      if (!r.items.length) throw new Error(`no customer with that ${by}`);
      person = r.items[0];
    }
    const dl = el("dl", { class: "profile" });
    PROFILE_FIELDS.filter((f) => f in person).forEach((f) => {
      const v = person[f];
      const row = el("div");
      row.append(el("dt", {}, f.replaceAll("_", " ")));
      row.append(el("dd", { "data-field": f }, v === null ? "–" : typeof v === "number" && !Number.isInteger(v) ?
        one.format(v) : String(v)));
      dl.append(row);
    });
    out.replaceChildren(dl);
    out.dataset.person = person.person_id;
  } catch (e) {
    out.replaceChildren(el("p", { class: "empty", "data-error": "true" }, e.message));
  }
}

// ---------------------------------------------------------------- start
async function start() {
  if (!credential) { document.getElementById("board").hidden = true; return; }
  try {
    const me = await api("me");
    const who = document.getElementById("whoami");
    who.textContent = `role: ${me.role}`;
    who.dataset.role = me.role;
    say("");
  } catch (e) {
    say(`sign-in failed: ${e.message}`);
    return;
  }
  document.getElementById("board").hidden = false;
  await Promise.all(Object.values(PANELS).map((p) => p()));
  document.body.setAttribute("data-ready", "true");
}

document.getElementById("signin").addEventListener("submit", (ev) => {
  ev.preventDefault();
  credential = document.getElementById("key").value.trim();
  sessionStorage.setItem("c360.key", credential);
  document.body.removeAttribute("data-ready");
  start();
});
document.getElementById("lookup").addEventListener("submit", (ev) => {
  ev.preventDefault();
  lookup(document.getElementById("lookup-by").value, document.getElementById("lookup-value").value.trim());
});
start();
