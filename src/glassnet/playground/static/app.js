// glassnet playground: the page. It only sends JSON commands over one WebSocket and draws
// what the server answers; every value it sends is checked again on the server.
"use strict";
(() => {
  const DEFAULT = {
    dataset: "spirals", n: 400, noise: 0.1, seed: 0,
    layers: [{ units: 8, activation: "tanh", dropout: 0 }, { units: 8, activation: "tanh", dropout: 0 }],
    learning_rate: 0.03, batch_size: 32, optimizer: "adam", speed: 0,
    loss: "cross_entropy", lr_schedule: "constant", decay_steps: 1000, l2: 0,
  };
  // URL key → field, for the fields written only when they differ from DEFAULT. Each hidden
  // layer's dropout rate is in `layers` (units:activation:rate, the rate only when > 0).
  const OPTIONAL = { sp: "speed", loss: "loss", sched: "lr_schedule", decay: "decay_steps", l2: "l2" };
  const TEXT_FIELDS = ["dataset", "optimizer", "loss", "lr_schedule"];
  const ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear", "leaky_relu", "elu"];
  const PALETTE = [[31, 111, 209], [224, 118, 27], [46, 160, 67], [170, 60, 180], [200, 50, 50],
    [110, 110, 110], [0, 160, 160], [150, 110, 40], [230, 180, 0], [90, 90, 200]];
  const SVG = "http://www.w3.org/2000/svg";
  // The page's fixed text in Chinese (the seeds' terms: 反向传播, 权重, 学习率, 损失); the
  // server's messages and the stories stay in English.
  const ZH = {
    "language": "语言",
    "Train a network live; click any weight to see this step's backpropagation.":
      "实时训练神经网络；点击任意一个权重，查看这一步的反向传播。",
    "Data": "数据", "data set": "数据集", "noise": "噪声", "points": "样本数", "seed": "随机种子",
    "your own CSV": "你自己的 CSV", "file": "文件", "label column": "标签列", "Upload": "上传",
    "Network": "网络", "+ layer": "+ 一层", "− layer": "− 一层",
    "Output: one unit per class; softmax with cross-entropy, sigmoid with MSE.":
      "输出层：每个类别一个神经元；交叉熵配 softmax，均方误差配 sigmoid。",
    "units": "神经元数", "activation": "激活函数", "dropout": "丢弃率", "L2 (λ)": "L2（λ）", "loss": "损失函数", "schedule": "学习率调度",
    "decay steps": "衰减步数", "rate now": "当前学习率", "none so far": "暂无",
    "Every neuron's output": "每个神经元的输出",
    "over the plane; orange: a < 0, white: 0, blue: a > 0": "在平面上；橙：a < 0，白：0，蓝：a > 0",
    "Take a Step, then click a weight (an edge) or a neuron.": "先按“单步”，再点击一个权重（一条边）或一个神经元。",
    "training": "训练中", "paused": "已暂停", "connected": "已连接",
    "disconnected: reload the page to start again": "连接已断开：请重新加载页面",
    "Training": "训练", "optimiser": "优化器", "learning rate": "学习率", "batch size": "批大小", "speed": "速度",
    "▶ Play": "▶ 开始", "❚❚ Pause": "❚❚ 暂停", "Step": "单步", "↺ Reset": "↺ 重置",
    "step": "步数", "loss (train / val)": "损失（训练 / 验证）",
    "accuracy (train / val)": "准确率（训练 / 验证）",
    "Filled dots: training points; rings: validation. Shade: the predicted class, paler where the network is unsure.":
      "实心点：训练样本；圆圈：验证样本。底色：预测的类别，网络越不确定颜色越浅。",
    "The network": "网络结构", "blue: w > 0, orange: w < 0; width: |w|": "蓝：w > 0，橙：w < 0；线宽：|w|",
    "Backpropagation story": "反向传播的过程", "Findings": "诊断", "Export": "导出",
    "Export model and Python code": "导出模型和 Python 代码",
    "First layer's weights as images": "第一层的权重（图像）",
    "Misclassified validation images": "分错的验证图像",
  };
  const tr = (text) => (language === "zh" && ZH[text]) || text;
  const L = (en, zh) => (language === "zh" ? zh : en);
  const english = new Map();
  let language = "en";
  function applyLanguage(lang) {
    language = lang === "zh" ? "zh" : "en";
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      if (!english.has(el)) english.set(el, el.textContent);
      const en = english.get(el);
      el.textContent = language === "zh" && ZH[en] ? ZH[en] : en;
    });
    document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
    $("language").value = language;
  }
  // Counters a test (or a curious teacher in the console) can read.
  const stats = window.__playground = { updates: 0, drawn: 0, errors: 0, fps: 0, maps: 0, state: null, story: null };

  const $ = (id) => document.getElementById(id);
  let ws = null;
  let accepted = null;   // the configuration the server runs now
  let data = null;       // the points of the current data set
  let latest = null;     // the newest state, drawn at the next animation frame
  let dirty = false;
  let netSizes = "";
  let picked = null;
  let history = [];
  let shownFindings = "";

  // Numbers typed by the user go to the server as numbers when they are numbers, and as the
  // text otherwise, so the server names exactly what was received.
  function value(text) {
    const t = String(text).trim();
    const v = Number(t);
    return t !== "" && Number.isFinite(v) ? v : t;
  }
  const fmt = (v, p = 4) => (v === null || v === undefined ? "–" : Number(v).toPrecision(p));
  const fmt6 = (v) => Number(v).toPrecision(6);

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  // ---- the configuration, the controls and the URL -----------------------------------------
  function configFromHash() {
    const h = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (![...h.keys()].length) return null;
    const c = JSON.parse(JSON.stringify(DEFAULT));
    const map = { dataset: "dataset", n: "n", noise: "noise", seed: "seed", lr: "learning_rate",
      bs: "batch_size", opt: "optimizer", ...OPTIONAL };
    for (const [key, field] of Object.entries(map)) {
      if (h.has(key)) c[field] = TEXT_FIELDS.includes(field) ? h.get(key) : value(h.get(key));
    }
    // Links made before dropout was per layer carry one rate for every layer: drop=0.2.
    const drop = h.has("drop") ? value(h.get("drop")) : 0;
    if (h.has("layers")) {
      const text = h.get("layers");
      c.layers = text === "" ? [] : text.split(",").map((part) => {
        const [units, activation, rate] = part.split(":");
        return { units: value(units), activation: activation || "tanh",
          dropout: rate === undefined ? drop : value(rate) };
      });
    } else {
      c.layers.forEach((layer) => { layer.dropout = drop; });
    }
    return c;
  }

  function writeHash(c) {
    const layers = c.layers.map((l) => `${l.units}:${l.activation}${l.dropout ? `:${l.dropout}` : ""}`).join(",");
    const h = `dataset=${c.dataset}&n=${c.n}&noise=${c.noise}&seed=${c.seed}&layers=${layers}` +
      `&lr=${c.learning_rate}&bs=${c.batch_size}&opt=${c.optimizer}` +
      Object.entries(OPTIONAL).map(([key, f]) => (c[f] !== DEFAULT[f] ? `&${key}=${c[f]}` : "")).join("") +
      (language === "zh" ? "&lang=zh" : "");
    window.history.replaceState(null, "", `#${h}`);
  }

  // Each control shows the configuration the server runs; after a reply the field being
  // typed in keeps its text (its own change, or a blur, sends it next), unless it was refused.
  function renderControls(c, refused = false) {
    const set = (id, v) => {
      const el = $(id);
      if (refused || el !== document.activeElement) el.value = v;
    };
    set("dataset", c.dataset);
    set("noise", c.noise);
    set("n", c.n);
    set("seed", c.seed);
    set("optimizer", c.optimizer);
    set("learning-rate", c.learning_rate);
    set("batch-size", c.batch_size);
    set("speed", String(c.speed));
    set("loss-fn", c.loss);
    set("lr-schedule", c.lr_schedule);
    set("decay-steps", c.decay_steps);
    set("l2", c.l2);
    // The layers' rows are rebuilt only when their number (or the language) changes; otherwise
    // their fields are set like the others, so a reply never takes away the field being typed in.
    const box = $("layers");
    const shape = `${c.layers.length}/${language}`;
    if (box.dataset.shape !== shape) {
      box.dataset.shape = shape;
      buildLayers(box, c.layers.length);
    }
    c.layers.forEach((layer, i) => {
      const l = i + 1;
      set(`units-${l}`, layer.units);
      set(`activation-${l}`, layer.activation);
      set(`dropout-${l}`, layer.dropout);
    });
  }

  // Each hidden layer's row: units, activation, and the dropout rate after it (in training a
  // random share `rate` of its units is silenced each step), under a row of the columns' names.
  function buildLayers(box, count) {
    box.textContent = "";
    if (count) {
      const head = document.createElement("div");
      head.className = "layer head";
      for (const text of ["", "units", "activation", "dropout"]) {
        const span = document.createElement("span");
        span.textContent = tr(text);
        head.append(span);
      }
      box.append(head);
    }
    for (let l = 1; l <= count; l++) {
      const row = document.createElement("div");
      row.className = "layer";
      const name = document.createElement("span");
      name.textContent = L(`layer ${l}`, `第 ${l} 层`);
      const units = document.createElement("input");
      Object.assign(units, { type: "number", min: 1, max: 64, id: `units-${l}` });
      units.dataset.testid = `units-${l}`;
      units.setAttribute("aria-label", `units of layer ${l}`);
      const act = document.createElement("select");
      act.id = `activation-${l}`;
      act.dataset.testid = `activation-${l}`;
      act.setAttribute("aria-label", `activation of layer ${l}`);
      for (const a of ACTIVATIONS) act.add(new Option(a, a));
      const drop = document.createElement("input");
      Object.assign(drop, { type: "text", inputMode: "decimal", id: `dropout-${l}` });
      drop.dataset.testid = `dropout-${l}`;
      drop.setAttribute("aria-label", `dropout rate after layer ${l}`);
      drop.title = L(`dropout after layer ${l}: 0 ≤ rate < 1`, `第 ${l} 层之后的丢弃率：0 ≤ rate < 1`);
      for (const el of [units, act, drop]) el.addEventListener("change", reconfigure);
      row.append(name, units, act, drop);
      box.append(row);
    }
  }

  function readControls() {
    const layers = [...$("layers").querySelectorAll(".layer:not(.head)")].map((row, i) => ({
      units: value($(`units-${i + 1}`).value),
      activation: $(`activation-${i + 1}`).value,
      dropout: value($(`dropout-${i + 1}`).value),
    }));
    return {
      dataset: $("dataset").value, n: value($("n").value), noise: value($("noise").value),
      seed: value($("seed").value), layers, learning_rate: value($("learning-rate").value),
      batch_size: value($("batch-size").value), optimizer: $("optimizer").value,
      speed: value($("speed").value), loss: $("loss-fn").value,
      lr_schedule: $("lr-schedule").value, decay_steps: value($("decay-steps").value),
      l2: value($("l2").value),
    };
  }

  function reconfigure() { send({ type: "config", config: readControls() }); }

  // ---- messages from the server ------------------------------------------------------------
  function showError(text) {
    const box = $("error");
    box.textContent = text;
    box.hidden = false;
    stats.errors += 1;
  }

  function onMessage(event) {
    const m = JSON.parse(event.data);
    if (m.type === "error") {
      showError(m.message);
      if (accepted) renderControls(accepted, true);  // the controls show what actually runs
    } else if (m.type === "data") {
      $("error").hidden = true;
      accepted = m.config;
      data = m;
      history = [];
      picked = null;
      pickedKey = null;
      renderControls(accepted);
      writeHash(accepted);
      if (m.csv) {
        $("csv-info").textContent = `${m.csv.rows} rows; features ${m.csv.features.join(", ")}; ` +
          `label ${m.csv.label} (${m.csv.classes.join(", ")})`;
      }
      $("weight-story").textContent = tr("Take a Step, then click a weight (an edge) or a neuron.");
      $("neuron-story").hidden = true;
    } else if (m.type === "state") {
      latest = m;
      stats.state = m;
      stats.updates += 1;
      dirty = true;
      history.push([m.step, m.loss, m.val_loss]);
      if (history.length > 600) history = history.filter((_, i) => i % 2 === 0);
    } else if (m.type === "story") {
      stats.story = m;
      renderStory(m);
    } else if (m.type === "neuron") {
      renderNeuron(m);
    } else if (m.type === "export") {
      renderExport(m);
    } else if (m.type === "playing") {
      $("play").classList.toggle("on", m.playing);
      $("status").textContent = tr(m.playing ? "training" : "paused");
    }
  }

  // ---- drawing -----------------------------------------------------------------------------
  function draw(state) {
    $("step-count").textContent = String(state.step);
    $("rate-now").textContent = fmt(state.rate);
    $("loss").textContent = fmt(state.loss);
    $("val-loss").textContent = fmt(state.val_loss);
    $("accuracy").textContent = fmt(state.accuracy, 3);
    $("val-accuracy").textContent = fmt(state.val_accuracy, 3);
    drawBoundary(state);
    drawHistory();
    drawNetwork(state);
    drawImages(state.images);
    drawFindings(state.findings);
    if (state.maps) mapsSoon(state);
    $("maps-box").hidden = !state.boundary;
  }

  // Every hidden neuron's output over the plane, one small canvas each (TensorFlow
  // Playground's thumbnails), repainted from the bytes of each update that carries them.
  const MAP_COLOURS = (() => {
    const lut = new Uint8ClampedArray(256 * 3);
    for (let v = 0; v < 256; v++) {
      const t = (v - 127.5) / 127.5;
      const c = t < 0 ? [224, 118, 27] : [31, 111, 209];
      for (let ch = 0; ch < 3; ch++) lut[3 * v + ch] = 255 + (c[ch] - 255) * Math.abs(t);
    }
    return lut;
  })();
  let mapsKey = "";
  let mapCanvases = [];  // mapCanvases[l-1][j-1]
  function buildMaps(state) {
    const box = $("neuron-maps");
    box.textContent = "";
    mapCanvases = [];
    state.maps.forEach((layer, i) => {
      const l = i + 1;
      const row = document.createElement("div");
      row.className = "maps-row";
      const name = document.createElement("span");
      name.textContent = L(`layer ${l}`, `第 ${l} 层`);
      row.append(name);
      const canvases = [];
      for (let j = 1; j <= state.sizes[l]; j++) {
        const c = document.createElement("canvas");
        c.width = layer.size; c.height = layer.size;
        c.dataset.testid = `neuron-map-${l}-${j}`;
        c.title = `a^${l}_${j}`;
        c.addEventListener("click", () => pick(c, { type: "neuron", l, j }));
        row.append(c);
        canvases.push(c);
      }
      box.append(row);
      mapCanvases.push(canvases);
    });
  }

  // The maps are painted only while their box is on screen (on a phone it is scrolled away
  // while the boundary is watched); the newest bytes are painted when it comes back.
  let mapsVisible = true;
  let pendingMaps = null;
  new IntersectionObserver((entries) => {
    mapsVisible = entries[entries.length - 1].isIntersecting;
    if (mapsVisible && pendingMaps) { drawMaps(pendingMaps); pendingMaps = null; }
  }).observe($("maps-box"));

  // Painting every neuron's map costs the browser more than the rest of a frame (measured on
  // 2 cores, benchmarks/playground_fps.py: 29 screen updates/s at 1280 px without the maps,
  // 16 with a repaint per update, 26 with this limit), so the maps repaint at most every
  // MAP_MS; the newest bytes are painted when that time is up.
  const MAP_MS = 250;
  let mapsAt = -Infinity;
  let mapsTimer = null;
  let mapsLatest = null;
  function mapsSoon(state) {
    mapsLatest = state;
    const wait = mapsAt + MAP_MS - performance.now();
    if (wait <= 0) {
      mapsAt = performance.now();
      drawMaps(state);
    } else if (mapsTimer === null) {
      mapsTimer = setTimeout(() => {
        mapsTimer = null;
        mapsAt = performance.now();
        drawMaps(mapsLatest);
      }, wait);
    }
  }

  function drawMaps(state) {
    if (!mapsVisible && mapsKey) { pendingMaps = state; return; }
    const key = `${state.sizes.join(",")}/${state.maps.map((m) => m.size).join(",")}`;
    if (key !== mapsKey) {
      mapsKey = key;
      buildMaps(state);
    }
    state.maps.forEach((layer, i) => {
      const bytes = atob(layer.values);
      const cells = layer.size * layer.size;
      mapCanvases[i].forEach((canvas, j) => {
        // A CPU-backed canvas: 16 small GPU canvases cost the compositor more than the
        // pixels themselves (and headless Chromium's GPU is emulated).
        const ctx = canvas.getContext("2d", { willReadFrequently: true });
        // one ImageData per canvas, kept: nothing is allocated per update
        const img = canvas.pixels || (canvas.pixels = ctx.createImageData(layer.size, layer.size));
        for (let p = 0; p < cells; p++) {
          const v = bytes.charCodeAt(j * cells + p);
          img.data[4 * p] = MAP_COLOURS[3 * v];
          img.data[4 * p + 1] = MAP_COLOURS[3 * v + 1];
          img.data[4 * p + 2] = MAP_COLOURS[3 * v + 2];
          img.data[4 * p + 3] = 255;
        }
        ctx.putImageData(img, 0, 0);
      });
    });
    stats.maps += 1;
  }

  // The doctor's findings (glassnet.diagnostics' rules), newest last; redrawn only on change.
  function drawFindings(findings) {
    const key = findings.map((f) => `${f.rule}/${f.layer}/${f.severity}`).join("\n");
    if (key === shownFindings) return;
    shownFindings = key;
    const list = $("findings");
    list.textContent = "";
    if (!findings.length) {
      const li = document.createElement("li");
      li.textContent = tr("none so far");
      list.append(li);
      return;
    }
    for (const f of findings) {
      const li = document.createElement("li");
      li.className = f.severity;
      li.dataset.testid = `finding-${f.rule}`;
      const title = document.createElement("b");
      title.textContent = f.title + (f.layer ? `, ${f.layer}` : "");
      const when = document.createElement("small");
      when.textContent = ` (${tr("step")} ${f.step})`;
      const evidence = document.createElement("div");
      evidence.textContent = f.evidence;
      const advice = document.createElement("div");
      advice.className = "advice";
      advice.textContent = f.advice;
      li.append(title, when, evidence, advice);
      list.append(li);
    }
  }

  // The boundary canvas has one pixel per grid cell; CSS scales it to its box (smoothly, as
  // the page used to with drawImage on a 400-pixel canvas, which cost every frame a scaled
  // copy and a 400 × 400 composite of the points). The points sit on their own canvas above.
  let boundaryPixels = null;  // the ImageData reused from frame to frame
  let overlayFor = null;      // what the points canvas shows: the data set, or a message
  function drawBoundary(state) {
    const overlay = state.boundary && data ? data : `${state.sizes[0]} features`;
    if (overlay !== overlayFor) {
      overlayFor = overlay;
      drawOverlay(state.boundary && data ? null : overlay);
    }
    const canvas = $("boundary");
    const ctx = canvas.getContext("2d", { alpha: false });  // opaque: nothing to blend under it
    if (!state.boundary || !data) {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      return;
    }
    const g = state.boundary.size;
    if (canvas.width !== g) { canvas.width = g; canvas.height = g; }
    if (!boundaryPixels || boundaryPixels.width !== g) boundaryPixels = ctx.createImageData(g, g);
    const img = boundaryPixels.data;
    const k = data.classes;
    const cls = atob(state.boundary.cls);
    const conf = atob(state.boundary.conf);
    for (let i = 0; i < g * g; i++) {
      const [r, gg, b] = PALETTE[cls.charCodeAt(i) % PALETTE.length];
      const p = conf.charCodeAt(i) / 255;
      const strength = 0.15 + 0.5 * Math.max(0, (p - 1 / k) / (1 - 1 / k));
      img[4 * i] = 255 + (r - 255) * strength;
      img[4 * i + 1] = 255 + (gg - 255) * strength;
      img[4 * i + 2] = 255 + (b - 255) * strength;
      img[4 * i + 3] = 255;
    }
    ctx.putImageData(boundaryPixels, 0, 0);
  }

  // The points never move during training: drawn once per data set. Without a 2-D picture
  // the same canvas says why (``message``).
  function drawOverlay(message) {
    const canvas = $("points");
    const W = canvas.width;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, W, W);
    if (message) {
      ctx.fillStyle = "#666";
      ctx.font = "15px sans-serif";
      ctx.fillText(`${message}: no 2-D picture for this data set`, 20, W / 2);
      return;
    }
    const e = data.extent;
    const px = (v) => ((v + e) / (2 * e)) * W;
    const py = (v) => ((e - v) / (2 * e)) * W;
    const dot = (xy, label, filled) => {
      const [r, gg, b] = PALETTE[label % PALETTE.length];
      ctx.beginPath();
      ctx.arc(px(xy[0]), py(xy[1]), 3.2, 0, 2 * Math.PI);
      if (filled) {
        ctx.fillStyle = `rgb(${r},${gg},${b})`;
        ctx.fill();
        ctx.strokeStyle = "#fff";
      } else {
        ctx.strokeStyle = `rgb(${r},${gg},${b})`;
        ctx.lineWidth = 1.6;
      }
      ctx.stroke();
      ctx.lineWidth = 1;
    };
    data.x.forEach((xy, i) => dot(xy, data.y[i], true));
    data.x_val.forEach((xy, i) => dot(xy, data.y_val[i], false));
  }

  // One small canvas per image, reused from frame to frame.
  function thumbs(box, count, h, w) {
    while (box.children.length > count) box.lastChild.remove();
    while (box.children.length < count) {
      const fig = document.createElement("figure");
      const c = document.createElement("canvas");
      fig.append(c, document.createElement("figcaption"));
      box.append(fig);
    }
    return [...box.children].map((fig) => {
      const c = fig.firstChild;
      if (c.width !== w) { c.width = w; c.height = h; }
      return fig;
    });
  }

  function paint(canvas, b64, diverging) {
    const values = atob(b64);
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(canvas.width, canvas.height);
    for (let i = 0; i < values.length; i++) {
      const v = values.charCodeAt(i);
      let rgb;
      if (diverging) {  // weights: orange < 0, white = 0, blue > 0
        const t = (v - 127.5) / 127.5;
        const c = t < 0 ? [224, 118, 27] : [31, 111, 209];
        rgb = c.map((ch) => 255 + (ch - 255) * Math.abs(t));
      } else {
        rgb = [255 - v, 255 - v, 255 - v];  // ink on paper
      }
      img.data.set([...rgb, 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
  }

  function drawImages(images) {
    $("images").hidden = !images;
    if (!images) return;
    const [h, w] = images.shape;
    thumbs($("first-layer"), images.first.length, h, w).forEach((fig, j) => {
      paint(fig.firstChild, images.first[j], true);
      fig.lastChild.textContent = `neuron ${j + 1}`;
    });
    thumbs($("misclassified"), images.wrong.length, h, w).forEach((fig, i) => {
      const e = images.wrong[i];
      paint(fig.firstChild, e.pixels, false);
      fig.lastChild.textContent = `${e.label} → ${e.predicted}`;
    });
  }

  function drawHistory() {
    const canvas = $("history");
    const ctx = canvas.getContext("2d");
    const [W, H] = [canvas.width, canvas.height];
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, H);
    if (history.length < 2) return;
    const values = history.flatMap((h) => [h[1], h[2]]).filter((v) => v > 0 && Number.isFinite(v));
    const lo = Math.log10(Math.max(1e-4, Math.min(...values)));
    const hi = Math.log10(Math.max(...values)) + 1e-9;
    const first = history[0][0];
    const last = history[history.length - 1][0] || 1;
    const x = (s) => 4 + ((s - first) / Math.max(1, last - first)) * (W - 8);
    const y = (v) => H - 4 - ((Math.log10(Math.max(v, 1e-4)) - lo) / Math.max(1e-9, hi - lo)) * (H - 8);
    for (const [index, colour] of [[2, "#aaa"], [1, "#222"]]) {
      ctx.strokeStyle = colour;
      ctx.beginPath();
      history.forEach((h, i) => (i ? ctx.lineTo(x(h[0]), y(h[index])) : ctx.moveTo(x(h[0]), y(h[index]))));
      ctx.stroke();
    }
    ctx.fillStyle = "#666";
    ctx.font = "11px sans-serif";
    ctx.fillText("loss (log scale): train black, validation grey", 8, 12);
  }

  // The diagram is painted on an opaque canvas; the SVG under it (the canvas lets clicks
  // through) holds one line per weight and one circle per neuron, to click and to test, and
  // never changes while training. Restyling every SVG line at each update cost the browser a
  // style recalculation and a raster of the diagram per frame, and a transparent layer over
  // the edges costs the (software) compositor a blend of the whole box: together most of a
  // frame at 1280 px (benchmarks/playground_fps.py; docs/playground.md has the figures).
  const NET_W = 420;
  const NET_H = 300;
  let geometry = null;   // where each layer's neurons sit (viewBox units), their radius, wide
  let netWeights = null; // the weights painted last, repainted on a resize or a click
  let edgePixels = null; // [width, height] of the canvas in device pixels
  let pickedKey = null;  // the clicked weight {l, j, k} or neuron {l, j}, drawn in black

  function buildNetwork(sizes) {
    const svg = $("net");
    svg.textContent = "";
    const [W, H] = [NET_W, NET_H];
    const xs = sizes.map((_, i) => 20 + (i * (W - 40)) / (sizes.length - 1));
    const ys = sizes.map((n) => Array.from({ length: n }, (_, j) => ((j + 0.5) * H) / n));
    const radii = sizes.map((n) => Math.max(2.5, Math.min(9, (H / n) * 0.35)));
    const wide = sizes[0] > 64;  // drawn as one block, its edges left out (the server sends none)
    geometry = { sizes, xs, ys, radii, wide };
    const edgeGroup = document.createElementNS(SVG, "g");
    const nodeGroup = document.createElementNS(SVG, "g");
    svg.append(edgeGroup, nodeGroup);
    for (let l = 1; l < sizes.length; l++) {
      if (l === 1 && wide) continue;
      for (let j = 1; j <= sizes[l]; j++) {
        for (let k = 1; k <= sizes[l - 1]; k++) {
          const line = document.createElementNS(SVG, "line");
          line.setAttribute("x1", xs[l - 1]); line.setAttribute("y1", ys[l - 1][k - 1]);
          line.setAttribute("x2", xs[l]); line.setAttribute("y2", ys[l][j - 1]);
          line.dataset.testid = `weight-${l}-${j}-${k}`;
          const title = document.createElementNS(SVG, "title");
          title.textContent = `w^${l}_${j}${k}: click for its backpropagation`;
          line.append(title);
          line.addEventListener("click", () => pick(line, { type: "story", l, j, k }));
          edgeGroup.append(line);
        }
      }
    }
    sizes.forEach((n, l) => {
      if (l === 0 && wide) return;
      for (let j = 1; j <= n; j++) {
        const c = document.createElementNS(SVG, "circle");
        c.setAttribute("cx", xs[l]); c.setAttribute("cy", ys[l][j - 1]); c.setAttribute("r", radii[l]);
        c.dataset.testid = `neuron-${l}-${j}`;
        if (l > 0) c.addEventListener("click", () => pick(c, { type: "neuron", l, j }));
        nodeGroup.append(c);
      }
    });
  }

  // Each edge blue (w > 0) or orange (w < 0), as wide and as opaque as |w| says; then the
  // neurons, and what was clicked in black.
  function paintNetwork() {
    const canvas = $("net-edges");
    if (!edgePixels) return;  // not laid out yet: the ResizeObserver paints it
    const [pw, ph] = edgePixels;
    if (canvas.width !== pw || canvas.height !== ph) { canvas.width = pw; canvas.height = ph; }
    const ctx = canvas.getContext("2d", { alpha: false });
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#fcfcfb";
    ctx.fillRect(0, 0, pw, ph);
    if (!geometry) return;
    ctx.setTransform(pw / NET_W, 0, 0, ph / NET_H, 0, 0);
    const { sizes, xs, ys, radii, wide } = geometry;
    const edge = (l, j, k) => {  // l from 1, j and k from 0
      ctx.beginPath();
      ctx.moveTo(xs[l - 1], ys[l - 1][k]);
      ctx.lineTo(xs[l], ys[l][j]);
      ctx.stroke();
    };
    (netWeights || []).forEach((W, li) => W && W.forEach((row, j) => row.forEach((w, k) => {
      const a = Math.abs(w);
      ctx.strokeStyle = w >= 0 ? "#1f6fd1" : "#e0761b";
      ctx.lineWidth = Math.min(6, 0.3 + 1.8 * a);
      ctx.globalAlpha = Math.min(1, 0.2 + 0.6 * a);
      edge(li + 1, j, k);
    })));
    ctx.globalAlpha = 1;
    const p = pickedKey;
    if (p && p.k !== undefined && p.l < sizes.length && p.j <= sizes[p.l] && p.k <= sizes[p.l - 1]) {
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 1.5;
      edge(p.l, p.j - 1, p.k - 1);
    }
    if (wide) {
      ctx.fillStyle = "#ddd";
      ctx.beginPath();
      ctx.roundRect(4, 20, 32, NET_H - 40, 4);
      ctx.fill();
      ctx.save();
      ctx.translate(20, NET_H / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.fillStyle = "#222";
      ctx.font = "11px sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(`${sizes[0]} inputs (weights: see the images)`, 0, 4);
      ctx.restore();
    }
    sizes.forEach((n, l) => {
      if (l === 0 && wide) return;
      ctx.fillStyle = l === 0 ? "#ccc" : l === sizes.length - 1 ? "#ffe7c7" : "#e4eefc";
      for (let j = 0; j < n; j++) {
        const chosen = p && p.k === undefined && p.l === l && p.j === j + 1;
        ctx.beginPath();
        ctx.arc(xs[l], ys[l][j], radii[l], 0, 2 * Math.PI);
        ctx.fill();
        ctx.strokeStyle = chosen ? "#000" : "#555";
        ctx.lineWidth = chosen ? 3 : 1;
        ctx.stroke();
      }
    });
  }

  // The canvas follows its box's size in device pixels (sharp on any screen); the size is
  // read here, once per resize, never while drawing a frame (that would force a layout).
  new ResizeObserver((entries) => {
    const box = entries[entries.length - 1].contentRect;
    const dpr = window.devicePixelRatio || 1;
    edgePixels = [Math.max(1, Math.round(box.width * dpr)), Math.max(1, Math.round(box.height * dpr))];
    paintNetwork();
  }).observe($("net-box"));

  function pick(element, message) {
    if (picked) picked.classList.remove("picked");
    picked = element;
    element.classList.add("picked");
    pickedKey = { l: message.l, j: message.j, k: message.k };
    paintNetwork();
    send(message);
  }

  function drawNetwork(state) {
    const key = state.sizes.join(",");
    if (key !== netSizes) {
      netSizes = key;
      buildNetwork(state.sizes);
    }
    netWeights = state.weights;
    paintNetwork();
  }

  function field(name, text, cls = "") {
    const span = document.createElement("span");
    span.dataset.field = name;
    span.textContent = text;
    if (cls) span.className = cls;
    return span;
  }

  function renderStory(m) {
    const box = $("weight-story");
    box.textContent = "";
    const line = (...parts) => {
      for (const p of parts) box.append(typeof p === "string" ? document.createTextNode(p) : p);
      box.append(document.createTextNode("\n"));
    };
    const code = `W^${m.l}[${m.j - 1}, ${m.k - 1}]`;
    line(L(`w^${m.l}_${m.j}${m.k}: from neuron ${m.k} of layer ${m.l - 1} to neuron ${m.j} of layer ${m.l}` +
      ` (${code} in code). The last step used a mini-batch of ${m.batch} samples.`,
      `w^${m.l}_${m.j}${m.k}：从第 ${m.l - 1} 层第 ${m.k} 个神经元到第 ${m.l} 层第 ${m.j} 个神经元` +
      `（代码中的 ${code}）。上一步使用了 ${m.batch} 个样本的小批量。`));
    line(L("∂C/∂w over the batch = mean of a^", "整个批量的 ∂C/∂w = a^"), String(m.l - 1), "_k δ^",
      String(m.l), L("_j = ", "_j 的平均 = "), field("grad", fmt6(m.grad), "sum"));
    const total = m.grad + m.l2_term;
    if (m.l2_term) {
      line(L("  + L2's 2λw = ", "  + L2 的 2λw = "), field("l2_term", fmt6(m.l2_term)), " → ∂(C + λΣw²)/∂w = ",
        field("total", fmt6(total)));
    }
    const drops = (m.dropout || []).map((p, i) => [i + 1, p]).filter(([, p]) => p > 0);
    if (drops.length) {
      const en = drops.map(([l, p]) => `layer ${l}: ${p}`).join(", ");
      const zh = drops.map(([l, p]) => `第 ${l} 层 ${p}`).join("，");
      line(L(`  dropout (${en}): this step silenced a random share p of those layers' units ` +
        "(and scaled the others by 1/(1 − p)); the story shows the whole network, as at inference, " +
        "so its numbers differ from the masked step's.",
        `  dropout（${zh}）：这一步随机关闭了这些层中比例为 p 的神经元（其余乘以 1/(1 − p)）；` +
        "这里展示的是完整网络（与推理时一样），所以数值与带掩码的那一步不同。"));
    }
    line(L("update: w = ", "更新：w = "), field("before", fmt6(m.before)), " → ", field("after", fmt6(m.after)),
      L(` (change ${fmt6(m.after - m.before)}, ${m.optimizer}, α = ${fmt(m.learning_rate)})`,
        `（变化 ${fmt6(m.after - m.before)}，${m.optimizer}，α = ${fmt(m.learning_rate)}）`));
    if (m.optimizer === "sgd") {
      line(`  SGD: w − α ∂C/∂w = ${fmt6(m.before)} − ${fmt(m.learning_rate)} × ${fmt6(total)} = `,
        field("sgd_after", fmt6(m.before - m.learning_rate * total)));
    } else {
      line(L(`  ${m.optimizer} scales the step by its running averages; plain SGD would move it by ` +
        `−α ∂C/∂w = ${fmt6(-m.learning_rate * total)}`,
        `  ${m.optimizer} 用它的滑动平均缩放步长；普通 SGD 会移动 −α ∂C/∂w = ${fmt6(-m.learning_rate * total)}`));
    }
    line("");
    line(L("Sample 1 of the batch, path by path (glassnet.explain.backprop; ∂C_x/∂w = ",
      "批量中的第 1 个样本，逐条路径（glassnet.explain.backprop；∂C_x/∂w = "),
      field("sample_total", fmt6(m.sample_total)), L("):", "）："));
    line(m.text);
  }

  function renderNeuron(m) {
    const box = $("neuron-story");
    box.hidden = false;
    const f = (o) => `z = ${fmt6(o.z)}, a = ${fmt6(o.a)}, σ'(z) = ${fmt6(o.sigma_prime)}, δ = ${fmt6(o.delta)}`;
    box.textContent = `neuron ${m.j} of layer ${m.l} (${m.activation}), last step:\n` +
      `  sample 1:   ${f(m.first)}\n  batch mean: ${f(m.mean)}\n  ${m.status}`;
    if (m.map) {
      box.append(document.createTextNode(
        `\nits output a over the plane (now), from ${fmt(m.map.low)} (orange) to ${fmt(m.map.high)} (blue):\n`));
      box.append(neuronMap(m.map));
    }
  }

  function neuronMap(map) {
    const g = map.size;
    const small = document.createElement("canvas");
    small.width = g; small.height = g;
    const values = atob(map.values);
    const ctx = small.getContext("2d");
    const img = ctx.createImageData(g, g);
    const [lo, hi] = [[224, 118, 27], [31, 111, 209]];
    for (let i = 0; i < g * g; i++) {
      const t = values.charCodeAt(i) / 255;
      const [c, s] = t < 0.5 ? [lo, 1 - 2 * t] : [hi, 2 * t - 1];
      for (let ch = 0; ch < 3; ch++) img.data[4 * i + ch] = 255 + (c[ch] - 255) * s * 0.85;
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    const big = document.createElement("canvas");
    big.id = "neuron-map";
    big.dataset.testid = "neuron-map";
    big.width = 150; big.height = 150;
    const bctx = big.getContext("2d");
    bctx.imageSmoothingEnabled = true;
    bctx.drawImage(small, 0, 0, 150, 150);
    return big;
  }

  function renderExport(m) {
    const code = $("python-code");
    code.value = m.code;
    code.hidden = false;
    const bytes = Uint8Array.from(atob(m.model), (ch) => ch.charCodeAt(0));
    const links = [["download-model", new Blob([bytes], { type: "application/octet-stream" })],
      ["download-code", new Blob([m.code], { type: "text/x-python" })]];
    for (const [id, blob] of links) {
      const a = $(id);
      if (a.href) URL.revokeObjectURL(a.href);
      a.href = URL.createObjectURL(blob);
      a.hidden = false;
    }
  }

  // At most one redraw per animation frame, with the newest state.
  let frames = 0;
  let since = performance.now();
  function animate(now) {
    if (dirty && latest) {
      dirty = false;
      const t0 = performance.now();
      draw(latest);
      stats.drawMs = 0.9 * (stats.drawMs || 0) + 0.1 * (performance.now() - t0);
      stats.drawn += 1;
      frames += 1;
    }
    if (now - since >= 1000) {
      stats.fps = (frames * 1000) / (now - since);
      $("fps").textContent = `${stats.fps.toFixed(0)} screen updates/s`;
      frames = 0;
      since = now;
    }
    requestAnimationFrame(animate);
  }

  function connect() {
    // The server answers in the page's language (its refusals, and the stories it builds).
    ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws?lang=${language}`);
    ws.onopen = () => {
      $("status").textContent = tr("connected");
      send({ type: "config", config: configFromHash() || DEFAULT });
    };
    ws.onmessage = onMessage;
    ws.onclose = () => { $("status").textContent = tr("disconnected: reload the page to start again"); };
  }

  for (const id of ["dataset", "noise", "n", "seed", "optimizer", "learning-rate", "batch-size", "speed",
    "loss-fn", "lr-schedule", "decay-steps", "l2"]) {
    $(id).addEventListener("change", reconfigure);
  }
  $("add-layer").addEventListener("click", () => {
    const c = readControls();
    c.layers.push({ units: 4, activation: "tanh", dropout: 0 });
    send({ type: "config", config: c });
  });
  $("remove-layer").addEventListener("click", () => {
    const c = readControls();
    c.layers.pop();
    send({ type: "config", config: c });
  });
  for (const id of ["play", "pause", "step", "reset", "export"]) {
    $(id).addEventListener("click", () => send({ type: id }));
  }
  $("csv-upload").addEventListener("click", () => {
    const file = $("csv-file").files[0];
    if (!file) {
      showError("csv file: none chosen, received nothing; choose a .csv file first");
      return;
    }
    file.text().then((text) => send({ type: "csv", text, label: $("csv-label").value || null }));
  });
  window.addEventListener("hashchange", () => {
    const c = configFromHash();
    if (c) send({ type: "config", config: c });
  });
  $("language").addEventListener("change", () => {
    applyLanguage($("language").value);
    shownFindings = null;  // redrawn in the new language
    mapsKey = "";
    send({ type: "language", lang: language });
    dirty = true;
    if (accepted) {
      renderControls(accepted);  // the layers' rows in the new language
      writeHash(accepted);
    }
  });
  applyLanguage(new URLSearchParams(location.hash.replace(/^#/, "")).get("lang") || "en");
  connect();
  requestAnimationFrame(animate);
})();
