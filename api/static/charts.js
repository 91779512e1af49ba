// Score charts as inline SVG (no chart library, nothing from a CDN).

import { fmtScore, fmtTime, s } from "./dom.js";

/** Split points into runs without gaps (a null score breaks the line). */
function runs(points, x, y) {
  const out = [];
  let current = [];
  points.forEach((p, i) => {
    if (p.score === null || p.score === undefined) {
      if (current.length) out.push(current);
      current = [];
    } else {
      current.push([x(p, i), y(p.score)]);
    }
  });
  if (current.length) out.push(current);
  return out;
}

const line = (run) => run.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("");

function area(run, baseY) {
  if (run.length < 2) return "";
  const first = run[0];
  const last = run[run.length - 1];
  return `${line(run)}L${last[0].toFixed(1)},${baseY}L${first[0].toFixed(1)},${baseY}Z`;
}

/** A small chart of a camera's latest scores, with its threshold as a dashed line. */
export function sparkline(points, threshold, { width = 260, height = 48 } = {}) {
  const scored = points.filter((p) => p.score !== null && p.score !== undefined);
  const latest = scored.length ? scored[scored.length - 1].score : null;
  const peak = scored.length ? Math.max(...scored.map((p) => p.score)) : null;
  const label = scored.length
    ? `Last ${points.length} frame scores: latest ${fmtScore(latest)}, highest ${fmtScore(peak)}, threshold ${fmtScore(threshold)}`
    : "No frame scores yet";
  const pad = 3;
  const n = Math.max(points.length - 1, 1);
  const x = (_p, i) => pad + (i / n) * (width - 2 * pad);
  const y = (v) => pad + (1 - Math.min(Math.max(v, 0), 1)) * (height - 2 * pad);
  const svg = s("svg", {
    class: "sparkline",
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": label,
  });
  svg.append(s("title", {}, label));
  if (threshold !== null && threshold !== undefined) {
    svg.append(
      s("line", {
        x1: 0, x2: width, y1: y(threshold), y2: y(threshold),
        stroke: "#a11a10", "stroke-width": 1, "stroke-dasharray": "4 3",
        "vector-effect": "non-scaling-stroke",
      }),
    );
  }
  for (const run of runs(points, x, y)) {
    if (run.length > 1) {
      svg.append(s("path", { d: area(run, height - pad), fill: "rgba(194, 65, 12, 0.12)" }));
    }
    svg.append(
      s("path", {
        d: run.length > 1 ? line(run) : `M${run[0][0]},${run[0][1]}h1`,
        fill: "none", stroke: "#c2410c", "stroke-width": 1.6, "stroke-linejoin": "round",
        "vector-effect": "non-scaling-stroke",
      }),
    );
  }
  return svg;
}

function timeTicks(t0, t1, count) {
  if (t1 <= t0) return [t0];
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]
    .map((sec) => sec * 1000);
  const step = steps.find((st) => (t1 - t0) / st <= count) ?? steps[steps.length - 1];
  const ticks = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t);
  return ticks;
}

/**
 * The incident's score over time: score line and area, threshold, peak marker, axes.
 * `curve` is [{t, score, offset}] from GET /incidents/{id}.
 */
