// A webhook's delivery log while a delivery in it is about to be sent (a test event, a
// redelivery): the server marks the log [data-refreshing], and this re-reads the page
// every few seconds and swaps the log in, until nothing in it is on its way. The markup
// exists once, in the template; without this script the log has a refresh link.
(function () {
  "use strict";

  var EVERY_MS = 2000;
  var AT_MOST = 30; // a minute: a receiver slower than that is seen on the next visit
  var SELECTOR = '[data-live-part="deliveries"]';
  var reads = 0;

  function openOnes(part) {
    return Array.from(part.querySelectorAll("details[open]")).map(function (details) {
      var row = details.closest("tr");
      var inRow = row ? Array.from(row.querySelectorAll("details")).indexOf(details) : -1;
      return row ? [row.id, inRow] : null;
    }).filter(Boolean);
  }

  function reopen(part, opened) {
    opened.forEach(function (where) {
      var row = part.querySelector("#" + CSS.escape(where[0]));
      var details = row && row.querySelectorAll("details")[where[1]];
      if (details) { details.open = true; }
    });
  }

  function later() {
    var part = document.querySelector(SELECTOR);
    if (!part || !part.hasAttribute("data-refreshing") || reads >= AT_MOST) { return; }
    window.setTimeout(read, EVERY_MS);
  }

  function read() {
    reads += 1;
    window.fetch(window.location.pathname, {credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var old = document.querySelector(SELECTOR);
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(SELECTOR);
        if (!old || !fresh) { return; }
        var opened = openOnes(old);
        var replacement = document.adoptNode(fresh);
        reopen(replacement, opened);
        old.replaceWith(replacement);
      })
      .catch(function () { /* the refresh link or the next visit shows it */ })
      .then(later);
  }

  later();
})();
