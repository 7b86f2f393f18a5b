// neuralab playground page: controls -> JSON requests, server-sent frames -> canvases.
// Everything is computed by the server (neuralab's engine); this file only draws.
"use strict";

const $ = (id) => document.getElementById(id);
const NEG = [245, 147, 34];   // orange: class 0 / negative weights
const POS = [8, 119, 189];    // blue: class 1 / positive weights
const MID = [232, 234, 237];
const CLASS_COLOURS = [[245, 147, 34], [8, 119, 189], [46, 160, 67], [156, 39, 176]];

const state = { options: null, settings: null, frame: null, points: null, dataVersion: -1,
                selected: null };

// -- talking to the server ------------------------------------------------------------------
async function api(path, body, raw) {
  const init = body === undefined ? { method: "GET" }
    : { method: "POST", body: raw ? body : JSON.stringify(body),
        headers: { "Content-Type": raw ? "text/plain" : "application/json" } };
  const response = await fetch(path, init);
  const value = await response.json();
  if (!response.ok) { showMessage(value.error || `request failed (${response.status})`); throw new Error(value.error); }
  showMessage(null);
  return value;
}

function showMessage(text) {
  const box = $("message");
  box.hidden = !text;
  box.textContent = text || "";
}

// -- controls -------------------------------------------------------------------------------
function fillSelect(id, names) {
  $(id).innerHTML = names.map((n) => `<option value="${n}">${n}</option>`).join("");
}

function buildControls(options) {
  fillSelect("dataset", options.datasets);
  fillSelect("activation", options.activations);
  fillSelect("optimizer", options.optimizers);
  $("features").innerHTML = options.features.map((f) =>
    `<label><input type="checkbox" value="${f}"> ${f}</label>`).join("");
  for (const id of ["dataset", "samples", "seed", "activation", "loss", "optimizer",
                    "learning_rate", "batch_size", "l1", "l2", "noise", "train_ratio"]) {
    $(id).addEventListener("change", () => changeSetting(id));
  }
  for (const id of ["noise", "train_ratio"]) {
    $(id).addEventListener("input", () => { $(`${id}-value`).textContent = $(id).value; });
  }
  $("features").addEventListener("change", () => {
    const chosen = [...$("features").querySelectorAll("input:checked")].map((c) => c.value);
    reset({ features: chosen });
  });
  $("add-layer").addEventListener("click", () => reset({ hidden: [...state.settings.hidden, 2] }));
  $("remove-layer").addEventListener("click", () => reset({ hidden: state.settings.hidden.slice(0, -1) }));
  $("play").addEventListener("click", () => api(state.frame && state.frame.running ? "/api/pause" : "/api/play", {}));
  $("step").addEventListener("click", () => api("/api/step", { epochs: 1 }));
  $("reset").addEventListener("click", () => reset({}));
  $("show-test").addEventListener("change", drawRegion);
  $("region").addEventListener("click", clickRegion);
  $("import").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const reply = await api("/api/import", await file.text(), true);
    applySettings(reply.settings);
    event.target.value = "";
  });
}

function changeSetting(id) {
  const element = $(id);
  let value = element.value;
  if (element.type === "number" || element.type === "range") {
    value = Number(element.value);
    if (element.value.trim() === "" || Number.isNaN(value)) { showMessage(`${id}: expected a number`); return; }
  }
  reset({ [id]: value });
}

async function reset(changes) {
  try {
    const reply = await api("/api/reset", changes);
    state.selected = null;
    applySettings(reply.settings);
  } catch (error) {
    applySettings(state.settings);  // show what the server still uses
  }
}

