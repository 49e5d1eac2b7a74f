/* okrate ratings dashboard: fetches /dashboard/data every few seconds and redraws in place.
 * Charts: Chart.js (vendored in ./vendor, MIT). Everything from the data is put in the page as
 * text (textContent), never as HTML. */
(() => {
  "use strict";

  const SCORE_COLORS = ["#d64545", "#ef7d2d", "#f2b01e", "#8cc152", "#2f9e5b"];
  const ACCENT = "#3b6fd8";
  const ACCENT_SOFT = "rgba(59, 111, 216, 0.75)";
  const AMBER = "#d98b0b";
  const BAD = "#d64545";
  const GRID = "rgba(27, 36, 48, 0.07)";
  const FREE_TEXT = "free_text"; // a reason in the client's own words (streams.stats.facts)

  const state = { charts: {}, data: null, etag: null, updates: 0, errors: 0, timer: null };
  window.okrateDashboard = state; // for tests and the curious

  const $ = (id) => document.getElementById(id);

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = "#6b7787";
  Chart.defaults.animation = false; // a live page: redraw at once, never half-drawn
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.plugins.legend.labels.boxWidth = 12;

  // -- formatting ----------------------------------------------------------------------------

  const num = (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US"));
  const avg = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2));
  const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`);

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    const m = Math.round(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(s / 3600);
    if (h < 48) {
      const rest = Math.round((s - h * 3600) / 60);
      return rest ? `${h} h ${rest} min` : `${h} h`;
    }
    const d = Math.floor(s / 86400);
    const hours = Math.round((s - d * 86400) / 3600);
    return hours ? `${d} d ${hours} h` : `${d} d`;
  }

  const dayLabel = (key) =>
    new Date(`${key}T00:00:00Z`).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
  const weekLabel = (key) => key.replace(/^(\d{4})-W(\d{2})$/, "W$2 ’$1").replace(/’\d\d(\d\d)$/, "’$1");

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }

  function entityLabel(item) {
    const name = item.name || `#${item.id}`;
    return `${name.length > 28 ? `${name.slice(0, 27)}…` : name} · ${item.ratings_count}`;
  }

  const averageColor = (v) => (v === null ? "#c5ccd6" : v < 3 ? BAD : v < 4 ? AMBER : "#2f9e5b");

  // -- charts --------------------------------------------------------------------------------

  function draw(id, config, hasData) {
    const canvas = $(id);
    canvas.parentElement.classList.toggle("empty", !hasData);
    const existing = state.charts[id];
    if (existing) {
      existing.data = config.data;
      existing.options = config.options;
      existing.update("none");
    } else {
      state.charts[id] = new Chart(canvas, config);
    }
  }

  const linearY = (extra = {}) => ({ beginAtZero: true, grid: { color: GRID }, ticks: { precision: 0 }, ...extra });
  const noGridX = { grid: { display: false } };

  function countAndAverage(series, labelOf) {
    return {
      type: "bar",
      data: {
        labels: series.labels.map(labelOf),
        datasets: [
          { type: "bar", label: "Ratings", data: series.ratings_count, backgroundColor: ACCENT_SOFT,
            borderRadius: 3, yAxisID: "y", order: 2 },
          { type: "line", label: "Average score", data: series.ratings_average, borderColor: AMBER,
            backgroundColor: AMBER, pointRadius: 3, cubicInterpolationMode: "monotone", spanGaps: true, yAxisID: "y2", order: 1 },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "top", align: "end" },
          tooltip: { callbacks: { title: (items) => series.labels[items[0].dataIndex] } } },
        scales: {
          x: { ...noGridX, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 8 } },
          y: linearY({ title: { display: true, text: "ratings" } }),
          y2: { position: "right", min: 1, max: 5, grid: { display: false }, ticks: { stepSize: 1 },
            title: { display: true, text: "average" } },
        },
      },
    };
  }

  function entityChart(block) {
    const items = block.items;
    return {
      type: "bar",
      data: {
        labels: items.map(entityLabel),
        datasets: [{ label: "Average score", data: items.map((i) => i.ratings_average),
          backgroundColor: items.map((i) => averageColor(i.ratings_average)), borderRadius: 3, maxBarThickness: 22 }],
      },
      options: {
        indexAxis: "y",
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: {
            title: (ctx) => items[ctx[0].dataIndex].name || `#${items[ctx[0].dataIndex].id}`,
            label: (ctx) => {
              const i = items[ctx.dataIndex];
              return [`average ${avg(i.ratings_average)} of ${i.ratings_count} ratings`,
                `low (≤ 2): ${i.low_count}`, `requests sent: ${i.requests_sent}`,
                `response rate: ${pct(i.response_rate)}`];
            } } },
        },
        scales: { x: { min: 0, max: 5, grid: { color: GRID }, ticks: { stepSize: 1 } }, y: noGridX },
      },
    };
  }

  function horizontalCounts(labels, datasets) {
    return {
      type: "bar",
      data: { labels, datasets },
      options: {
        indexAxis: "y",
        plugins: { legend: { display: datasets.length > 1, position: "top", align: "end" } },
        scales: { x: linearY(), y: noGridX },
      },
    };
  }

  function render(data) {
    // key figures
    const t = data.totals;
    $("kpi-ratings").textContent = num(t.ratings_count);
    $("kpi-ratings-sub").textContent = t.portal_rate_counts && Object.keys(t.portal_rate_counts).length
      ? `+ ${num(Object.values(t.portal_rate_counts).reduce((a, b) => a + b, 0))} in the portal` : "";
    $("kpi-average").textContent = avg(t.ratings_average);
    const star = document.createElement("span");
    star.className = "star";
    star.textContent = "★";
    if (t.ratings_average !== null) $("kpi-average").append(star);
    $("kpi-low").textContent = num(t.low_count);
    $("kpi-low-sub").textContent = t.ratings_count ? `${pct(t.low_count / t.ratings_count)} of ratings` : "";
    $("kpi-response").textContent = pct(t.response_rate);
    $("kpi-response-sub").textContent = t.requests_delivered !== undefined
      ? `${num(t.ratings_count)} of ${num(t.requests_delivered)} delivered` : "";
    $("kpi-sent").textContent = num(t.requests_sent);
    $("kpi-sent-sub").textContent = t.requests_sent !== undefined
      ? `${num(t.requests_undeliverable)} undeliverable · ${num(t.requests_expired)} expired` : "";
    const res = data.resolution_time;
    $("kpi-resolution").textContent = duration(res.p50_seconds);
    $("kpi-resolution-sub").textContent = res.count ? `median · p90 ${duration(res.p90_seconds)}` : "";
    const rea = data.reaction_time;
    $("kpi-reaction").textContent = duration(rea.p50_seconds);
    $("kpi-reaction-sub").textContent = rea.count ? `median · p90 ${duration(rea.p90_seconds)}` : "";

    // charts
    const scores = data.scores;
    draw("chart-scores", {
      type: "bar",
      data: { labels: scores.labels.map((s) => `${s} ★`),
        datasets: [{ label: "Ratings", data: scores.counts, backgroundColor: SCORE_COLORS, borderRadius: 4 }] },
      options: { plugins: { legend: { display: false } }, scales: { x: noGridX, y: linearY() } },
    }, scores.counts.some((c) => c > 0));

    draw("chart-days", countAndAverage(data.days, dayLabel), data.days.labels.length > 0);
    draw("chart-weeks", countAndAverage(data.weeks, weekLabel), data.weeks.labels.length > 0);

    draw("chart-response", {
      type: "line",
      data: { labels: data.weeks.labels.map(weekLabel),
        datasets: [{ label: "Response rate", data: data.weeks.response_rate, borderColor: ACCENT,
          backgroundColor: "rgba(59, 111, 216, 0.12)", fill: true, pointRadius: 3, cubicInterpolationMode: "monotone", spanGaps: true }] },
      options: {
        plugins: { legend: { display: false },
          tooltip: { callbacks: { label: (ctx) => `response rate ${pct(ctx.parsed.y)}` } } },
        scales: { x: noGridX, y: { min: 0, suggestedMax: 1, grid: { color: GRID },
          ticks: { callback: (v) => `${Math.round(v * 100)}%` } } },
      },
    }, data.weeks.response_rate.some((v) => v !== null));

    draw("chart-assignees", entityChart(data.assignees), data.assignees.items.length > 0);
    draw("chart-groups", entityChart(data.groups), data.groups.items.length > 0);
    draw("chart-companies", entityChart(data.companies), data.companies.items.length > 0);

    $("resolution-hint").textContent = res.count
      ? `created → resolved, ${num(res.count)} issues · median ${duration(res.p50_seconds)} · p90 ${duration(res.p90_seconds)}`
      : "created → resolved";
    draw("chart-resolution", {
      type: "bar",
      data: { labels: res.buckets.map((b) => b.label),
        datasets: [{ label: "Issues", data: res.buckets.map((b) => b.count), backgroundColor: ACCENT_SOFT,
          borderRadius: 3, categoryPercentage: 0.95, barPercentage: 0.95 }] },
      options: { plugins: { legend: { display: false } },
        scales: { x: { ...noGridX, ticks: { maxRotation: 0, autoSkip: true } }, y: linearY() } },
    }, res.buckets.length > 0);

    const types = data.types;
    draw("chart-types", horizontalCounts(
      types.labels.map((code, i) => types.names[i] || code),
      [{ label: "Issues", data: types.issues, backgroundColor: ACCENT_SOFT, borderRadius: 3, maxBarThickness: 18 },
        { label: "Low ratings", data: types.low_ratings, backgroundColor: BAD, borderRadius: 3, maxBarThickness: 18 }],
    ), types.labels.length > 0);

    const reasons = data.reasons;
    draw("chart-reasons", horizontalCounts(
      reasons.labels.map((r) => (r === FREE_TEXT ? "(own words)" : r)),
      [{ label: "Times chosen", data: reasons.counts, backgroundColor: AMBER, borderRadius: 3, maxBarThickness: 22 }],
    ), reasons.labels.length > 0);

    renderLow(data.low_ratings);
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (text instanceof Node) td.append(text);
    else td.textContent = text ?? "";
    row.append(td);
    return td;
  }

  function renderLow(low) {
    const body = $("low-rows");
    const rows = [];
    for (const item of low.items) {
      const tr = document.createElement("tr");
      tr.dataset.issueId = item.issue_id;
      const badge = document.createElement("span");
      badge.className = `score s${item.score}`;
      badge.textContent = `${item.score} ★`;
      cell(tr, badge);
      let issue;
      if (item.url && /^https?:\/\//i.test(item.url)) {
        issue = document.createElement("a");
        issue.href = item.url;
        issue.target = "_blank";
        issue.rel = "noopener noreferrer";
        issue.textContent = `#${item.issue_id}`;
      } else {
        issue = document.createTextNode(`#${item.issue_id}`);
      }
      cell(tr, issue, "issue");
      cell(tr, item.title || "", "title");
      cell(tr, item.company_name || (item.company_id ? `#${item.company_id}` : ""));
      cell(tr, item.assignee_name || (item.assignee_id ? `#${item.assignee_id}` : ""));
      cell(tr, item.type_name || item.type_code || "");
      const reasons = document.createElement("span");
      for (const r of item.reasons) {
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = r === FREE_TEXT ? "(own words)" : r;
        reasons.append(tag);
      }
      cell(tr, reasons);
      cell(tr, when(item.rated_at), "when");
      rows.push(tr);
    }
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell(tr, low.complete ? "No low ratings." : "Reading the ratings…");
      td.colSpan = 8;
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    $("low-hint").textContent = `score ≤ 2, newest first${low.complete ? "" : " · still reading…"}`;
  }

  // -- refresh -------------------------------------------------------------------------------

  function setStatus(kind, text) {
    $("status").dataset.state = kind;
    $("status-text").textContent = text;
  }

  async function refresh() {
    let delay = state.data ? state.data.refresh_seconds * 1000 : 5000;
    try {
      const headers = state.etag ? { "If-None-Match": state.etag } : {};
      const resp = await fetch("/dashboard/data", { headers, cache: "no-store", credentials: "same-origin" });
      if (resp.status === 401) {
        window.location.assign(`/dashboard/login?next=${encodeURIComponent("/dashboard")}`);
        return;
      }
      if (resp.status !== 304) {
        if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
        const data = await resp.json();
        state.etag = resp.headers.get("ETag");
        state.data = data;
        render(data);
        state.updates += 1;
        delay = data.refresh_seconds * 1000;
      }
      const asOf = state.data && state.data.updated_at ? ` · figures as of ${when(state.data.updated_at)}` : "";
      setStatus("live", `Live · checked ${new Date().toLocaleTimeString("en-GB")}${asOf}`);
    } catch (err) {
      state.errors += 1;
      setStatus("error", `Cannot reach the worker (${err.message}) · retrying`);
    }
    state.timer = setTimeout(refresh, delay);
  }

  $("logout-form").hidden = document.body.dataset.protected !== "true";
  refresh();
})();
