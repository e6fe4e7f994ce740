// Times in the reader's own time zone, on every page (logged in or not): each
// <time class="ago" datetime="..."> says how long ago (or how long until) it is, and the
// exact time with the zone named beside it ("5 minutes ago · 1 Dec 2026, 19:03 CET"),
// not in a tooltip, for keyboard and touch. The server writes the same element with a UTC
// text, which is what a reader without JavaScript sees. It ticks every 30 s.
(function () {
  "use strict";

  var UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
               ["hour", 3600], ["minute", 60]];

  function ago(when) {
    var seconds = (Date.now() - when.getTime()) / 1000;
    var future = seconds < 0;
    seconds = Math.abs(seconds);
    for (var i = 0; i < UNITS.length; i++) {
      var n = Math.floor(seconds / UNITS[i][1]);
      if (n >= 1) {
        var span = n + " " + UNITS[i][0] + (n === 1 ? "" : "s");
        return future ? "in " + span : span + " ago";
      }
    }
    return future ? "in under a minute" : "just now";
  }

  var EXACT = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short"});

  function exact(when) { return EXACT.format(when); }

  function tick() {
    document.querySelectorAll("time.ago").forEach(function (time) {
      var when = new Date(time.dateTime);
      if (isNaN(when.getTime())) { return; }
      time.textContent = ago(when) + " · " + exact(when);
    });
  }
  tick();
  window.setInterval(tick, 30000);

  window.ConsoleTimes = {ago: ago, exact: exact, tick: tick};
})();