function applySettings(settings) {
  if (!settings) return;
  state.settings = settings;
  for (const key of ["dataset", "samples", "seed", "activation", "optimizer", "learning_rate",
                     "batch_size", "l1", "l2", "noise", "train_ratio"]) {
    $(key).value = settings[key];
  }
  $("noise-value").textContent = settings.noise;
  $("train_ratio-value").textContent = settings.train_ratio;
  $("noise").disabled = settings.dataset === "disc";
  fillSelect("loss", state.options.losses[state.options.tasks[settings.dataset]]);
  $("loss").value = settings.loss;
  for (const box of $("features").querySelectorAll("input")) {
    box.checked = settings.features.includes(box.value);
    box.disabled = settings.dataset === "sine" && box.value.includes("x2");
  }
  $("layer-count").textContent = `${settings.hidden.length} hidden layer(s)`;
  $("units-bar").innerHTML = settings.hidden.map((units, i) =>
    `<span class="units"><button data-layer="${i}" data-delta="-1">&minus;</button>` +
    `${units}<button data-layer="${i}" data-delta="1">+</button></span>`).join("");
  for (const button of $("units-bar").querySelectorAll("button")) {
    button.addEventListener("click", () => {
      const hidden = [...state.settings.hidden];
      hidden[Number(button.dataset.layer)] += Number(button.dataset.delta);
      reset({ hidden });
    });
  }
}

// -- drawing helpers ------------------------------------------------------------------------
function decode(base64) {
  const text = atob(base64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function mix(a, b, t) { return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)); }
function diverging(t) { return t < 0.5 ? mix(NEG, MID, t * 2) : mix(MID, POS, (t - 0.5) * 2); }
function rgb(c, alpha) { return alpha === undefined ? `rgb(${c})` : `rgba(${c},${alpha})`; }

function heatImage(ctx, bytes, size, colour) {
  const image = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const c = colour(i, bytes[i] / 255);
    image.data.set([c[0], c[1], c[2], 255], i * 4);
  }
  const tile = document.createElement("canvas");
  tile.width = tile.height = size;
  tile.getContext("2d").putImageData(image, 0, 0);
  return tile;
}

function toPixel(point, bounds, w, h) {
  return [(point[0] - bounds[0]) / (bounds[1] - bounds[0]) * w,
          (bounds[3] - point[1]) / (bounds[3] - bounds[2]) * h];
}

function drawCurve(ctx, values, low, high, x, y, w, h, colour, width) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = width || 1.5;
  ctx.beginPath();
  values.forEach((v, i) => {
    const px = x + i / (values.length - 1) * w;
    const py = y + h - (v - low) / ((high - low) || 1) * h;
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  });
  ctx.stroke();
}

// -- the output square ----------------------------------------------------------------------
function samplePoint(split, i) {
  const p = state.points[split];
  return state.frame.task === "regression" ? [p.x[i][0], p.y[i]] : p.x[i];
}

function drawRegion() {
  const frame = state.frame;
  if (!frame || !state.points) return;
  const canvas = $("region");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, bounds = frame.bounds;
  ctx.clearRect(0, 0, w, h);
  ctx.imageSmoothingEnabled = true;
  if (frame.output.curve) {
    const ys = frame.output.curve.map((v) => h - (v - bounds[2]) / (bounds[3] - bounds[2]) * h);
    ctx.strokeStyle = rgb(POS);
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    ys.forEach((py, i) => { const px = i / (ys.length - 1) * w; if (i) ctx.lineTo(px, py); else ctx.moveTo(px, py); });
    ctx.stroke();
  } else if (frame.output.map) {
    ctx.drawImage(heatImage(ctx, decode(frame.output.map), frame.output.size,
                            (i, t) => diverging(t)), 0, 0, w, h);
  } else {
    const classes = decode(frame.output.classes), confidence = decode(frame.output.confidence);
    ctx.drawImage(heatImage(ctx, classes, frame.output.size, (i) =>
      mix(MID, CLASS_COLOURS[classes[i] % CLASS_COLOURS.length], 0.1 + 0.45 * confidence[i] / 255)), 0, 0, w, h);
  }
  const splits = $("show-test").checked ? ["train", "test"] : ["train"];
  for (const split of splits) {
    const points = state.points[split];
    for (let i = 0; i < points.x.length; i++) {
      const [px, py] = toPixel(samplePoint(split, i), bounds, w, h);
      const label = points.y[i];
      const fill = frame.task === "regression" ? [90, 90, 90]
        : frame.task === "binary" ? (label > 0.5 ? POS : NEG) : CLASS_COLOURS[label % CLASS_COLOURS.length];
      ctx.beginPath();
      ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = rgb(fill);
      ctx.fill();
      ctx.lineWidth = 1;
      ctx.strokeStyle = split === "test" ? "#000" : "#fff";
      ctx.stroke();
    }
  }
  if (state.selected) {
    const [px, py] = toPixel(samplePoint(state.selected.split, state.selected.index), bounds, w, h);
    ctx.beginPath();
    ctx.arc(px, py, 7, 0, 2 * Math.PI);
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#d50000";
    ctx.stroke();
  }
}

