// The feed: pages from the REST API (newest first, cursor "next" for infinite scroll),
// new notifications from the live connection, filters, and read/unread marks.
// On a rack's page the pages are the rack's history (data-list): everything that
// happened on it, with read/unread marks on what is in the reader's own feed.
// Messages are text from racks: they are only ever set with textContent.
(function () {
  "use strict";

  var root = document.querySelector("[data-feed]");
  if (!root) { return; }
  var api = root.dataset.api;
  // The mark-on-open view's URL with 0 for the id ({% url %} in the template).
  var openUrl = root.dataset.openUrl;
  var undo = root.querySelector("[data-undo]");
  var undoIds = null;
  var pages = root.dataset.list || api;
  var list = root.querySelector("[data-items]");
  var end = root.querySelector("[data-feed-end]");
  var note = root.querySelector("[data-feed-note]");
  var filters = root.querySelector("[data-filters]");
  var sentinel = root.querySelector("[data-sentinel]");
  var live = window.ConsoleLive;
  var shown = new Map();
  var next = null;
  var loading = false;
  var generation = 0;

  // --- talking to the API ------------------------------------------------------------
  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function request(method, url, body) {
    var headers = {"Accept": "application/json", "X-CSRFToken": csrfToken()};
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    return window.fetch(url, {
      method: method,
      credentials: "same-origin",
      // A page reached by "back" would otherwise be shown read state from before it left.
      cache: "no-store",
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (!response.ok) { throw new Error("The console answered " + response.status + "."); }
      return response.status === 204 ? {} : response.json();
    });
  }

  function sameOrigin(url) {
    var parsed = new URL(url, window.location.href);
    return parsed.pathname + parsed.search;
  }

  function currentFilters() {
    var wanted = {};
    if (root.dataset.fixedRack) { wanted.rack = root.dataset.fixedRack; }
    new FormData(filters).forEach(function (value, name) {
      if (value !== "") { wanted[name] = String(value).trim(); }
    });
    return wanted;
  }

  function query() {
    var params = new URLSearchParams(currentFilters());
    var text = params.toString();
    return pages + (text ? "?" + text : "");
  }

  function refreshBadge() {
    request("GET", api + "unread-count/").then(function (body) {
      if (live && typeof body.count === "number") { live.setBadge(body.count); }
    }).catch(function () { /* the socket keeps the badge right when it is up */ });
  }

  function say(text) {
    note.textContent = text;
    note.hidden = !text;
  }

  // --- rendering ---------------------------------------------------------------------
  // One relative-time rule for every page (live.js), ticking every <time class="ago">.
  var ago = live.ago;

  function link(href, text, className) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (className) { a.className = className; }
    return a;
  }

  function objectLink(item) {
    var id = item.data && typeof item.data.id === "string" ? item.data.id : "";
    if (!item.app || !/^[BR][A-Z]{10}$/.test(id)) { return null; }
    var appPage = "/racks/" + item.rack + "/apps/" + encodeURIComponent(item.app) + "/";
    if (id[0] === "B") { return link(appPage + "builds/" + id + "/", "build " + id, "object"); }
    return link(appPage + "#release-" + id, "release " + id, "object");
  }

  // Severity in words and a sign as well as the border's colour.
  var SEVERITY = {error: "✕ Error", success: "✓ Success", info: "● Info"};
  var SOURCE = {console: "from the console", rack: "from the rack"};
  // Rack id → organization name, given only when the reader has several organizations.
  var organizations = {};
  var orgData = document.getElementById("rack-organizations");
  if (orgData) { organizations = JSON.parse(orgData.textContent); }

  function span(text, className) {
    var element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function render(item) {
    var li = document.createElement("li");
    li.className = "item sev-" + (item.severity || "info");
    li.dataset.id = String(item.id);
    li.dataset.rack = String(item.rack);
    li.dataset.day = dayOf(new Date(item.created_at));

    // Opening it goes through the server, which marks it read and redirects.
    var message = link(openUrl.replace("/0/", "/" + item.id + "/"), item.message, "message");
    message.addEventListener("click", function () {
      if (li.dataset.read === "false") { setRead(li, true); }
    });
    li.appendChild(message);

    var meta = document.createElement("div");
    meta.className = "meta";
    var when = new Date(item.created_at);
    var time = document.createElement("time");
    time.className = "ago";
    time.dateTime = item.created_at;
    time.title = when.toLocaleString() + " (" + item.created_at + ")";
    time.textContent = ago(when) + " · " + live.exact(when);
    meta.appendChild(span(SEVERITY[item.severity] || SEVERITY.info, "severity"));
    meta.appendChild(time);
    if (organizations[item.rack]) {
      meta.appendChild(span(organizations[item.rack], "organization"));
    }
    meta.appendChild(link("/racks/" + item.rack + "/", item.rack_name || "rack", "rack"));
    if (item.app) {
      meta.appendChild(link("/racks/" + item.rack + "/apps/" + encodeURIComponent(item.app) + "/",
                            item.app, "app"));
    }
    var object = objectLink(item);
    if (object) { meta.appendChild(object); }
    if (SOURCE[item.source]) { meta.appendChild(span(SOURCE[item.source], "source")); }
    // Only what is in the reader's feed can be marked (history has items that are not).
    if (item.in_feed !== false) {
      var toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "link toggle-read";
      toggle.addEventListener("click", function () { toggleRead(li); });
      meta.appendChild(toggle);
    }
    li.appendChild(meta);
    setRead(li, item.read);
    return li;
  }

  function setRead(li, read) {
    li.classList.toggle("unread", !read);
    li.dataset.read = read ? "true" : "false";
    var toggle = li.querySelector(".toggle-read");
    if (toggle) {
      toggle.textContent = read ? "Mark unread" : "Mark read";
      // Each button names its item for screen readers; the visible words come first.
      toggle.setAttribute("aria-label", toggle.textContent + ": " +
                          li.querySelector(".message").textContent);
    }
  }

  // --- day headings ------------------------------------------------------------------
  var DAY = new Intl.DateTimeFormat(undefined, {weekday: "long", day: "numeric",
                                                month: "long", year: "numeric"});

  function dayOf(when) { return DAY.format(when); }

  // A heading before the first item of each day (in the reader's time zone).
  function markDays() {
    list.querySelectorAll("li.day").forEach(function (heading) { heading.remove(); });
    var last = null;
    list.querySelectorAll("li.item").forEach(function (li) {
      if (li.dataset.day !== last) {
        var heading = document.createElement("li");
        heading.className = "day";
        heading.appendChild(span(li.dataset.day, "day-name"));
        list.insertBefore(heading, li);
        last = li.dataset.day;
      }
    });
  }

  // Newest first, by id: a late arrival goes where it belongs, not on top.
  function place(item) {
    if (shown.has(item.id)) { return; }
    var li = render(item);
    var before = null;
    for (var child = list.firstElementChild; child; child = child.nextElementSibling) {
      if (Number(child.dataset.id) < item.id) { before = child; break; }
    }
    // Before the day heading of the item it precedes, if any.
    if (before && before.previousElementSibling &&
        before.previousElementSibling.classList.contains("day")) {
      before = before.previousElementSibling;
    }
    list.insertBefore(li, before);
    shown.set(item.id, li);
    if (live) { live.hold(item.id); }
  }

  function lowestShown() {
    var last = list.lastElementChild;
    return last ? Number(last.dataset.id) : Infinity;
  }

  function matches(item) {
    var wanted = currentFilters();
    if (wanted.rack && String(item.rack) !== wanted.rack) { return false; }
    // As the API filters: the name contains it, in any case.
    if (wanted.app && item.app.toLowerCase().indexOf(wanted.app.toLowerCase()) === -1) {
      return false;
    }
    if (wanted.action && item.action !== wanted.action) { return false; }
    if (wanted.event_type && item.event_type !== wanted.event_type) { return false; }
    if (wanted.status && item.status !== wanted.status) { return false; }
    if (wanted.unread === "true" && item.read) { return false; }
    return true;
  }

  var clear = root.querySelector("[data-clear-filters]");

  // The filters the person chose (not the page's own rack), as they are in the URL.
  function chosenFilters() {
    var wanted = currentFilters();
    if (root.dataset.fixedRack) { delete wanted.rack; }
    return new URLSearchParams(wanted).toString();
  }

  function showEnd() {
    var filtered = chosenFilters() !== "";
    if (next) { end.textContent = "Loading more…"; }
    else if (shown.size) { end.textContent = "That is everything."; }
    else { end.textContent = filtered ? "Nothing matches these filters." : "Nothing here yet."; }
    clear.hidden = next !== null || shown.size > 0 || !filtered;
  }

  // --- loading pages -----------------------------------------------------------------
  function load(url, mine) {
    loading = true;
    return request("GET", url).then(function (page) {
      if (mine !== generation) { return; }
      page.results.forEach(place);
      markDays();
      next = page.next ? sameOrigin(page.next) : null;
      showEnd();
      say("");
    }).catch(function (err) {
      if (mine === generation) { say("Could not load the feed: " + err.message); }
    }).then(function () {
      if (mine === generation) { loading = false; maybeMore(); }
    });
  }

  function reload() {
    generation += 1;
    list.textContent = "";
    shown.clear();
    next = null;
    end.textContent = "Loading…";
    applied = query();
    // In the URL: kept on reload and back, and shareable.
    var chosen = chosenFilters();
    window.history.replaceState(null, "",
                                window.location.pathname + (chosen ? "?" + chosen : ""));
    return load(applied, generation);
  }

  function nearBottom() {
    return sentinel.getBoundingClientRect().top < window.innerHeight + 400;
  }

  function maybeMore() {
    if (next && !loading && nearBottom()) { load(next, generation); }
  }

  if ("IntersectionObserver" in window) {
    new IntersectionObserver(maybeMore, {rootMargin: "400px"}).observe(sentinel);
  }
  window.addEventListener("scroll", maybeMore, {passive: true});

  // --- reading -----------------------------------------------------------------------
  // Under "Unread only", an item marked read leaves the list.
  function markedRead(li) {
    if (currentFilters().unread === "true") {
      shown.delete(Number(li.dataset.id));
      li.remove();
      markDays();
      showEnd();
    } else {
      setRead(li, true);
    }
  }

  function toggleRead(li) {
    var read = li.dataset.read !== "true";
    request("POST", api + li.dataset.id + (read ? "/read/" : "/unread/")).then(function () {
      if (read) { markedRead(li); } else { setRead(li, false); }
      refreshBadge();
    }).catch(function (err) { say("Could not mark it: " + err.message); });
  }

  function offerUndo(ids) {
    undoIds = ids;
    undo.querySelector("[data-undo-text]").textContent =
      "Marked " + ids.length + " notification" + (ids.length === 1 ? "" : "s") + " read.";
    undo.querySelector("[data-undo-button]").hidden = ids.length === 0;
    undo.hidden = false;
  }

  // Marks what the page shows: its rack, its filters (not "Unread only": that is what
  // is being marked).
  root.querySelector("[data-mark-all-read]").addEventListener("click", function () {
    var wanted = currentFilters();
    delete wanted.unread;
    var params = new URLSearchParams(wanted).toString();
    request("POST", api + "read-all/" + (params ? "?" + params : "")).then(function (body) {
      var marked = new Set(body.ids || []);
      shown.forEach(function (li, id) {
        if (body.ids === null || marked.has(id)) { markedRead(li); }
      });
      if (body.ids) { offerUndo(body.ids); }
      refreshBadge();
    }).catch(function (err) { say("Could not mark all read: " + err.message); });
  });

  undo.querySelector("[data-undo-button]").addEventListener("click", function () {
    if (!undoIds) { return; }
    request("POST", api + "unread/", {ids: undoIds}).then(function () {
      undoIds = null;
      undo.hidden = true;
      refreshBadge();
      reload();
    }).catch(function (err) { say("Could not undo: " + err.message); });
  });

  // A filter that changed reloads the list. Leaving the app field fires "change" again
  // for what typing already applied: reloading then would swallow the click that left it.
  var applied = null;
  var typing = null;
  function applyFilters() {
    window.clearTimeout(typing);
    if (query() !== applied) { reload(); }
  }
  filters.addEventListener("change", applyFilters);
  filters.addEventListener("input", function () {
    window.clearTimeout(typing);
    typing = window.setTimeout(applyFilters, 300);
  });
  filters.addEventListener("submit", function (event) { event.preventDefault(); reload(); });

  // --- live --------------------------------------------------------------------------
  if (live) {
    live.on("notification", function (item) {
      if (!matches(item)) { return; }
      // Below the last loaded page, the next page brings it in order.
      if (next && item.id < lowestShown()) { return; }
      place(item);
      markDays();
      showEnd();
    });
    live.on("resync", reload);
    live.on("logged-out", function () {
      say("You are logged out. Log in again to see new notifications.");
    });
  }

  reload();
})();
