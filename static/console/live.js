// The live connection every page of a logged-in person keeps: the unread badge, desktop
// alerts, and new notifications for the feed. It reconnects with backoff and, after any
// gap, asks for what it missed ("resume") from the newest id it holds; ids it already
// holds are dropped, so nothing is missing and nothing is shown twice. A page that shows
// one build, app or rack names it in a data-watch element: the socket watches it each time
// it (re)connects, and its "build", "app", "app_state" and "rack" messages go to the
// page's script (watch.js).
(function () {
  "use strict";

  var PATH = "/ws/notifications/";
  var CLOSE_NOT_LOGGED_IN = 4401;
  var BACKOFF_FIRST_MS = 500;
  var BACKOFF_MAX_MS = 30000;

  var badge = document.getElementById("unread-badge");
  var watched = document.querySelector("[data-watch]");
  var stateLabel = document.getElementById("live-state");
  var listeners = {};
  var seen = new Set();
  // The newest feed id when the page was made: everything after it must reach us.
  var newest = Number(document.body.dataset.latestId || 0);
  var resumeFrom = newest;
  var socket = null;
  var attempts = 0;
  var stopped = false;
  var retryTimer = null;

  function emit(type, payload, fresh) {
    (listeners[type] || []).forEach(function (fn) {
      try { fn(payload, fresh); } catch (err) { console.error(err); }
    });
  }

  function setState(text) {
    if (stateLabel) {
      stateLabel.textContent = text;
      stateLabel.dataset.state = text;
    }
    document.body.dataset.liveState = text;
  }

  function setBadge(count) {
    if (!badge) { return; }
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.dataset.count = String(count);
    badge.hidden = count === 0;
    var title = document.title.replace(/^\(\d+\+?\) /, "");
    document.title = count ? "(" + (count > 99 ? "99+" : count) + ") " + title : title;
  }

  // --- desktop alerts (opt-in, only while the tab is hidden) -------------------------
  var desktopButton = document.getElementById("desktop-notify");
  function desktopWanted() {
    return "Notification" in window && window.Notification.permission === "granted" &&
      window.localStorage.getItem("console.desktop") === "on";
  }
  function showDesktopButton() {
    if (!desktopButton || !("Notification" in window)) { return; }
    desktopButton.hidden = window.Notification.permission === "denied";
    desktopButton.textContent = desktopWanted() ? "Desktop alerts: on" : "Desktop alerts: off";
  }
  if (desktopButton) {
    desktopButton.addEventListener("click", function () {
      if (desktopWanted()) {
        window.localStorage.setItem("console.desktop", "off");
        showDesktopButton();
        return;
      }
      window.Notification.requestPermission().then(function (answer) {
        window.localStorage.setItem("console.desktop", answer === "granted" ? "on" : "off");
        showDesktopButton();
      });
    });
    showDesktopButton();
  }
  function alertDesktop(item) {
    if (!document.hidden || !desktopWanted()) { return; }
    var alert = new window.Notification("Rack Console", {body: item.message, tag: "n" + item.id});
    alert.onclick = function () { window.focus(); alert.close(); };
  }

  // --- the socket --------------------------------------------------------------------
  function onMessage(event) {
    var message;
    try { message = JSON.parse(event.data); } catch (err) { return; }
    if (message.type === "unread_count") {
      setBadge(message.count);
    } else if (message.type === "notification") {
      var item = message.notification;
      if (seen.has(item.id)) { return; }
      seen.add(item.id);
      var fresh = item.id > newest;
      newest = Math.max(newest, item.id);
      resumeFrom = Math.max(resumeFrom, item.id);
      // Fresh: newer than anything this page knew of (not a replay of the recent window).
      emit("notification", item, fresh);
      // A live notification carries its user's unread count; a replayed one does not
      // (the replay ends with the count).
      if (typeof message.unread_count === "number") { setBadge(message.unread_count); }
      if (fresh && !item.read) { alertDesktop(item); }
    } else if (message.type === "resync") {
      emit("resync", null);
    } else if (message.type === "build" || message.type === "app" ||
               message.type === "app_state" || message.type === "rack" ||
               message.type === "watching") {
      emit(message.type, message);
    }
  }

  function connect() {
    retryTimer = null;
    if (stopped) { return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + PATH);
    setState("connecting");
    socket.onopen = function () {
      attempts = 0;
      setState("live");
      // Always: it fetches what the gap missed and re-counts the unread badge.
      socket.send(JSON.stringify({type: "resume", after: resumeFrom}));
      if (watched && watched.dataset.watchBuild) {
        socket.send(JSON.stringify({type: "watch", build: watched.dataset.watchBuild}));
      } else if (watched && watched.dataset.watchApp) {
        socket.send(JSON.stringify({type: "watch", app: watched.dataset.watchApp}));
      } else if (watched && watched.dataset.watchRack) {
        socket.send(JSON.stringify({type: "watch", rack: Number(watched.dataset.watchRack)}));
      }
    };
    socket.onmessage = onMessage;
    socket.onclose = function (event) {
      socket = null;
      if (event.code === CLOSE_NOT_LOGGED_IN) {
        stopped = true;
        setState("logged out");
        emit("logged-out", null);
        return;
      }
      setState("offline");
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (stopped || retryTimer) { return; }
    var delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, attempts));
    attempts += 1;
    retryTimer = window.setTimeout(connect, delay * (0.75 + Math.random() * 0.5));
  }

  window.addEventListener("online", function () {
    if (!socket && !stopped) {
      window.clearTimeout(retryTimer);
      retryTimer = null;
      attempts = 0;
      connect();
    }
  });

  // --- small page glue ---------------------------------------------------------------
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  // Relative and exact times are times.js's, loaded before this on every page.
  var times = window.ConsoleTimes;

  window.ConsoleLive = {
    on: function (type, fn) { (listeners[type] = listeners[type] || []).push(fn); },
    // The feed tells us what it already shows, so a replay of those is dropped.
    hold: function (id) {
      seen.add(id);
      resumeFrom = Math.max(resumeFrom, id);
    },
    setBadge: setBadge,
    ago: times.ago,
    exact: times.exact,
    tick: times.tick,
    // For tests: drop the connection as a network cut would.
    drop: function () { if (socket) { socket.close(); } },
  };

  connect();
})();
