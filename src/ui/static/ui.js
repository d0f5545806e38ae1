// hookd's progressive enhancement, written for hookd. Every page works without it; with it,
// a form marked `data-swap="#target"` is posted in the background and the HTML fragment the
// server answers replaces the target's content, so an action's result shows in place. A form
// that also has `data-refresh="#section"` reloads that section afterwards from the URL in the
// section's `data-src` (the timeline after a trigger). Fragment requests carry the header
// `X-Hookd-Fragment`; the server answers them with the fragment alone.
(function () {
  "use strict";

  var FRAGMENT_HEADER = "X-Hookd-Fragment";

  function find(selector) {
    return selector ? document.querySelector(selector) : null;
  }

  // Replaces `target`'s children with the parsed `html`, then moves focus to the new content
  // so keyboard and screen-reader users land on the result.
  function swap(target, html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var nodes = Array.prototype.slice.call(doc.body.childNodes);
    target.replaceChildren.apply(target, nodes.map(function (n) {
      return document.importNode(n, true);
    }));
    var focusable = target.querySelector("[tabindex='-1']");
    if (focusable) {
      focusable.focus();
    }
  }

  // Reloads a section that names its own source, replacing the section itself.
  function refresh(section) {
    var source = section && section.getAttribute("data-src");
    if (!source) {
      return Promise.resolve();
    }
    return fetch(source, {
      credentials: "same-origin",
      headers: { [FRAGMENT_HEADER]: "1" },
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.body.firstElementChild;
        if (fresh) {
          section.replaceWith(document.importNode(fresh, true));
        }
      });
  }

  function send(form) {
    var target = find(form.getAttribute("data-swap"));
    if (!target) {
      return false;
    }
    var body = new URLSearchParams(new FormData(form));
    form.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        [FRAGMENT_HEADER]: "1",
      },
      body: body,
    })
      .then(function (response) {
        if (response.redirected) {
          // Signed out meanwhile, or a page to go to: follow it as a plain form would.
          window.location.assign(response.url);
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) {
          return null;
        }
        swap(target, html);
        return refresh(find(form.getAttribute("data-refresh")));
      })
      .catch(function () {
        // The network failed: fall back to the plain form post, which shows its own error.
        form.removeAttribute("data-swap");
        form.submit();
      })
      .finally(function () {
        form.removeAttribute("aria-busy");
      });
    return true;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-swap")) {
      return;
    }
    if (form.method.toLowerCase() !== "post") {
      return;
    }
    if (send(form)) {
      event.preventDefault();
    }
  });
})();
