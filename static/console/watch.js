// Live build, app and rack pages. live.js watches the page's build, app or rack over the
// websocket and hands its messages here: a build page sets its status and appends logs as
// they grow; an app page does the same for the builds it lists and, when something new
// happens to the app (a build it does not list, a notification), re-reads its own parts
// from the server (data-live-part), so their markup exists once, in the templates; a rack
// page re-reads its activity when the rack has a new notification.
// Logs and names are text from racks: only ever set with textContent.
(function () {
  "use strict";

  var live = window.ConsoleLive;
  var page = document.querySelector("[data-watch]");
  if (!live || !page) { return; }

  // An update racing the snapshot may repeat the snapshot's tail (see the README).
  var SNAPSHOT_OVERLAP_MS = 3000;
  var REFRESH_AT_MOST_EVERY_MS = 1000;

  function showBuild(holder, build, logs, snapshot) {
    var status = holder.querySelector("[data-build-status]");
    if (status && status.textContent !== build.status) {
      status.textContent = build.status;
      status.className = "pill " + build.status;
    }
    var pre = holder.querySelector("[data-build-logs]");
    if (!pre) { return; }
    if (snapshot) {
      pre.textContent = logs;
      pre.dataset.snapshotAt = String(Date.now());
    } else if (logs) {
      var recent = Date.now() - Number(pre.dataset.snapshotAt || 0) < SNAPSHOT_OVERLAP_MS;
      if (!(recent && pre.textContent.endsWith(logs))) {
        pre.appendChild(document.createTextNode(logs));
      }
    }
    var none = holder.querySelector("[data-no-logs]");
    if (none) { none.hidden = pre.textContent !== ""; }
    var ended = holder.querySelector("[data-build-ended]");
    if (ended && build.ended_at && ended.hidden) {
      var time = ended.querySelector("time");
      time.dateTime = build.ended_at;
      ended.hidden = false;
      live.tick();
    }
  }

  // --- a build's page ------------------------------------------------------------------
  if (page.dataset.watchBuild) {
    live.on("build", function (message) {
      if (message.build.id === page.dataset.watchBuild) {
        showBuild(page, message.build, message.logs, message.snapshot === true);
      }
    });
    return;
  }

  // --- an app's or a rack's page ----------------------------------------------------------
  var wanted = new Set();
  var timer = null;
  var lastRefresh = 0;

  function refresh(parts) {
    parts.forEach(function (part) { wanted.add(part); });
    if (timer) { return; }
    var wait = Math.max(0, lastRefresh + REFRESH_AT_MOST_EVERY_MS - Date.now());
    timer = window.setTimeout(function () {
      var names = Array.from(wanted);
      wanted.clear();
      lastRefresh = Date.now();
      window.fetch(window.location.pathname, {credentials: "same-origin"})
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          names.forEach(function (name) { swap(name, fresh); });
          live.tick();
        })
        .catch(function () { /* the next message or a reload brings it */ })
        .then(function () { timer = null; if (wanted.size) { refresh([]); } });
    }, wait);
  }

  function swap(name, fresh) {
    var selector = '[data-live-part="' + name + '"]';
    var old = document.querySelector(selector);
    var replacement = fresh.querySelector(selector);
    if (!old || !replacement) { return; }
    // Builds someone opened stay open; so do other disclosures (the activity's table),
    // which are the same in number and order.
    old.querySelectorAll("details[open][data-build-id]").forEach(function (details) {
      var same = replacement.querySelector('[data-build-id="' + details.dataset.buildId + '"]');
      if (same) { same.open = true; }
    });
    var others = replacement.querySelectorAll("details:not([data-build-id])");
    old.querySelectorAll("details:not([data-build-id])").forEach(function (details, n) {
      if (details.open && others[n]) { others[n].open = true; }
    });
    old.replaceWith(document.adoptNode(replacement));
  }

  if (page.dataset.watchRack) {
    live.on("rack", function () { refresh(["activity"]); });
    // What happened between the page's making and the watch, or while the socket was away.
    live.on("watching", function () { refresh(["activity"]); });
    return;
  }

  live.on("build", function (message) {
    var holder = document.querySelector('[data-build-id="' + message.build.id + '"]');
    if (!holder) {
      refresh(["builds"]);
      return;
    }
    var before = holder.querySelector("[data-build-status]").textContent;
    showBuild(holder, message.build, message.logs, false);
    // A build's end makes a release (or not): the releases say which is live.
    if (before !== message.build.status) { refresh(["releases"]); }
  });
  live.on("app", function () {
    refresh(["status", "formation", "releases", "timeline", "activity"]);
  });
  // The app's status or formation changed with no notification (a sync, a promote
  // followed on a connected rack).
  live.on("app_state", function () { refresh(["status", "formation", "releases"]); });
  // What happened between the page's making and the watch (a build that ended
  // meanwhile), or while the socket was away.
  live.on("watching", function () {
    refresh(["status", "formation", "builds", "releases", "timeline", "activity"]);
  });
})();
