// ingestflow dashboard: refreshes the page's [data-refresh] sections in place and sends retries.
// Everything works without this script except the Retry buttons (they need a POST with JSON).
"use strict";
(function () {
  var seconds = Number(document.body.dataset.refreshSeconds || 0);
  var state = document.querySelector(".refresh-state");
  var busy = false;

  function say(text) { if (state) state.textContent = text ? " · " + text : ""; }

  function editing() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA");
  }

  function refresh() {
    if (busy || document.hidden || editing()) return Promise.resolve();
    busy = true;
    return fetch(location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) { say("signed out: reload to sign in"); seconds = 0; return null; }
        if (!response.ok) { say("refresh failed (HTTP " + response.status + ")"); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-refresh][id]").forEach(function (old) {
          var next = fresh.getElementById(old.id);
          if (next && !old.contains(document.activeElement)) old.replaceWith(document.importNode(next, true));
        });
        say("");
      })
      .catch(function () { say("server unreachable, retrying"); })
      .finally(function () { busy = false; });
  }

  function retry(button, body) {
    var result = button.parentElement.querySelector(".action-result");
    button.disabled = true;
    fetch("/api/retry", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        if (!result) return;
        if (!answer.ok) { result.textContent = "Not retried: " + (answer.data.error || "error"); return; }
        var n = answer.data.retried;
        result.textContent = n === 1 ? "Retried: 1 file is back in TODO." : "Retried: " + n + " files are back in TODO.";
        if (answer.data.skipped && answer.data.skipped.length) {
          result.textContent += " Skipped (not FAILED): " + answer.data.skipped.length + ".";
        }
      })
      .catch(function () { if (result) result.textContent = "Not retried: the server did not answer."; })
      .finally(function () {
        button.disabled = false;
        setTimeout(refresh, 300);
      });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-retry-key], button[data-retry-failed]");
    if (!button) return;
    if (button.hasAttribute("data-retry-key")) {
      retry(button, { keys: [button.getAttribute("data-retry-key")] });
      return;
    }
    if (button.dataset.armed !== "yes") {  // a second click confirms a bulk retry
      button.dataset.armed = "yes";
      button.dataset.label = button.textContent;
      button.textContent = button.getAttribute("data-confirm") || "Click again to confirm";
      setTimeout(function () {
        if (button.dataset.armed === "yes") { button.dataset.armed = ""; button.textContent = button.dataset.label; }
      }, 8000);
      return;
    }
    button.dataset.armed = "";
    button.textContent = button.dataset.label;
    var workflow = button.getAttribute("data-retry-failed");
    retry(button, workflow ? { failed: true, workflow: workflow } : { failed: true });
  });

  if (seconds > 0) setInterval(refresh, seconds * 1000);
  window.ingestflowRefresh = refresh;
})();
