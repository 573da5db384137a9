// The Map page's scatter (a Streamlit component, plain JS on plotly.js WebGL).
// The coordinates come once, as a binary file fetched by URL; every render after that brings only one
// small colour code per point, so moving a threshold resends no coordinates. Areas are drawn on an
// overlay of our own (plotly's lasso recomputes and redraws every point at each mouse move), and
// go back to Python as {kind: "area", x, y} in map coordinates; a click sends {kind: "point", index}.
(function () {
  "use strict";
  const plot = document.getElementById("plot");
  const legend = document.getElementById("legend");
  const overlay = document.getElementById("overlay");
  const line = document.getElementById("line");
  const coordsCache = {};  // file name -> Promise<Float32Array>
  let order = null;        // per drawn trace point: its draw position (only when layers reorder points)
  let xy = null, xs = null, ys = null, xyName = null;
  let lastArgs = null, renders = 0, mode = "lasso", drawnOnce = false;

  function send(type, extra) {
    window.parent.postMessage(Object.assign({isStreamlitMessage: true, type: type}, extra), "*");
  }
  function setValue(value) {
    value.nonce = Date.now() + Math.random();
    send("streamlit:setComponentValue", {value: value, dataType: "json"});
  }

  function coords(name) {
    if (!coordsCache[name]) {
      coordsCache[name] = fetch("./" + name).then(function (reply) {
        if (!reply.ok) { throw new Error("map coordinates not found: " + reply.status); }
        return reply.arrayBuffer();
      }).then(function (buffer) { return new Float32Array(buffer); });
    }
    return coordsCache[name];
  }

  function decodeCodes(text, bits, n) {
    const raw = atob(text);
    const per = 8 / bits, mask = (1 << bits) - 1;
    const codes = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      codes[i] = (raw.charCodeAt(Math.floor(i / per)) >> (bits * (i % per))) & mask;
    }
    return codes;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }  // text, never markup: names come from user data
    return node;
  }

  function drawLegend(args) {
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

  // one trace in draw order; a colour string per point (shared strings: measured 2-3x faster to draw than
  // numbers through a colour scale in headless chromium at 200k points)
  function trace(codes, args) {
    const n = codes.length;
    let x = xs, y = ys;
    const colour = new Array(n), text = new Array(n);
    order = null;
    if (args.layers.length > 1) {  // e.g. flagged rows on top: reorder the points, layer by layer
      order = new Int32Array(n);
      let j = 0;
      args.layers.forEach(function (layer) {
        const wanted = new Uint8Array(256);
        layer.forEach(function (code) { wanted[code] = 1; });
        for (let i = 0; i < n; i++) { if (wanted[codes[i]]) { order[j++] = i; } }
      });
      x = new Float32Array(n); y = new Float32Array(n);
      for (let j2 = 0; j2 < n; j2++) { const i = order[j2]; x[j2] = xs[i]; y[j2] = ys[i]; }
    }
    for (let j = 0; j < n; j++) {
      const code = codes[order ? order[j] : j];
      colour[j] = args.palette[code]; text[j] = args.names[code];
    }
    return {type: "scattergl", mode: "markers", x: x, y: y, text: text, showlegend: false,
            hovertemplate: "%{text}<extra></extra>",
            marker: {color: colour, size: args.marker_size, line: {width: 0}}};
  }

  function areaShape(area) {
    if (!area || !area.x || area.x.length < 2) { return []; }
    const style = {color: "#1f2933", width: 1.5, dash: "dot"};
    if (area.x.length === 2) {  // a box: two corners
      return [{type: "rect", x0: area.x[0], x1: area.x[1], y0: area.y[0], y1: area.y[1], line: style}];
    }
    const path = "M" + area.x.map(function (v, i) { return v + "," + area.y[i]; }).join("L") + "Z";
    return [{type: "path", path: path, line: style}];
  }

  // --- drawing an area on the overlay --------------------------------------------------------
  function axes() {
    const full = plot._fullLayout;
    return {x: full.xaxis, y: full.yaxis, size: full._size};
  }
  function placeOverlay() {
    if (!plot._fullLayout) { return; }
    const a = axes();
    Object.assign(overlay.style, {left: a.size.l + "px", top: a.size.t + "px", width: a.size.w + "px",
                                  height: a.size.h + "px", pointerEvents: mode === "pan" ? "none" : "auto"});
  }
  function setMode(next) {
    mode = next;
    document.querySelectorAll("#tools button").forEach(function (b) {
      b.classList.toggle("on", b.getAttribute("data-mode") === mode);
    });
    Plotly.relayout(plot, {dragmode: mode === "pan" ? "pan" : false});
    placeOverlay();
  }
  function nearest(px, py) {  // the drawn point nearest to a click, within 8 pixels
    const a = axes();
    let best = -1, bestD = 64;
    for (let i = 0; i < xs.length; i++) {
      const dx = a.x.d2p(xs[i]) - px, dy = a.y.d2p(ys[i]) - py, d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  }
  function bindOverlay() {
    let path = null;
    overlay.addEventListener("pointerdown", function (event) {
      overlay.setPointerCapture(event.pointerId);
      path = [[event.offsetX, event.offsetY]];
    });
    overlay.addEventListener("pointermove", function (event) {
      if (!path) { return; }
      const p = [event.offsetX, event.offsetY];
      if (mode === "box") { path = [path[0], p]; } else { path.push(p); }
      const shown = mode === "box" ? [path[0], [p[0], path[0][1]], p, [path[0][0], p[1]]] : path;
      line.setAttribute("points", shown.map(function (q) { return q.join(","); }).join(" "));
    });
    overlay.addEventListener("pointerup", function (event) {
      if (!path) { return; }
      const a = axes(), done = path;
      path = null;
      line.setAttribute("points", "");
      const moved = Math.hypot(event.offsetX - done[0][0], event.offsetY - done[0][1]);
      if (done.length < 3 && moved < 4) {  // a click
        const index = nearest(event.offsetX, event.offsetY);
        if (index >= 0) { setValue({kind: "point", index: index}); } else { setValue({kind: "clear"}); }
        return;
      }
      const corners = mode === "box" ? done.slice(0, 2) : done;
      setValue({kind: "area", x: corners.map(function (q) { return a.x.p2d(q[0]); }),
                y: corners.map(function (q) { return a.y.p2d(q[1]); })});
    });
    document.querySelectorAll("#tools button").forEach(function (b) {
      b.addEventListener("click", function () { setMode(b.getAttribute("data-mode")); });
    });
    plot.on("plotly_relayout", placeOverlay);
  }

  function render(args) {
    lastArgs = args;
    drawLegend(args);
    // a moment's delay lets the page around the frame paint its new words before WebGL takes the thread
    coords(args.xy).then(function (data) {
      return new Promise(function (resolve) { setTimeout(function () { resolve(data); }, 30); });
    }).then(function (data) {
      if (lastArgs !== args) { return; }  // a newer render arrived meanwhile
      if (xyName !== args.xy) {
        xy = data; xyName = args.xy;
        xs = new Float32Array(args.n); ys = new Float32Array(args.n);
        for (let i = 0; i < args.n; i++) { xs[i] = xy[2 * i]; ys[i] = xy[2 * i + 1]; }
      }
      const codes = decodeCodes(args.codes, args.bits, args.n);
      const layout = {
        title: {text: args.title, x: 0, xanchor: "left", font: {size: 16}},
        height: args.height, margin: {l: 10, r: 10, t: 50, b: 10}, dragmode: mode === "pan" ? "pan" : false,
        hovermode: "closest", uirevision: args.xy, plot_bgcolor: "white", paper_bgcolor: "white",
        xaxis: {showticklabels: false, zeroline: false, showgrid: false},
        yaxis: {showticklabels: false, zeroline: false, showgrid: false},
        shapes: areaShape(args.area),
        font: {family: "Inter, Segoe UI, Helvetica, Arial, sans-serif", size: 13},
      };
      return Plotly.react(plot, [trace(codes, args)], layout,
                          {displaylogo: false, responsive: true, scrollZoom: true, modeBarButtons: [["zoomIn2d", "zoomOut2d",
                           "autoScale2d"]]});
    }).then(function () {
      if (!drawnOnce) { drawnOnce = true; bindOverlay(); }
      placeOverlay();
      plot.setAttribute("data-drawn", String(args.drawn));  // tests and benchmarks wait on these
      plot.setAttribute("data-renders", String(++renders));
      send("streamlit:setFrameHeight", {height: document.body.scrollHeight});
    }).catch(function (error) {
      legend.replaceChildren(element("div", "note", "The map could not be drawn: " + error.message));
    });
  }

  window.addEventListener("message", function (event) {
    if (event.data && event.data.type === "streamlit:render") { render(event.data.args); }
  });
  send("streamlit:componentReady", {apiVersion: 1});
  send("streamlit:setFrameHeight", {height: 680});
})();