async function clickRegion(event) {
  if (!state.points || !state.frame) return;
  const canvas = $("region");
  const rect = canvas.getBoundingClientRect();
  const cx = (event.clientX - rect.left) * canvas.width / rect.width;
  const cy = (event.clientY - rect.top) * canvas.height / rect.height;
  let best = null;
  for (const split of $("show-test").checked ? ["train", "test"] : ["train"]) {
    state.points[split].x.forEach((_, i) => {
      const [px, py] = toPixel(samplePoint(split, i), state.frame.bounds, canvas.width, canvas.height);
      const d = (px - cx) ** 2 + (py - cy) ** 2;
      if (!best || d < best.d) best = { split, index: i, d };
    });
  }
  if (!best || best.d > 144) { showMessage("no sample there: click on a point"); return; }
  state.selected = { split: best.split, index: best.index };
  drawRegion();
  await showSample();
}

// -- the network diagram --------------------------------------------------------------------
function drawNetwork() {
  const frame = state.frame;
  const canvas = $("network");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const sizes = [frame.settings.features.length, ...frame.units.map((l) => l.length),
                 frame.weights[frame.weights.length - 1].bias.length];
  const tile = Math.max(14, Math.min(56, (h - 20) / Math.max(...sizes) - 8));
  const columns = sizes.length;
  const position = (layer, unit) => {
    const x = 56 + layer * (w - 120 - tile) / Math.max(columns - 1, 1);
    const gap = Math.min(tile + 10, (h - 20) / sizes[layer]);
    const y = h / 2 - (sizes[layer] * gap) / 2 + unit * gap + (gap - tile) / 2;
    return [x, y];
  };
  // edges first, under the tiles
  frame.weights.forEach((layer, l) => {
    const largest = Math.max(1e-6, ...layer.kernel.flat().map(Math.abs));
    layer.kernel.forEach((row, i) => row.forEach((weight, j) => {
      const [x0, y0] = position(l, i), [x1, y1] = position(l + 1, j);
      ctx.strokeStyle = rgb(weight >= 0 ? POS : NEG, 0.85);
      ctx.lineWidth = 0.4 + 5 * Math.abs(weight) / largest;
      ctx.beginPath();
      ctx.moveTo(x0 + tile, y0 + tile / 2);
      ctx.bezierCurveTo(x0 + tile + 30, y0 + tile / 2, x1 - 30, y1 + tile / 2, x1, y1 + tile / 2);
      ctx.stroke();
    }));
  });
  ctx.font = "11px system-ui";
  ctx.textAlign = "center";
  ctx.fillStyle = "#37474f";
  frame.settings.features.forEach((name, i) => {
    const [x, y] = position(0, i);
    ctx.drawImage(featureTile(ctx, name, frame), x, y, tile, tile);
    ctx.strokeStyle = "#90a4ae";
    ctx.lineWidth = 1;
    ctx.strokeRect(x, y, tile, tile);
    ctx.fillStyle = "#37474f";
    ctx.textAlign = "right";
    ctx.fillText(name, x - 4, y + tile / 2 + 4);
    ctx.textAlign = "center";
  });
  frame.units.forEach((layer, l) => layer.forEach((unit, j) => {
    const [x, y] = position(l + 1, j);
    if (unit.map) {
      const size = Math.round(Math.sqrt(decode(unit.map).length));
      ctx.drawImage(heatImage(ctx, decode(unit.map), size, (i, t) => diverging(t)), x, y, tile, tile);
    } else {
      ctx.fillStyle = "#fafafa";
      ctx.fillRect(x, y, tile, tile);
      drawCurve(ctx, unit.curve, unit.min, unit.max, x + 2, y + 2, tile - 4, tile - 4, rgb(POS));
    }
    ctx.strokeStyle = "#546e7a";
    ctx.lineWidth = 1;
    ctx.strokeRect(x, y, tile, tile);
  }));
  const outputs = sizes[columns - 1];
  for (let j = 0; j < outputs; j++) {
    const [x, y] = position(columns - 1, j);
    if (outputs === 1) {
      ctx.drawImage($("region"), x, y, tile, tile);  // the output is the decision region
    } else {
      ctx.fillStyle = rgb(CLASS_COLOURS[j % CLASS_COLOURS.length], 0.35);
      ctx.fillRect(x, y, tile, tile);
    }
    ctx.strokeStyle = "#37474f";
    ctx.lineWidth = 1;
    ctx.strokeRect(x, y, tile, tile);
    ctx.fillStyle = "#37474f";
    ctx.textAlign = "left";
    ctx.fillText(outputs > 1 ? `class ${j}` : "ŷ", x + tile + 4, y + tile / 2 + 4);
    ctx.textAlign = "center";
  }
}

