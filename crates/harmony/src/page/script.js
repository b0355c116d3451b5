// The results page's only script: the filter box, "only failures", and opening the panel a
// cell links to. Without it the page reads the same and every panel still expands.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var filter = document.getElementById("filter");
  var only = document.getElementById("only-failures");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#results tbody tr"));
  var panels = Array.prototype.slice.call(document.querySelectorAll("details.detail"));

  function apply() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var hiddenRows = {};
    var visible = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute("data-search") || "";
      var hide = (only.checked && row.getAttribute("data-failing") !== "true") ||
        words.some(function (word) { return text.indexOf(word) < 0; });
      row.hidden = hide;
      hiddenRows[row.id] = hide;
      if (!hide) { visible += 1; }
    });
    panels.forEach(function (panel) {
      panel.hidden = hiddenRows[panel.getAttribute("data-row")] === true;
    });
    shown.textContent = visible + " of " + rows.length + " scenarios shown";
  }

  function open(id) {
    var panel = id && document.getElementById(id);
    if (panel && panel.tagName === "DETAILS") { panel.open = true; }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.cell-link");
    if (link) { open(link.getAttribute("href").slice(1)); }
  });
  window.addEventListener("hashchange", function () { open(location.hash.slice(1)); });
  filter.addEventListener("input", apply);
  only.addEventListener("change", apply);
  open(location.hash.slice(1));
  apply();
})();
