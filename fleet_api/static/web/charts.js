// Draws every <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">
// (fleet_api/web/charts.py). No inline scripts: the pages keep a strict CSP.
(function () {
  "use strict";
  // At least 3:1 against white, and told apart by more than hue (solid vs. hatched lines).
  var COLOURS = ["#0b5cad", "#b4460b", "#1d7a3a", "#7a2fa8"];

  function draw(canvas) {
    if (typeof Chart === "undefined" || Chart.getChart(canvas)) {
      return;
    }
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var line = spec.type === "line";
    var datasets = spec.datasets.map(function (set, index) {
      var colour = COLOURS[index % COLOURS.length];
      return {
        label: set.label,
        data: set.data,
        backgroundColor: line ? colour : colour + "cc",
        borderColor: colour,
        borderWidth: 2,
        borderDash: line && index % 2 === 1 ? [6, 4] : [],
        pointRadius: line ? 2 : 0,
        spanGaps: true,
      };
    });
    var valueAxis = { beginAtZero: true, title: { display: !!spec.y_title, text: spec.y_title } };
    var labelAxis = { title: { display: !!spec.x_title, text: spec.x_title } };
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        // Numbers on the axes and in tooltips in the page's language, not the browser's.
        locale: document.documentElement.dataset.locale || document.documentElement.lang,
        animation: false,
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        scales: spec.horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  function drawAll(root) {
    root.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof Chart !== "undefined") {
      Chart.defaults.color = "#1b1f24";
      Chart.defaults.font.size = 14;
    }
    drawAll(document);
  });
  // Fragments swapped in by htmx may carry charts too.
  document.addEventListener("htmx:afterSettle", function (event) {
    drawAll(event.target);
  });
})();