// an input feature over the square, from the same bounds the server uses
const FEATURE_FUNCTIONS = {
  "x1": (a) => a, "x2": (a, b) => b, "x1^2": (a) => a * a, "x2^2": (a, b) => b * b,
  "x1*x2": (a, b) => a * b, "sin(x1)": (a) => Math.sin(a), "sin(x2)": (a, b) => Math.sin(b),
};

function featureTile(ctx, name, frame) {
  const size = 24, [x0, x1, y0, y1] = frame.bounds, f = FEATURE_FUNCTIONS[name];
  const values = [];
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const a = x0 + (x1 - x0) * c / (size - 1), b = y1 - (y1 - y0) * r / (size - 1);
      values.push(frame.task === "regression" ? f(a, 0) : f(a, b));
    }
  }
  const low = Math.min(...values), high = Math.max(...values);
  const bytes = values.map((v) => Math.round((v - low) / ((high - low) || 1) * 255));
  return heatImage(ctx, bytes, size, (i, t) => diverging(t));
}

// -- curves ---------------------------------------------------------------------------------
function drawCurves() {
  const history = state.frame.history;
  const canvas = $("curves");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const finite = (values) => values.filter((v) => v !== null);
  const losses = finite([...history.loss, ...history.test_loss]);
  if (history.epoch.length < 2 || !losses.length) return;
  const high = Math.max(...losses), low = Math.min(0, ...losses);
  const series = [[history.loss, "#37474f", []], [history.test_loss, "#ef6c00", []]];
  if (history.accuracy) series.push([history.accuracy, "#37474f", [4, 3]], [history.test_accuracy, "#ef6c00", [4, 3]]);
  series.forEach(([values, colour, dash], k) => {
    ctx.setLineDash(dash);
    const [lo, hi] = k < 2 ? [low, high] : [0, 1];
    drawCurve(ctx, values.map((v) => (v === null ? hi : v)), lo, hi, 4, 6, w - 8, h - 20, colour);
  });
  ctx.setLineDash([]);
  ctx.fillStyle = "#607d8b";
  ctx.font = "11px system-ui";
  ctx.fillText(`epochs 0-${history.epoch[history.epoch.length - 1]}, loss axis 0-${high.toPrecision(3)}`, 6, h - 3);
}

