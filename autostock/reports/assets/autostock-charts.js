/* autostock report charts: draws each JSON chart spec of the page (script tags of class
   as-chart-spec) with uPlot (vendored beside this file) into the as-chart div before it.
   The spec is written by autostock/reports/webcharts.py; its fields are documented there. */
(function () {
  "use strict";

  function fmt(spec) {
    var d = spec.decimals || 0, suffix = spec.suffix || "";
    return function (v) {
      if (v == null || !isFinite(v)) return "-";
      return v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }) + suffix;
    };
  }

  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function seriesOpts(s, yfmt) {
    var o = { label: s.label, stroke: s.color, width: s.width, value: function (u, v) { return yfmt(v); } };
    if (s.dash) o.dash = [6, 4];
    if (s.kind === "bars") {
      o.paths = uPlot.paths.bars({ size: [s.bar_size, Infinity], align: s.align });
      o.fill = rgba(s.color, s.alpha);
      o.points = { show: false };
    } else if (s.kind === "area") {
      o.fill = rgba(s.color, s.alpha);
      o.fillTo = 0;
      o.points = { show: false };
    } else if (s.kind === "points") {
      o.paths = function () { return null; };
      o.points = { show: true, size: 5, width: 1, stroke: s.color, fill: s.color };
    } else if (s.kind === "hidden") {
      o.paths = function () { return null; };
      o.points = { show: false };
      o.show = true;
      o.stroke = "transparent";
    } else {
      o.points = { show: false };
    }
    return o;
  }

  function drawExtras(spec) {
    return function (u) {
      var ctx = u.ctx, b = u.bbox, x0, x1, y;
      ctx.save();
      ctx.beginPath();
      ctx.rect(b.left, b.top, b.width, b.height);
      ctx.clip();
      (spec.bands || []).forEach(function (band) {
        x0 = u.valToPos(band[0], "x", true);
        x1 = u.valToPos(band[1], "x", true);
        ctx.fillStyle = rgba(band[2], band[3]);
        ctx.fillRect(x0, b.top, Math.max(x1 - x0, 1), b.height);
      });
      (spec.hlines || []).forEach(function (h) {
        y = u.valToPos(h.value, "y", true);
        ctx.strokeStyle = h.color;
        ctx.lineWidth = h.width * devicePixelRatio;
        ctx.setLineDash(h.dash ? [6 * devicePixelRatio, 4 * devicePixelRatio] : []);
        ctx.beginPath();
        ctx.moveTo(b.left, y);
        ctx.lineTo(b.left + b.width, y);
        ctx.stroke();
      });
      (spec.vlines || []).forEach(function (v) {
        x0 = u.valToPos(v.x, "x", true);
        ctx.strokeStyle = v.color;
        ctx.lineWidth = devicePixelRatio;
        ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
        ctx.beginPath();
        ctx.moveTo(x0, b.top);
        ctx.lineTo(x0, b.top + b.height);
        ctx.stroke();
        if (v.label) {
          ctx.setLineDash([]);
          ctx.fillStyle = v.color;
          ctx.font = 11 * devicePixelRatio + "px sans-serif";
          ctx.fillText(v.label, x0 + 4 * devicePixelRatio, b.top + 14 * devicePixelRatio);
        }
      });
      (spec.boxes || []).forEach(function (bx, k) {
        var xc = u.valToPos(k, "x", true), half = (u.valToPos(k + 0.25, "x", true) - xc);
        function py(v) { return u.valToPos(v, "y", true); }
        ctx.setLineDash([]);
        ctx.strokeStyle = "#000000";
        ctx.lineWidth = devicePixelRatio;
        ctx.fillStyle = rgba(bx.color || "#348dc1", 0.6);
        ctx.fillRect(xc - half, py(bx.q3), 2 * half, py(bx.q1) - py(bx.q3));
        ctx.strokeRect(xc - half, py(bx.q3), 2 * half, py(bx.q1) - py(bx.q3));
        ctx.beginPath();
        ctx.moveTo(xc, py(bx.q3)); ctx.lineTo(xc, py(bx.hi));
        ctx.moveTo(xc, py(bx.q1)); ctx.lineTo(xc, py(bx.lo));
        ctx.moveTo(xc - half / 2, py(bx.hi)); ctx.lineTo(xc + half / 2, py(bx.hi));
        ctx.moveTo(xc - half / 2, py(bx.lo)); ctx.lineTo(xc + half / 2, py(bx.lo));
        ctx.stroke();
        ctx.strokeStyle = "#e67e22";
        ctx.lineWidth = 2 * devicePixelRatio;
        ctx.beginPath();
        ctx.moveTo(xc - half, py(bx.median)); ctx.lineTo(xc + half, py(bx.median));
        ctx.stroke();
      });
      ctx.restore();
    };
  }

  function build(el, spec) {
    var yfmt = fmt(spec.y), x = spec.x, n = spec.data[0].length;
    var xscale = { time: x.kind === "time" }, xaxis = { grid: { stroke: "rgba(0,0,0,0.07)" } };
    if (x.kind === "category") {
      xscale.range = function () { return [-0.5, n - 0.5]; };
      xaxis.splits = function () {
        var step = Math.max(1, Math.ceil(n / 12)), out = [];
        for (var i = 0; i < n; i += step) out.push(i);
        return out;
      };
      xaxis.values = function (u, splits) { return splits.map(function (v) { return x.labels[v]; }); };
    } else if (x.kind === "number") {
      xaxis.values = function (u, splits) { return splits.map(fmt(x)); };
      if (n > 1 && spec.series.some(function (s) { return s.kind === "bars"; })) {
        // half a spacing either side, so that the first and last bars (e.g. histogram bins) show whole
        var pad = (spec.data[0][n - 1] - spec.data[0][0]) / (n - 1) / 2;
        xscale.range = function (u, min, max) { return [min - pad, max + pad]; };
      }
    }
    var yscale = {};
    var yaxis = {};
    if (spec.y.scale === "log") {
      yscale.distr = 3; yscale.log = 10;
      // the data's range (5 % margins, rounded to a tick), not whole decades (0.1 - 10 near 1)
      yscale.range = function (u, min, max) {
        if (min == null || !(min > 0)) return [1, 10];
        var lo = min / 1.05, hi = max * 1.05;
        var mlo = Math.pow(10, Math.floor(Math.log10(lo))), mhi = Math.pow(10, Math.floor(Math.log10(hi)) - 1);
        return [Math.floor(lo / mlo) * mlo, Math.ceil(hi / mhi) * mhi];
      };
      // label every tick of a short log range (uPlot labels only 1, 10, ... there); over a long
      // one, the 1, 2 and 5 of each decade
      yaxis.filter = function (u, splits) {
        return splits.map(function (v) {
          if (splits.length <= 10 || v == null) return v;
          var m = Math.round(v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9)));
          return m === 1 || m === 2 || m === 5 ? v : null;
        });
      };
    }
    if (spec.y.scale === "symlog") {
      var lt = spec.y.linthresh || 1;
      yscale.distr = 4;
      yscale.asinh = lt;
      // ticks at 0 and +-linthresh x 10^k (uPlot's own asinh ticks grid every 1..9 x 10^k)
      yaxis.splits = function (u, i, min, max) {
        var out = min <= 0 && max >= 0 ? [0] : [], top = Math.max(Math.abs(min), Math.abs(max));
        for (var p = lt; p <= top * 1.000001; p *= 10) {
          if (p <= max) out.push(p);
          if (-p >= min) out.unshift(-p);
        }
        return out;
      };
      yaxis.filter = function (u, splits) { return splits; };
    }
    var series = [{
      label: x.label || "",
      value: x.kind === "time" ? "{YYYY}-{MM}-{DD}" : function (u, v) {
        return v == null ? "-" : (x.kind === "category" ? x.labels[v] : fmt(x)(v));
      },
    }].concat(spec.series.map(function (s) { return seriesOpts(s, yfmt); }));
    var opts = {
      title: spec.title,
      width: Math.max(el.clientWidth || 0, 320),
      height: spec.height,
      scales: { x: xscale, y: yscale },
      series: series,
      legend: { show: spec.legend },
      axes: [xaxis, Object.assign(yaxis, {
        label: spec.y.label || undefined,
        size: spec.y.size || function (u, values) {
          if (!values) return 50;
          var w = 0;
          values.forEach(function (v) { w = Math.max(w, String(v).length); });
          return Math.max(50, w * 7 + 14);
        },
        grid: { stroke: "rgba(0,0,0,0.07)" },
        values: function (u, splits) { return splits.map(function (v) { return v == null ? "" : yfmt(v); }); },
      })],
      hooks: { draw: [drawExtras(spec)] },
    };
    if (x.kind === "time") {
      opts.tzDate = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), x.tz || "Etc/UTC"); };
    }
    if (spec.sync) opts.cursor = { sync: { key: spec.sync } };
    var chart = new uPlot(opts, spec.data, el);
    el.setAttribute("data-drawn", "1");
    return chart;
  }

  function drawAll() {
    var charts = [];
    document.querySelectorAll("script.as-chart-spec").forEach(function (tag) {
      var el = tag.previousElementSibling;
      try {
        charts.push([el, build(el, JSON.parse(tag.textContent))]);
      } catch (err) {  // say so in place and in the console; draw the page's other charts
        el.textContent = "chart failed: " + err;
        console.error(err);
      }
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c[1].setSize({ width: Math.max(c[0].clientWidth, 320), height: c[1].height }); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
