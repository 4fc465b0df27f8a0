// The web console's only script: every page works without it. It adds two things:
// a copy button for the report paragraph, and live progress of the broadcasts being sent.
(function () {
  "use strict";

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentElement.querySelector(".copy-status");
    if (!source) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = source.textContent.trim();
      var done = function () { if (status) status.textContent = button.getAttribute("data-copied"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { select(source); });
      } else {
        select(source);
        try { if (document.execCommand("copy")) done(); } catch (e) { /* selected: Ctrl+C does it */ }
      }
    });
  });

  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  var table = document.querySelector("table[data-progress-url]");
  if (!table) return;
  var url = table.getAttribute("data-progress-url");
  var fields = ["targeted", "delivered", "pending", "blocked", "failed", "out_of_window", "cancelled"];

  function active() {
    return Array.prototype.slice.call(table.querySelectorAll("tr[data-broadcast][data-active='1']"));
  }

  function update(row, progress) {
    fields.forEach(function (field) {
      var cell = row.querySelector("[data-field='" + field + "']");
      if (cell) cell.textContent = progress[field];
    });
    var label = row.querySelector("[data-field='status_label']");
    if (label) label.textContent = progress.status_label;
    var bar = row.querySelector("progress");
    if (bar && progress.targeted) {
      bar.max = progress.targeted;
      bar.value = progress.targeted - progress.pending;
    }
    if (!progress.active) {
      row.setAttribute("data-active", "0");
      var cancel = row.querySelector("form");
      if (cancel) cancel.remove();
    }
  }

  function poll() {
    var rows = active();
    if (!rows.length) return;
    var query = rows.map(function (row) { return "id=" + encodeURIComponent(row.getAttribute("data-broadcast")); });
    fetch(url + "?" + query.join("&"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) return null; // signed out: reloading the page leads to sign-in
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (data) {
        if (!data) return;
        data.broadcasts.forEach(function (progress) {
          var row = table.querySelector("tr[data-broadcast='" + progress.id + "']");
          if (row) update(row, progress);
        });
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 10000); });
  }

  window.setTimeout(poll, 1000);
})();
