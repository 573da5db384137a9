// The Map page's scatter (a Streamlit component): every point drawn with a few lines of raw WebGL.
// The coordinates come once, as a binary file fetched by URL; every render after that brings only one
// small colour code per point, so moving a threshold resends no coordinates. Areas are drawn on an
// overlay of our own and go back to Python as {kind: "area", x, y} in map coordinates; a click sends
// {kind: "point", index}. Hovering a point shows its legend name and row id (the ids file is fetched
// at the first hover, never before the first draw).
(function () {
  "use strict";
  const marks = window.mapTimes = {script: performance.now()};  // where a first draw's time goes
  function mark(name) { if (!(name in marks)) { marks[name] = performance.now(); } }
  const $ = function (id) { return document.getElementById(id); };
  const plot = $("plot"), canvas = $("canvas"), legend = $("legend"), overlay = $("overlay");
  const line = $("line"), outline = $("area"), tip = $("tip"), title = $("title");
  const files = {};  // file name -> Promise of its contents
  let gl = null, program = null, buffers = null;
  let xs = null, ys = null, xyName = null, home = null, view = null;
  let args = null, codes = null, rgba = null, indices = null, renders = 0, mode = "lasso", grid = null;
  let pending = false;

  function send(type, extra) {
    window.parent.postMessage(Object.assign({isStreamlitMessage: true, type: type}, extra), "*");
  }
  function setValue(value) {
    value.nonce = Date.now() + Math.random();
    send("streamlit:setComponentValue", {value: value, dataType: "json"});
  }
  function fetched(name, how) {
    if (!files[name]) {
      files[name] = fetch("./" + name).then(function (reply) {
        if (!reply.ok) { throw new Error("map file not found: " + reply.status); }
        return how === "json" ? reply.json() : reply.arrayBuffer();
      });
    }
    return files[name];
  }
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }  // text, never markup: names come from user data
    return node;
  }

  // --- colours and codes ---------------------------------------------------------------------
  function decodeCodes(text, bits, n) {
    const raw = atob(text), per = 8 / bits, mask = (1 << bits) - 1, out = new Uint8Array(n);
    for (let i = 0; i < n; i++) { out[i] = (raw.charCodeAt((i / per) | 0) >> (bits * (i % per))) & mask; }
    return out;
  }
  function parseColour(text) {  // "#rgb", "#rrggbb", "rgb(r, g, b)", "rgba(r, g, b, a)" -> [r, g, b, a] bytes
    const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(text.trim());
    if (hex) {
      const h = hex[1].length === 3 ? hex[1].replace(/./g, "$&$&") : hex[1];
      return [0, 2, 4].map(function (i) { return parseInt(h.substr(i, 2), 16); }).concat([255]);
    }
    const parts = (/rgba?\(([^)]*)\)/i.exec(text) || [null, "0,0,0"])[1].split(",").map(Number);
    return [parts[0], parts[1], parts[2], Math.round(255 * (parts.length > 3 ? parts[3] : 1))];
  }
  function colourBytes() {  // one RGBA per point, in draw order
    const table = new Uint32Array(256), bytes = new Uint8Array(table.buffer);
    args.palette.forEach(function (c, i) { bytes.set(parseColour(c), 4 * i); });
    const out = new Uint32Array(codes.length);
    for (let i = 0; i < codes.length; i++) { out[i] = table[codes[i]]; }
    return new Uint8Array(out.buffer);
  }
  function layerOrder() {  // point indices bottom layer first (null: one layer, draw in order)
    if (!args.layers || args.layers.length < 2) { return null; }
    const out = new Uint32Array(codes.length);
    let j = 0;
    args.layers.forEach(function (layer) {
      const wanted = new Uint8Array(256);
      layer.forEach(function (code) { wanted[code] = 1; });
      for (let i = 0; i < codes.length; i++) { if (wanted[codes[i]]) { out[j++] = i; } }
    });
    return out.subarray(0, j);
  }

  // --- WebGL ---------------------------------------------------------------------------------
  const VERTEX = "attribute vec2 xy; attribute vec4 colour; attribute float diameter; uniform vec4 view; uniform float ratio;" +
    "varying vec4 tint; void main() { tint = colour;" +
    " gl_Position = vec4((xy.x - view.x) * view.z * 2.0 - 1.0, (xy.y - view.y) * view.w * 2.0 - 1.0, 0.0, 1.0);" +
    " gl_PointSize = diameter * ratio; }";
  const FRAGMENT = "precision mediump float; varying vec4 tint; void main() {" +
    " vec2 d = gl_PointCoord - 0.5; if (dot(d, d) > 0.25) discard; gl_FragColor = tint; }";

  function shader(kind, source) {
    const s = gl.createShader(kind);
    gl.shaderSource(s, source);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) { throw new Error(gl.getShaderInfoLog(s)); }
    return s;
  }
  function setUp() {
    const options = {antialias: false, alpha: false, depth: false, preserveDrawingBuffer: true};
    gl = canvas.getContext("webgl2", options) || canvas.getContext("webgl", options);
    if (!gl) { throw new Error("this browser has WebGL switched off"); }
    if (!(window.WebGL2RenderingContext && gl instanceof window.WebGL2RenderingContext)) {
      gl.getExtension("OES_element_index_uint");  // layers draw by a 32-bit index list
    }
    program = gl.createProgram();
    gl.attachShader(program, shader(gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, shader(gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) { throw new Error(gl.getProgramInfoLog(program)); }
    buffers = {xy: gl.createBuffer(), colour: gl.createBuffer(), order: gl.createBuffer(), size: gl.createBuffer()};
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
  }
  function size() {
    const ratio = window.devicePixelRatio || 1, w = overlay.clientWidth, h = overlay.clientHeight;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    }
    return ratio;
  }
  function paint() {
    const ratio = size();
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.clearColor(1, 1, 1, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.useProgram(program);
    plot.mapView = Object.assign({}, view);  // for tests: the map coordinates at the plot's edges
    gl.uniform4f(gl.getUniformLocation(program, "view"), view.x0, view.y0, 1 / (view.x1 - view.x0), 1 / (view.y1 - view.y0));
    gl.uniform1f(gl.getUniformLocation(program, "ratio"), ratio);
    const diameter = gl.getAttribLocation(program, "diameter");
    if (args.sizes) {  // a size per code: one byte per point
      gl.bindBuffer(gl.ARRAY_BUFFER, buffers.size);
      gl.enableVertexAttribArray(diameter);
      gl.vertexAttribPointer(diameter, 1, gl.UNSIGNED_BYTE, false, 0, 0);
    } else {
      gl.disableVertexAttribArray(diameter);
      gl.vertexAttrib1f(diameter, args.marker_size);
    }
    const where = gl.getAttribLocation(program, "xy"), tint = gl.getAttribLocation(program, "colour");
    gl.bindBuffer(gl.ARRAY_BUFFER, buffers.xy);
    gl.enableVertexAttribArray(where);
    gl.vertexAttribPointer(where, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, buffers.colour);
    gl.enableVertexAttribArray(tint);
    gl.vertexAttribPointer(tint, 4, gl.UNSIGNED_BYTE, true, 0, 0);
    if (indices) {
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, buffers.order);
      gl.drawElements(gl.POINTS, indices.length, gl.UNSIGNED_INT, 0);
    } else {
      gl.drawArrays(gl.POINTS, 0, codes.length);
    }
    drawOutline();
  }
  function repaint() {  // at most once a frame (zoom, pan)
    if (pending) { return; }
    pending = true;
    requestAnimationFrame(function () { pending = false; paint(); });
  }

  // --- map <-> pixels ------------------------------------------------------------------------
  function toPixel(x, y) {
    return [(x - view.x0) / (view.x1 - view.x0) * overlay.clientWidth,
            (view.y1 - y) / (view.y1 - view.y0) * overlay.clientHeight];
  }
  function toMap(px, py) {
    return [view.x0 + px / overlay.clientWidth * (view.x1 - view.x0),
            view.y1 - py / overlay.clientHeight * (view.y1 - view.y0)];
  }
  function bounds() {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i], y = ys[i];
      if (x < x0) { x0 = x; } if (x > x1) { x1 = x; } if (y < y0) { y0 = y; } if (y > y1) { y1 = y; }
    }
    if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
    if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
    const px = 0.04 * (x1 - x0), py = 0.04 * (y1 - y0);
    return {x0: x0 - px, x1: x1 + px, y0: y0 - py, y1: y1 + py};
  }
  function drawOutline() {
    const area = args.area;
    let corners = [];
    if (area && area.x && area.x.length >= 2) {
      corners = area.x.length === 2
        ? [[area.x[0], area.y[0]], [area.x[1], area.y[0]], [area.x[1], area.y[1]], [area.x[0], area.y[1]]]
        : area.x.map(function (x, i) { return [x, area.y[i]]; });
    }
    outline.setAttribute("points", corners.map(function (c) { return toPixel(c[0], c[1]).join(","); }).join(" "));
  }

  // --- nearest point (a grid over the map, built at the first hover or click) -----------------
  const CELLS = 128;
  function buildGrid() {
    const b = home, n = xs.length, cell = new Int32Array(n), start = new Int32Array(CELLS * CELLS + 1);
    for (let i = 0; i < n; i++) {
      const cx = Math.min(CELLS - 1, ((xs[i] - b.x0) / (b.x1 - b.x0) * CELLS) | 0);
      const cy = Math.min(CELLS - 1, ((ys[i] - b.y0) / (b.y1 - b.y0) * CELLS) | 0);
      cell[i] = cy * CELLS + cx; start[cell[i] + 1]++;
    }
    for (let c = 0; c < CELLS * CELLS; c++) { start[c + 1] += start[c]; }
    const fill = start.slice(0, CELLS * CELLS), members = new Int32Array(n);
    for (let i = 0; i < n; i++) { members[fill[cell[i]]++] = i; }
    grid = {start: start, members: members};
  }
  function nearest(px, py) {  // the drawn point nearest to a pixel, within 8 pixels; -1 if none
    if (!grid) { buildGrid(); }
    const b = home, lo = toMap(px - 8, py + 8), hi = toMap(px + 8, py - 8);
    const cell = function (v, a, z) { return Math.max(0, Math.min(CELLS - 1, Math.floor((v - a) / (z - a) * CELLS))); };
    const cx0 = cell(lo[0], b.x0, b.x1), cx1 = cell(hi[0], b.x0, b.x1);
    const cy0 = cell(lo[1], b.y0, b.y1), cy1 = cell(hi[1], b.y0, b.y1);
    const sx = overlay.clientWidth / (view.x1 - view.x0), sy = overlay.clientHeight / (view.y1 - view.y0);
    let best = -1, bestD = 64;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const c = cy * CELLS + cx;
        for (let k = grid.start[c]; k < grid.start[c + 1]; k++) {
          const i = grid.members[k], dx = (xs[i] - view.x0) * sx - px, dy = (view.y1 - ys[i]) * sy - py;
          const d = dx * dx + dy * dy;
          if (d < bestD || (d === bestD && i > best)) { bestD = d; best = i; }
        }
      }
    }
    return best;
  }
  function hover(px, py) {
    const i = nearest(px, py);
    if (i < 0) { tip.style.display = "none"; return; }
    const show = function (ids) {
      tip.textContent = args.names[codes[i]] + (ids ? " · id " + ids[i] : "");
      const p = toPixel(xs[i], ys[i]);
      Object.assign(tip.style, {display: "block", left: (p[0] + 10) + "px", top: (p[1] - 28) + "px"});
    };
    show(null);
    if (args.ids) {
      const name = args.ids;
      fetched(name, "binary").then(function (data) {  // float64 numbers after an 8-byte header, or JSON text
        if (!data.ids) {
          const head = new TextDecoder().decode(new Uint8Array(data, 0, Math.min(8, data.byteLength)));
          data.ids = head === "F64-IDS\n" ? new Float64Array(data, 8) : JSON.parse(new TextDecoder().decode(data));
        }
        show(data.ids);
      }).catch(function () { delete files[name]; });  // not written yet: ask again later
    }
  }

  // --- the overlay: lasso, box, move / zoom, hover, click --------------------------------------
  function setMode(next) {
    mode = next;
    document.querySelectorAll("#tools button[data-mode]").forEach(function (b) {
      b.classList.toggle("on", b.getAttribute("data-mode") === mode);
    });
    overlay.style.cursor = mode === "pan" ? "grab" : "crosshair";
  }
  function bindOverlay() {
    let path = null, grab = null;
    overlay.addEventListener("pointerdown", function (event) {
      overlay.setPointerCapture(event.pointerId);
      tip.style.display = "none";
      path = [[event.offsetX, event.offsetY]];
      grab = mode === "pan" ? {x: event.offsetX, y: event.offsetY, view: Object.assign({}, view)} : null;
    });
    overlay.addEventListener("pointermove", function (event) {
      if (!path) { hover(event.offsetX, event.offsetY); return; }
      const p = [event.offsetX, event.offsetY];
      if (grab) {
        const dx = (p[0] - grab.x) / overlay.clientWidth * (grab.view.x1 - grab.view.x0);
        const dy = (p[1] - grab.y) / overlay.clientHeight * (grab.view.y1 - grab.view.y0);
        view = {x0: grab.view.x0 - dx, x1: grab.view.x1 - dx, y0: grab.view.y0 + dy, y1: grab.view.y1 + dy};
        path.push(p);
        repaint();
        return;
      }
      if (mode === "box") { path = [path[0], p]; } else { path.push(p); }
      const shown = mode === "box" ? [path[0], [p[0], path[0][1]], p, [path[0][0], p[1]]] : path;
      line.setAttribute("points", shown.map(function (q) { return q.join(","); }).join(" "));
    });
    overlay.addEventListener("pointerup", function (event) {
      if (!path) { return; }
      const done = path;
      path = null; grab = null;
      line.setAttribute("points", "");
      const moved = Math.hypot(event.offsetX - done[0][0], event.offsetY - done[0][1]);
      if (done.length < 3 && moved < 4) {  // a click
        const index = nearest(event.offsetX, event.offsetY);
        setValue(index >= 0 ? {kind: "point", index: index} : {kind: "clear"});
        return;
      }
      if (mode === "pan") { return; }
      const corners = (mode === "box" ? done.slice(0, 2) : done).map(function (q) { return toMap(q[0], q[1]); });
      setValue({kind: "area", x: corners.map(function (c) { return c[0]; }), y: corners.map(function (c) { return c[1]; })});
    });
    overlay.addEventListener("pointerleave", function () { tip.style.display = "none"; });
    overlay.addEventListener("wheel", function (event) {  // zoom around the pointer
      event.preventDefault();
      const factor = Math.exp(Math.max(-0.5, Math.min(0.5, event.deltaY * 0.002)));
      const c = toMap(event.offsetX, event.offsetY);
      view = {x0: c[0] + (view.x0 - c[0]) * factor, x1: c[0] + (view.x1 - c[0]) * factor,
              y0: c[1] + (view.y0 - c[1]) * factor, y1: c[1] + (view.y1 - c[1]) * factor};
      tip.style.display = "none";
      repaint();
    }, {passive: false});
    document.querySelectorAll("#tools button[data-mode]").forEach(function (b) {
      b.addEventListener("click", function () { setMode(b.getAttribute("data-mode")); });
    });
    $("home").addEventListener("click", function () { view = Object.assign({}, home); repaint(); });
    window.addEventListener("resize", repaint);
  }

  // --- a render: new codes (and, once per layout, new coordinates) -----------------------------
  function drawLegend() {
    legend.replaceChildren();
    (args.legend.items || []).forEach(function (item) {
      const row = element("div", "row");
      row.setAttribute("data-testid", "map-legend-item");
      row.setAttribute("data-name", item.name);
      row.setAttribute("data-count", String(item.count));
      row.setAttribute("data-share", String(item.share));
      const dot = element("span", "dot");
      dot.style.background = item.colour;
      row.append(dot, element("span", "", item.label));
      legend.append(row);
    });
    if (args.legend.scale) {
      const bar = element("div", "bar");
      bar.style.background = "linear-gradient(to right," + args.legend.scale.join(",") + ")";
      legend.append(bar);
    }
    (args.legend.notes || []).forEach(function (note) { legend.append(element("div", "note", note)); });
  }
  function useCoordinates(data) {
    xs = new Float32Array(args.n); ys = new Float32Array(args.n);
    for (let i = 0; i < args.n; i++) { xs[i] = data[2 * i]; ys[i] = data[2 * i + 1]; }
    gl.bindBuffer(gl.ARRAY_BUFFER, buffers.xy);
    gl.bufferData(gl.ARRAY_BUFFER, data.subarray(0, 2 * args.n), gl.STATIC_DRAW);
    home = bounds(); view = Object.assign({}, home); grid = null;
    xyName = args.xy;
  }
  function draw(data) {
    if (!gl) { setUp(); bindOverlay(); }
    if (xyName !== args.xy) { useCoordinates(new Float32Array(data)); }
    codes = decodeCodes(args.codes, args.bits, args.n);
    gl.bindBuffer(gl.ARRAY_BUFFER, buffers.colour);
    gl.bufferData(gl.ARRAY_BUFFER, colourBytes(), gl.DYNAMIC_DRAW);
    if (args.sizes) {
      const table = new Uint8Array(256), out = new Uint8Array(codes.length);
      args.sizes.forEach(function (v, i) { table[i] = Math.round(v); });
      for (let i = 0; i < codes.length; i++) { out[i] = table[codes[i]]; }
      gl.bindBuffer(gl.ARRAY_BUFFER, buffers.size);
      gl.bufferData(gl.ARRAY_BUFFER, out, gl.DYNAMIC_DRAW);
    }
    indices = layerOrder();
    if (indices) {
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, buffers.order);
      gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, indices, gl.DYNAMIC_DRAW);
    }
    mark("built");
    paint();
    Object.assign(plot, {mapX: xs, mapY: ys, mapCodes: codes, mapPalette: args.palette, mapNames: args.names});
    plot.setAttribute("data-area", args.area ? JSON.stringify(args.area) : "");
    const done = args;
    finished(function () {  // every point drawn and the frame on screen: tell tests and benchmarks
      mark("drawn");
      plot.setAttribute("data-drawn", String(done.drawn));
      plot.setAttribute("data-renders", String(++renders));
    });
  }
  // calls back once WebGL has finished the points and a frame has been shown. WebGL2 polls a fence at each
  // frame, so the page's own thread stays free for the words around the map; WebGL1 reads a pixel back
  // (which waits for the drawing).
  function finished(callback) {
    const after = function () { requestAnimationFrame(function () { setTimeout(callback, 0); }); };
    if (!gl.fenceSync) {
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
      after();
      return;
    }
    const fence = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0);
    gl.flush();
    (function poll() {
      if (gl.getSyncParameter(fence, gl.SYNC_STATUS) === gl.SIGNALED) { gl.deleteSync(fence); after(); return; }
      requestAnimationFrame(poll);
    })();
  }
  function render(next) {
    mark("args");
    args = next;
    title.textContent = args.title;
    $("stage").style.height = Math.max(200, args.height - 64) + "px";
    drawLegend();
    send("streamlit:setFrameHeight", {height: document.body.scrollHeight});
    fetched(args.xy, "binary").then(function (data) {
      mark("coords");
      // two renders before the coordinates arrive draw once; drawing at the next frame lets the page
      // around the frame paint its new words first
      requestAnimationFrame(function () { if (args === next) { try { draw(data); } catch (error) { fail(error); } } });
    }).catch(fail);
  }
  function fail(error) {
    legend.replaceChildren(element("div", "note", "The map could not be drawn: " + error.message));
  }

  window.addEventListener("message", function (event) {
    if (event.data && event.data.type === "streamlit:render") { render(event.data.args); }
  });
  send("streamlit:componentReady", {apiVersion: 1});
})();
