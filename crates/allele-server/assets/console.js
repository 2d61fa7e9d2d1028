// Draws a uPlot chart above each time-series table. The table stays the
// source of the numbers (and what screen readers and no-JS browsers get);
// the chart is drawn from its rows' data-x (unix seconds) and data-y.
(function () {
  "use strict";
  function draw(figure) {
    if (typeof uPlot === "undefined" || figure.querySelector(".uplot")) return;
    var xs = [], ys = [];
    figure.querySelectorAll("tbody tr[data-x]").forEach(function (row) {
      var x = Number(row.getAttribute("data-x"));
      var y = Number(row.getAttribute("data-y"));
      if (isFinite(x) && isFinite(y)) { xs.push(x); ys.push(y); }
    });
    if (xs.length === 0) return;
    var holder = document.createElement("div");
    holder.className = "chart";
    holder.setAttribute("aria-hidden", "true");
    figure.insertBefore(holder, figure.firstChild);
    var width = Math.max(280, Math.min(900, figure.clientWidth || 640));
    new uPlot({
      width: width,
      height: 220,
      series: [{}, {
        label: figure.getAttribute("data-label") || "value",
        stroke: "#1f6f8b",
        fill: "rgba(31, 111, 139, 0.15)",
        points: { show: xs.length < 60 },
      }],
    }, [xs, ys], holder);
  }
  function drawAll(root) {
    (root || document).querySelectorAll("figure.timeseries").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  // htmx swaps pages in place when it boosts links and forms.
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
})();
