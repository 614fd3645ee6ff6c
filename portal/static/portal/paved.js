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
// Outcomes: a Cancel that is a link (`<a href=… data-paved-remove=…>`) and was on the page as it loaded (the form
// opened as a page of its own, in a new tab or from a shared link) follows its link instead of blanking the page.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("a[href][data-paved-remove]").forEach(function (link) {
      link.setAttribute("data-paved-loaded-with-page", "");
    });
  });
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-paved-remove]") : null;
    if (!button) { return; }
    if (button.hasAttribute("data-paved-loaded-with-page")) { return; }
    var target = button.closest(button.getAttribute("data-paved-remove"));
    if (target) { event.preventDefault(); target.remove(); }
  });
})();

// --- Outcomes (portal/http.py): toasts for every htmx answer, errors included --------------------------------------
// The server says what happened through the showMessage event of HX-Trigger ({"messages": [{message, level}]});
// a refused form (400/403/409/422) is swapped in place by htmx's responseHandling (base.html); any other error
// status, or no answer at all, gets a generic error toast here so nothing fails silently.
(function () {
  "use strict";
  var SUCCESS_TOAST_MS = 6000;

  function showToast(text, level) {
    var region = document.getElementById("toasts");
    var template = document.getElementById("toast-template");
    if (!region || !template) { return; }
    var toast = template.content.firstElementChild.cloneNode(true);
    level = ["success", "info", "warning", "error"].indexOf(level) >= 0 ? level : "info";
    toast.className = toast.className.replace(/paved-toast-\S+/, "paved-toast-" + level);
    toast.setAttribute("data-level", level);
    toast.setAttribute("role", level === "error" || level === "warning" ? "alert" : "status");
    toast.querySelector(".paved-toast-text").textContent = text;
    region.appendChild(toast);
    expire(toast);
  }

  function expire(toast) {
    var level = toast.getAttribute("data-level");
    if (level === "success" || level === "info") {
      window.setTimeout(function () { toast.remove(); }, SUCCESS_TOAST_MS);
    }
  }

  function saysSomething(xhr) {
    var header = xhr && xhr.getResponseHeader("HX-Trigger");
    return !!header && header.indexOf("showMessage") >= 0;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#toasts .toast").forEach(expire);
  });
  document.addEventListener("showMessage", function (event) {
    var items = (event.detail && event.detail.messages) || [];
    items.forEach(function (item) { showToast(String(item.message || ""), item.level); });
  });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (saysSomething(xhr)) { return; }
    var status = xhr ? xhr.status : 0;
    if (status >= 500) {
      showToast("Paved hit an unexpected error (" + status + "). It has been logged; please try again.", "error");
    } else if (status === 404) {
      showToast("Not found: it may have been moved or deleted. Reload the page to see what is there now.", "error");
    } else {
      showToast("That did not work (" + status + "). Reload the page and try again.", "error");
    }
  });
  document.addEventListener("htmx:sendError", function () {
    showToast("Paved could not be reached. Check your connection and try again.", "error");
  });
  document.addEventListener("htmx:timeout", function () {
    showToast("Paved took too long to answer. Please try again.", "error");
  });

  // A form whose hx-target is not on this page (it was opened as a page of its own) is posted as a plain form, so
  // the server answers with a redirect or the page again rather than htmx giving up.
  document.addEventListener("htmx:targetError", function (event) {
    var elt = event.detail.elt;
    var form = elt instanceof HTMLFormElement ? elt : elt && elt.closest ? elt.closest("form") : null;
    if (!form) { return; }
    if (elt !== form && elt.name) {
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = elt.name;
      hidden.value = elt.value;
      form.appendChild(hidden);
    }
    var action = elt !== form && elt.getAttribute("formaction");
    if (action) { form.action = action; }
    HTMLFormElement.prototype.submit.call(form);
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

// --- on-call contacts: one-click copy of a phone number, chat handle or channel (data-paved-copy="text") ----------
(function () {
  "use strict";
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "paved-copy-buffer";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (error) { done = false; }
    area.remove();
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-paved-copy]") : null;
    if (!button) { return; }
    event.preventDefault();
    var text = button.getAttribute("data-paved-copy") || "";
    var copying = navigator.clipboard && window.isSecureContext ? navigator.clipboard.writeText(text) : fallbackCopy(text);
    copying.then(function () {
      button.textContent = "copied";
      button.classList.add("is-copied");
    }, function () {
      button.textContent = "select and copy";
    }).then(function () {
      window.setTimeout(function () { button.textContent = "copy"; button.classList.remove("is-copied"); }, 1500);
    });
  });
})();
