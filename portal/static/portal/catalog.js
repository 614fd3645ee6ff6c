// The catalog's reading aids (catalog/templates/catalog/): arrow keys through the header search's suggestions,
// copy buttons on code listings, highlighting of API definitions and Swagger UI for OpenAPI ones. Each runs only
// where its elements (and, for highlighting and Swagger UI, its library, loaded on API pages only) are present.
(function () {
  "use strict";

  // --- search suggestions: ArrowDown/ArrowUp move through them, Enter opens the active one, Escape closes ---
  function options() {
    return Array.prototype.slice.call(document.querySelectorAll("#search-results [role=option], #search-results .paved-search-all"));
  }
  function activate(items, index) {
    items.forEach(function (item, i) {
      var on = i === index;
      item.classList.toggle("active", on);
      item.setAttribute("aria-selected", on ? "true" : "false");
      if (on) {
        if (!item.id) { item.id = "search-option-" + i; }
        var box = document.getElementById("global-search");
        if (box) { box.setAttribute("aria-activedescendant", item.id); }
        item.scrollIntoView({ block: "nearest" });
      }
    });
  }
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || box.id !== "global-search") { return; }
    var items = options();
    if (event.key === "Escape") {
      var results = document.getElementById("search-results");
      if (results) { results.innerHTML = ""; }
      box.removeAttribute("aria-activedescendant");
      return;
    }
    if (!items.length || (event.key !== "ArrowDown" && event.key !== "ArrowUp" && event.key !== "Enter")) { return; }
    var current = items.findIndex(function (item) { return item.classList.contains("active"); });
    if (event.key === "Enter") {
      if (current >= 0) { event.preventDefault(); window.location.assign(items[current].href); }
      return;
    }
    event.preventDefault();
    var next = event.key === "ArrowDown" ? current + 1 : current - 1;
    if (next >= items.length) { next = 0; }
    if (next < 0) { next = items.length - 1; }
    activate(items, next);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target instanceof Element && event.target.id === "search-results") {
      var box = document.getElementById("global-search");
      if (box) { box.removeAttribute("aria-activedescendant"); }
    }
  });

  // --- code listings: copy buttons, highlighting ---
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-paved-copy]") : null;
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-paved-copy"));
    if (!source || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(source.textContent).then(function () {
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
    }, function () {
      button.textContent = "Copy failed: select the text instead";
    });
  });

  function enhance(root) {
    root.querySelectorAll("[data-paved-copy][hidden]").forEach(function (button) {
      if (navigator.clipboard) { button.hidden = false; }
    });
    if (window.hljs) {
      root.querySelectorAll("code[data-paved-highlight]:not([data-highlighted])").forEach(function (code) {
        var language = (code.className.match(/language-(\S+)/) || [])[1];
        if (language && window.hljs.getLanguage(language)) { window.hljs.highlightElement(code); }
      });
    }
    var swagger = root.querySelector("[data-paved-swagger]:not([data-paved-done])");
    if (swagger && window.SwaggerUIBundle) {
      var data = document.getElementById(swagger.getAttribute("data-paved-swagger"));
      if (!data) { return; }
      swagger.setAttribute("data-paved-done", "");
      swagger.textContent = "";
      window.SwaggerUIBundle({
        domNode: swagger,
        spec: JSON.parse(data.textContent),
        // A reading view: no "Try it out" (the page may not reach other origins) and no online validator badge.
        supportedSubmitMethods: [],
        validatorUrl: null,
        deepLinking: false,
        defaultModelsExpandDepth: -1,
        docExpansion: "list"
      });
    }
  }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target instanceof Element) { enhance(event.target); }
  });
})();
