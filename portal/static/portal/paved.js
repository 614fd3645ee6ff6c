// Paved's own behaviour on top of htmx: show the global progress bar for every htmx request.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function () {
    var bar = document.getElementById("loading");
    if (bar) { bar.classList.add("htmx-request"); }
  });
  document.addEventListener("htmx:afterRequest", function () {
    var bar = document.getElementById("loading");
    if (bar) { bar.classList.remove("htmx-request"); }
  });
})();

// Buttons that remove the form they sit in (e.g. Cancel on a form htmx loaded into the page), instead of an inline
// onclick, which the Content-Security-Policy refuses.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-paved-remove]") : null;
    if (!button) { return; }
    var target = button.closest(button.getAttribute("data-paved-remove"));
    if (target) { event.preventDefault(); target.remove(); }
  });
})();

// On-call times: the server prints UTC (and the schedule's zone beside it); show the viewer's own time instead.
(function () {
  "use strict";
  var long = { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  var short = { hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  function localise() {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    document.querySelectorAll("time[data-paved-local]:not([data-paved-done])").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      var options = el.getAttribute("data-paved-format") === "time" ? short : long;
      el.textContent = new Intl.DateTimeFormat(undefined, options).format(when);
      el.title = "Your time (" + zone + ")";
      el.setAttribute("data-paved-done", "");
    });
  }
  document.addEventListener("DOMContentLoaded", localise);
  document.addEventListener("htmx:afterSettle", localise);
})();
