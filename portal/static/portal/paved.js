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
