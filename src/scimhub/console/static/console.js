// scimhub console: copy buttons and the live events list. Every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    });
  });

  var live = document.querySelector("[data-live]");
  if (live) {
    var note = document.querySelector("[data-live-note]");
    if (note) note.hidden = false;
    setInterval(function () {
      if (document.hidden) return;
      fetch(live.getAttribute("data-live"), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live-rows]");
          var rows = live.querySelector("[data-live-rows]");
          if (fresh && rows && fresh.innerHTML !== rows.innerHTML) rows.innerHTML = fresh.innerHTML;
        })
        .catch(function () {});
    }, 5000);
  }
});