export function scorePlot(curve, { threshold, peakAt, peakScore, width = 860, height = 300 } = {}) {
  const m = { left: 52, right: 20, top: 18, bottom: 42 };
  const innerW = width - m.left - m.right;
  const innerH = height - m.top - m.bottom;
  const times = curve.map((p) => new Date(p.t).getTime());
  const t0 = times.length ? Math.min(...times) : 0;
  const t1 = times.length ? Math.max(...times) : 1;
  const span = Math.max(t1 - t0, 1);
  const x = (p) => m.left + ((new Date(p.t).getTime() - t0) / span) * innerW;
  const xt = (t) => m.left + ((t - t0) / span) * innerW;
  const y = (v) => m.top + (1 - Math.min(Math.max(v, 0), 1)) * innerH;

  const scored = curve.filter((p) => p.score !== null && p.score !== undefined);
  const summary = scored.length
    ? `Anomaly score of ${curve.length} frames from ${fmtTime(curve[0].t)} to ${fmtTime(curve[curve.length - 1].t)}; ` +
      `peak ${fmtScore(peakScore)} at ${fmtTime(peakAt)}; threshold ${fmtScore(threshold)}.`
    : "No frame scores recorded for this incident.";
  const svg = s("svg", {
    class: "plot",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": "plot-title plot-desc",
    "data-points": curve.length,
  });
  svg.append(s("title", { id: "plot-title" }, "Score over time"));
  svg.append(s("desc", { id: "plot-desc" }, summary));

  const axes = s("g", { "font-size": 12, fill: "#4a5563" });
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    axes.append(
      s("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v), stroke: "#e3e7ec" }),
      s("text", { x: m.left - 8, y: y(v) + 4, "text-anchor": "end" }, v.toFixed(2)),
    );
  }
  const showDate = t1 - t0 > 20 * 3600 * 1000;
  for (const t of timeTicks(t0, t1, 7)) {
    axes.append(
      s("line", { x1: xt(t), x2: xt(t), y1: m.top + innerH, y2: m.top + innerH + 5, stroke: "#8a96a5" }),
      s("text", { x: xt(t), y: m.top + innerH + 20, "text-anchor": "middle" },
        fmtTime(new Date(t).toISOString(), { date: showDate })),
    );
  }
  axes.append(
    s("line", { x1: m.left, x2: width - m.right, y1: m.top + innerH, y2: m.top + innerH, stroke: "#8a96a5" }),
    s("text", { x: m.left + innerW / 2, y: height - 4, "text-anchor": "middle" }, "Time (local)"),
    s("text", { x: 14, y: m.top + innerH / 2, "text-anchor": "middle",
      transform: `rotate(-90 14 ${m.top + innerH / 2})` }, "Score"),
  );
  svg.append(axes);

  for (const run of runs(curve, x, y)) {
    if (run.length > 1) {
      svg.append(s("path", { d: area(run, m.top + innerH), fill: "rgba(194, 65, 12, 0.13)" }));
    }
    svg.append(
      s("path", {
        class: "score-line",
        d: run.length > 1 ? line(run) : `M${run[0][0]},${run[0][1]}h1`,
        fill: "none", stroke: "#c2410c", "stroke-width": 2.2, "stroke-linejoin": "round",
      }),
    );
  }
  if (threshold !== null && threshold !== undefined) {
    svg.append(
      s("line", {
        x1: m.left, x2: width - m.right, y1: y(threshold), y2: y(threshold),
        stroke: "#a11a10", "stroke-width": 1.5, "stroke-dasharray": "6 4",
      }),
      s("text", { x: width - m.right - 4, y: y(threshold) - 6, "text-anchor": "end",
        "font-size": 12, fill: "#a11a10" }, `threshold ${fmtScore(threshold)}`),
    );
  }
  if (peakAt && peakScore !== null && peakScore !== undefined && times.length) {
    const pt = new Date(peakAt).getTime();
    if (pt >= t0 && pt <= t1) {
      const px = xt(pt);
      const py = y(peakScore);
      svg.append(
        s("circle", { cx: px, cy: py, r: 5, fill: "#fff", stroke: "#14213d", "stroke-width": 2 }),
        s("text", { x: Math.min(px + 8, width - m.right - 70), y: Math.max(py - 8, m.top + 10),
          "font-size": 12, "font-weight": 700, fill: "#14213d" }, `peak ${fmtScore(peakScore)}`),
      );
    }
  }
  if (!scored.length) {
    svg.append(s("text", { x: m.left + innerW / 2, y: m.top + innerH / 2, "text-anchor": "middle",
      fill: "#4a5563" }, "No scores"));
  }
  return svg;
}
