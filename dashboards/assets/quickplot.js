/* Quick drawing of a time-series panel's plotly figure on a <canvas>.
 *
 * plotly.js spends 10-20 ms of the page's main thread on every graph it draws
 * (defaults, axes, text measurement, SVG), so a dashboard of a hundred graphs
 * takes a second or more to appear. The figures the panels send are simple —
 * lines, areas, stacks, points and bars over axes whose ticks the server already
 * chose (dashboards/panels/axis.py) — and a canvas draws one in well under a
 * millisecond. panels.js draws every such panel here first and hands it to plotly
 * (hover, zoom) when the pointer first enters it.
 *
 * SpyglassQuickPlot.quickable(fig) says whether a figure can be drawn here;
 * SpyglassQuickPlot.draw(el, fig, width) draws it into a canvas appended to el. */
(function () {
  var FAMILY = 'Inter, Helvetica, Arial, sans-serif';
  var DASHES = { solid: null, dot: [1, 1], dash: [3, 3], longdash: [5, 5], dashdot: [3, 1, 1, 1] };

  function column(v) {
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof v.bdata === 'string') {
      var bin = atob(v.bdata), bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return v.dtype === 'i4' ? new Int32Array(bytes.buffer) : new Float64Array(bytes.buffer);
    }
    return Array.isArray(v) ? v : [];
  }

  function axisOk(ax) {
    return !!ax && ax.type !== 'log' && Array.isArray(ax.range) && Array.isArray(ax.tickvals);
  }

  function quickable(fig) {
    var L = fig && fig.layout;
    if (!L || !axisOk(L.xaxis) || !axisOk(L.yaxis) || (L.yaxis2 && !axisOk(L.yaxis2))) return false;
    return (fig.data || []).every(function (t) {
      return (t.type === 'scatter' || t.type === 'bar') && (!t.yaxis || t.yaxis === 'y' || (t.yaxis === 'y2' && L.yaxis2));
    });
  }

  function dash(g, spec, width) {
    var w = Math.max(width, 3);
    var base = DASHES[spec || 'solid'];
    if (base === undefined) {  // "10px,5px" lists
      base = String(spec).split(',').map(function (p) { return parseFloat(p) / w; }).filter(isFinite);
    }
    g.setLineDash(base ? base.map(function (x) { return x * w; }) : []);
  }

  // Each trace's y after stacking (plotly's stackgroup, groupnorm "percent"), and the
  // y it stacks on (for fill "tonexty").
  function stacked(traces) {
    var groups = {};
    traces.forEach(function (t) {
      if (!t.stackgroup) { t._top = t._y; return; }
      var grp = groups[t.stackgroup] || (groups[t.stackgroup] = []);
      grp.push(t);
    });
    Object.keys(groups).forEach(function (k) {
      var grp = groups[k], n = grp[0]._y.length;
      var pct = grp.some(function (t) { return t.groupnorm === 'percent'; });
      var total = new Float64Array(n);
      if (pct) {
        grp.forEach(function (t) { for (var i = 0; i < n; i++) total[i] += isFinite(t._y[i]) ? t._y[i] : 0; });
      }
      var base = new Float64Array(n);
      grp.forEach(function (t) {
        var top = new Float64Array(n);
        for (var i = 0; i < n; i++) {
          var v = isFinite(t._y[i]) ? t._y[i] : 0;
          if (pct) v = total[i] ? v * 100 / total[i] : 0;
          top[i] = base[i] + v;
        }
        t._bottom = base; t._top = top; base = top;
      });
    });
  }

  // Line segments of a trace as pixel points, broken at gaps (NaN) unless connectgaps.
  function runs(t, X, Y) {
    var out = [], cur = [], x = t._x, y = t._top, connect = !!t.connectgaps;
    for (var i = 0; i < y.length; i++) {
      var ok = isFinite(y[i]) && isFinite(x[i]) && !(t.stackgroup && !isFinite(t._y[i]));
      if (!ok) { if (!connect && cur.length) { out.push(cur); cur = []; } continue; }
      cur.push([X(x[i]), Y(y[i]), i]);
    }
    if (cur.length) out.push(cur);
    return out;
  }

  function tracePath(g, pts, shape) {
    g.moveTo(pts[0][0], pts[0][1]);
    for (var i = 1; i < pts.length; i++) {
      if (shape === 'hv') g.lineTo(pts[i][0], pts[i - 1][1]);
      else if (shape === 'vh') g.lineTo(pts[i - 1][0], pts[i][1]);
      g.lineTo(pts[i][0], pts[i][1]);
    }
  }

  function drawScatter(g, t, X, Y) {
    var mode = t.mode || 'lines', line = t.line || {};
    var segs = runs(t, X, Y);
    if (t.fill === 'tozeroy' || t.fill === 'tonexty') {
      g.fillStyle = t.fillcolor || line.color;
      segs.forEach(function (pts) {
        g.beginPath();
        tracePath(g, pts, line.shape);
        for (var i = pts.length - 1; i >= 0; i--) {
          var b = t.fill === 'tonexty' && t._bottom ? Y(t._bottom[pts[i][2]]) : Y(0);
          g.lineTo(pts[i][0], b);
        }
        g.closePath();
        g.fill();
      });
    }
    if (mode.indexOf('lines') >= 0 && (line.width === undefined || line.width > 0)) {
      g.strokeStyle = line.color || '#7eb26d';
      g.lineWidth = line.width === undefined ? 2 : line.width;
      g.lineJoin = 'round';
      dash(g, line.dash, g.lineWidth);
      segs.forEach(function (pts) { g.beginPath(); tracePath(g, pts, line.shape); g.stroke(); });
      g.setLineDash([]);
    }
    if (mode.indexOf('markers') >= 0) {
      var mk = t.marker || {}, r = (mk.size || 6) / 2;
      g.fillStyle = mk.color || line.color || '#7eb26d';
      segs.forEach(function (pts) {
        pts.forEach(function (p) { g.beginPath(); g.arc(p[0], p[1], r, 0, 2 * Math.PI); g.fill(); });
      });
    }
  }

  function drawBars(g, bars, layout, X, Yof) {
    if (!bars.length) return;
    var gap = layout.bargap === undefined ? 0.2 : layout.bargap, group = layout.barmode === 'group';
    var slot = Infinity;
    bars.forEach(function (t) {
      for (var i = 1; i < t._x.length; i++) slot = Math.min(slot, Math.abs(X(t._x[i]) - X(t._x[i - 1])));
    });
    if (!isFinite(slot)) slot = 10;
    var width = slot * (1 - gap), each = group ? width / bars.length : width;
    var pos = {}, neg = {};
    bars.forEach(function (t, k) {
      var Y = Yof(t);
      g.fillStyle = (t.marker && t.marker.color) || '#7eb26d';
      for (var i = 0; i < t._x.length; i++) {
        var v = t._y[i];
        if (!isFinite(v)) continue;
        var x0 = X(t._x[i]) - width / 2 + (group ? k * each : 0), b = 0;
        if (!group) {
          var acc = v >= 0 ? pos : neg;
          b = acc[i] || 0; acc[i] = b + v;
        }
        var y0 = Y(b), y1 = Y(b + v);
        g.fillRect(x0, Math.min(y0, y1), each, Math.abs(y1 - y0));
      }
    });
  }

  function draw(el, fig, width) {
    var L = fig.layout, m = L.margin || {};
    var ml = m.l === undefined ? 80 : m.l, mr = m.r === undefined ? 80 : m.r;
    var mt = m.t === undefined ? 100 : m.t, mb = m.b === undefined ? 80 : m.b;
    var W = Math.max(width, ml + mr + 10), H = L.height || el.clientHeight || 200;
    var pw = W - ml - mr, ph = H - mt - mb;
    var canvas = document.createElement('canvas');
    var dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    canvas.style.width = W + 'px'; canvas.style.height = H + 'px'; canvas.style.display = 'block';
    canvas.className = 'sg-quick';
    var g = canvas.getContext('2d');
    g.scale(dpr, dpr);
    var xr = L.xaxis.range;
    var X = function (v) { return ml + (v - xr[0]) / (xr[1] - xr[0]) * pw; };
    var scale = function (ax) {
      var r = ax.range;
      return function (v) { return mt + ph - (v - r[0]) / (r[1] - r[0]) * ph; };
    };
    var Y1 = scale(L.yaxis), Y2 = L.yaxis2 ? scale(L.yaxis2) : Y1;
    var font = L.font || {};
    g.font = (font.size || 12) + 'px ' + (font.family || FAMILY);
    // grid
    g.lineWidth = 1;
    var inX = function (v) { return v >= xr[0] && v <= xr[1]; };
    var inY = function (ax, v) { return v >= Math.min(ax.range[0], ax.range[1]) && v <= Math.max(ax.range[0], ax.range[1]); };
    g.strokeStyle = L.xaxis.gridcolor || '#eee';
    L.xaxis.tickvals.forEach(function (v) {
      if (!inX(v)) return;
      var x = Math.round(X(v)) + 0.5;
      g.beginPath(); g.moveTo(x, mt); g.lineTo(x, mt + ph); g.stroke();
    });
    if (L.yaxis.visible !== false) {
      g.strokeStyle = L.yaxis.gridcolor || '#eee';
      L.yaxis.tickvals.forEach(function (v) {
        if (!inY(L.yaxis, v)) return;
        var y = Math.round(Y1(v)) + 0.5;
        g.beginPath(); g.moveTo(ml, y); g.lineTo(ml + pw, y); g.stroke();
      });
    }
    // labels
    var label = function (ax) { return (ax.tickfont && ax.tickfont.color) || font.color || '#444'; };
    g.fillStyle = label(L.xaxis); g.textAlign = 'center'; g.textBaseline = 'top';
    L.xaxis.tickvals.forEach(function (v, i) { if (inX(v)) g.fillText(String(L.xaxis.ticktext[i]), X(v), mt + ph + 4); });
    var yLabels = function (ax, Y, x, align) {
      if (ax.visible === false) return;
      g.fillStyle = label(ax); g.textAlign = align; g.textBaseline = 'middle';
      ax.tickvals.forEach(function (v, i) { if (inY(ax, v)) g.fillText(String(ax.ticktext[i]), x, Y(v)); });
    };
    yLabels(L.yaxis, Y1, ml - 3, 'right');
    if (L.yaxis2) yLabels(L.yaxis2, Y2, ml + pw + 3, 'left');
    var title = L.yaxis.title && L.yaxis.title.text;
    if (title && L.yaxis.visible !== false) {
      g.save(); g.translate(8, mt + ph / 2); g.rotate(-Math.PI / 2);
      g.fillStyle = font.color || '#444'; g.textAlign = 'center'; g.textBaseline = 'middle';
      var tmp = document.createElement('span'); tmp.innerHTML = title;  // plotly's escaping of names
      g.fillText(tmp.textContent, 0, 0);
      g.restore();
    }
    // data, clipped to the plot area
    g.save();
    g.beginPath(); g.rect(ml, mt, pw, ph); g.clip();
    var traces = fig.data.filter(function (t) { return t.visible !== false; });
    traces.forEach(function (t) { t._x = column(t.x); t._y = column(t.y); });
    stacked(traces.filter(function (t) { return t.type === 'scatter'; }));
    var Yof = function (t) { return t.yaxis === 'y2' ? Y2 : Y1; };
    drawBars(g, traces.filter(function (t) { return t.type === 'bar'; }), L, X, Yof);
    traces.forEach(function (t) { if (t.type === 'scatter') drawScatter(g, t, X, Yof(t)); });
    g.restore();
    traces.forEach(function (t) { delete t._x; delete t._y; delete t._top; delete t._bottom; });
    el.appendChild(canvas);
    return canvas;
  }

  window.SpyglassQuickPlot = { quickable: quickable, draw: draw };
})();