// -- the teaching panel ---------------------------------------------------------------------
const fmt = (v) => (v === null || v === undefined ? "-" : Number(v).toPrecision(4));

function table(caption, head, rows) {
  return `<table><caption>${caption}</caption><tr>${head.map((c) => `<th>${c}</th>`).join("")}</tr>` +
    rows.map((r) => `<tr>${r.map((c, i) => (i ? `<td>${fmt(c)}</td>` : `<th>${c}</th>`)).join("")}</tr>`).join("") +
    "</table>";
}

async function showSample() {
  if (!state.selected) return;
  const s = await api("/api/sample", state.selected);
  const parts = [`<div class="summary"><b>${s.split} sample ${s.index}</b> point (${s.point.map(fmt).join(", ")}),
    epoch ${s.epoch}; loss <b>${s.loss}</b> E = <b id="sample-error">${fmt(s.error)}</b>
    output ŷ = <b>${s.output.map(fmt).join(", ")}</b> target y = <b>${s.target.map(fmt).join(", ")}</b>
    ∂E/∂ŷ = <b id="sample-dE-dy">${s.dE_dy.map(fmt).join(", ")}</b></div>`];
  if (s.loss.includes("categorical")) {
    parts.push(`<p class="hint">As in Keras, the categorical cross-entropy first divides ŷ by its
      sum, so ∂E/∂ŷ_k = (1 − y_k / ŷ_k) / Σŷ; through the softmax this gives ∂E/∂z = ŷ − y.</p>`);
  }
  parts.push(table("inputs x (the features)", ["", "x", "∂E/∂x"],
    s.features.map((f, i) => [f, s.inputs[i], s.dE_dx[i]])));
  let inputNames = s.features;
  s.layers.forEach((layer) => {
    parts.push(table(`${layer.name} (${layer.activation}): forward and backward`,
      ["unit", "z", "h", "∂E/∂h", "∂E/∂z", "∂E/∂b"],
      layer.z.map((z, j) => [j, z, layer.h[j], layer.dE_dh[j], layer.dE_dz[j], layer.dE_db[j]])));
    parts.push(table(`∂E/∂W of ${layer.name} (rows: its inputs, columns: its units)`,
      ["", ...layer.z.map((_, j) => `unit ${j}`)], layer.dE_dW.map((row, i) => [inputNames[i], ...row])));
    inputNames = layer.z.map((_, j) => `${layer.name} h${j}`);
  });
  $("partials").innerHTML = parts.join("");
}

// -- frames ---------------------------------------------------------------------------------
async function onFrame(frame) {
  state.frame = frame;
  if (frame.data_version !== state.dataVersion) {
    state.dataVersion = frame.data_version;
    state.points = await api("/api/points");
    applySettings(frame.settings);
  }
  $("play").innerHTML = frame.running ? "&#10074;&#10074; Pause" : "&#9654; Play";
  $("epoch").textContent = frame.epoch;
  const last = (key) => (frame.history[key] ? frame.history[key][frame.history[key].length - 1] : null);
  $("train-loss").textContent = fmt(last("loss"));
  $("test-loss").textContent = fmt(last("test_loss"));
  $("accuracy-stats").hidden = !frame.history.accuracy;
  $("train-accuracy").textContent = fmt(last("accuracy"));
  $("test-accuracy").textContent = fmt(last("test_accuracy"));
  if (frame.error) showMessage(frame.error);
  drawRegion();
  drawNetwork();
  drawCurves();
}

async function main() {
  state.options = await api("/api/options");
  buildControls(state.options);
  const stream = new EventSource("/api/stream");
  let pending = null, busy = false;
  stream.addEventListener("frame", async (event) => {
    pending = JSON.parse(event.data);
    if (busy) return;  // draw only the newest frame
    busy = true;
    while (pending) { const frame = pending; pending = null; await onFrame(frame); }
    busy = false;
  });
  stream.onerror = () => showMessage("lost the connection to the playground server; retrying...");
  stream.onopen = () => showMessage(null);
}

main();
