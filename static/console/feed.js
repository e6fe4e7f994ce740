// The feed: its first page is rendered by the server (it reads without JavaScript); this
// script takes it over and adds pages from the REST API (newest first, cursor "next" for
// infinite scroll), new notifications from the live connection, filters, and read/unread
// marks. On a rack's page the pages are the rack's history (data-list): everything that
// happened on it, with read/unread marks on what is in the reader's own feed.
// Item markup is the server's partial, cloned from its <template>; every URL comes from
// the page ({% url %}), with placeholders where an item's ids go.
// Messages are text from racks: they are only ever set with textContent.
(function () {
  "use strict";

  var root = document.querySelector("[data-feed]");
  if (!root) { return; }
  var urls = {
    feed: root.dataset.api,
    read: root.dataset.readUrl,
    unread: root.dataset.unreadUrl,
    readAll: root.dataset.readAllUrl,
    unreadAmong: root.dataset.unreadAmongUrl,
    unreadCount: root.dataset.unreadCountUrl,
  };
  var template = root.querySelector("[data-item-template]");
  var dayTemplate = root.querySelector("[data-day-template]");
  var placeholder = template.dataset;
  var undo = root.querySelector("[data-undo]");
  var undoIds = null;
  var pages = root.dataset.list || urls.feed;
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

  function query(cursor) {
    var params = new URLSearchParams(currentFilters());
    if (cursor) { params.set("cursor", cursor); }
    var text = params.toString();
    return pages + (text ? "?" + text : "");
  }

  // A URL of the page's with the placeholders in `values` replaced: each is a whole part
  // of the path or the fragment, so nothing else in it can match.
  function fill(href, values) {
    return href.split(/([/#-])/).map(function (part) {
      return Object.prototype.hasOwnProperty.call(values, part) ? values[part] : part;
    }).join("");
  }

  function withId(href, id) {
    var values = {};
    values[placeholder.idPlaceholder] = String(id);
    return fill(href, values);
  }

  function refreshBadge() {
    request("GET", urls.unreadCount).then(function (body) {
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

  // Rack id → organization name, given only when the reader has several organizations.
  var organizations = {};
  var orgData = document.getElementById("rack-organizations");
  if (orgData) { organizations = JSON.parse(orgData.textContent); }

  // Of the template's alternatives (one per severity, source or kind of object), keep
  // the item's own; none when it has none of them.
  function keepOnly(li, selector, key, value) {
    li.querySelectorAll(selector).forEach(function (element) {
      if (element.dataset[key] !== value) { element.remove(); }
    });
    return li.querySelector(selector);
  }

  // Whether the page a link goes to takes this value in its URL: the pattern is the URL
  // converter's, given by the server (console.views.feed_page.PATTERNS).
  function takes(link, value) {
    return new RegExp("^(?:" + link.dataset.pattern + ")$").test(value);
  }

  function removeUnless(element, wanted) {
    if (!wanted) { element.remove(); }
    return wanted;
  }

  // An item that came later (an API page, the live socket): the server's partial, filled.
  function render(item) {
    var li = template.content.firstElementChild.cloneNode(true);
    // Severity in words and a sign as well as the border's colour; an unknown one as info.
    var levels = Array.prototype.map.call(li.querySelectorAll(".severity"), function (element) {
      return element.dataset.severity;
    });
    var level = levels.indexOf(item.severity) === -1 ? "info" : item.severity;
    keepOnly(li, ".severity", "severity", level);
    li.className = "item sev-" + level;
    li.dataset.id = String(item.id);
    li.dataset.rack = String(item.rack);
    var message = li.querySelector("a.message");
    message.href = withId(message.getAttribute("href"), item.id);
    message.textContent = item.message;

    var values = {};
    values[placeholder.rackPlaceholder] = String(item.rack);
    values[placeholder.appPlaceholder] = encodeURIComponent(item.app);
    var when = new Date(item.created_at);
    var time = li.querySelector("time");
    time.dateTime = item.created_at;
    time.textContent = ago(when) + " · " + live.exact(when);
    var organization = li.querySelector(".organization");
    if (removeUnless(organization, organizations[item.rack])) {
      organization.querySelector("bdi").textContent = organizations[item.rack];
    }
    var rack = li.querySelector("a.rack");
    rack.href = fill(rack.getAttribute("href"), values);
    rack.textContent = item.rack_name || "rack";
    // As the server links them: only a name the app page's URL can hold.
    var app = li.querySelector("a.app");
    var linked = removeUnless(app, item.app && takes(app, item.app));
    if (linked) {
      app.href = fill(app.getAttribute("href"), values);
      app.textContent = item.app;
    }
    var id = item.data && typeof item.data.id === "string" ? item.data.id : "";
    var kind = "";
    li.querySelectorAll("a.object").forEach(function (link) {
      if (linked && !kind && takes(link, id)) { kind = link.dataset.object; }
    });
    var object = keepOnly(li, "a.object", "object", kind);
    if (object) {
      var held = placeholder[kind + "Placeholder"];
      values[held] = id;
      object.href = fill(object.getAttribute("href"), values);
      object.textContent = object.textContent.replace(held, id);
    }
    keepOnly(li, ".source", "source", item.source);
    var actor = li.querySelector(".actor");
    if (removeUnless(actor, item.actor)) { actor.querySelector("bdi").textContent = item.actor; }
    // Only what is in the reader's feed can be marked (history has items that are not).
    removeUnless(li.querySelector(".toggle-read"), item.in_feed !== false);
    adopt(li);
    setRead(li, item.read);
    return li;
  }

  // An item's behaviour, whether the server rendered it or `render` did.
  function adopt(li) {
    var time = li.querySelector("time");
    var when = new Date(time.dateTime);
    li.dataset.day = dayOf(when);
    // The server's item says UTC; the reader's zone from here on (its text: live.js).
    time.title = when.toLocaleString() + " (" + time.dateTime + ")";
    // Opening it goes through the server, which marks it read and redirects.
    li.querySelector("a.message").addEventListener("click", function () {
      if (li.dataset.read === "false") { setRead(li, true); }
    });
    var toggle = li.querySelector(".toggle-read");
    if (toggle) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () { toggleRead(li); });
    }
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

  // The same day as a <time>'s datetime, also in the reader's time zone.
  function isoDay(when) {
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return when.getFullYear() + "-" + pad(when.getMonth() + 1) + "-" + pad(when.getDate());
  }

  // A heading before the first item of each day (in the reader's time zone).
  function markDays() {
    list.querySelectorAll("li.day").forEach(function (heading) { heading.remove(); });
    var last = null;
    list.querySelectorAll("li.item").forEach(function (li) {
      if (li.dataset.day !== last) {
        var heading = dayTemplate.content.firstElementChild.cloneNode(true);
        var name = heading.querySelector(".day-name");
        name.textContent = li.dataset.day;
        name.dateTime = isoDay(new Date(li.querySelector("time").dateTime));
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
    request("POST", withId(read ? urls.read : urls.unread, li.dataset.id)).then(function () {
      if (read) { markedRead(li); } else { setRead(li, false); }
      refreshBadge();
    }).catch(function (err) { say("Could not mark it: " + err.message); });
  }

  function offerUndo(ids) {
    undoIds = ids;
    undo.querySelector("[data-undo-text]").textContent =
      "Marked " + plural(ids.length) + " read.";
    undo.querySelector("[data-undo-button]").hidden = ids.length === 0;
    undo.hidden = false;
  }

  // Past this many, a mark-all-read cannot be undone (its answer does not list them).
  var undoMax = Number(root.dataset.undoMax);

  function plural(n) { return n.toLocaleString() + " notification" + (n === 1 ? "" : "s"); }

  function tooManyToUndo(marked) {
    undoIds = null;
    undo.querySelector("[data-undo-text]").textContent =
      "Marked " + plural(marked) + " read; too many to undo.";
    undo.querySelector("[data-undo-button]").hidden = true;
    undo.hidden = false;
  }

  // Marks what the page shows: its rack, its filters (not "Unread only": that is what
  // is being marked). More than can be undone is asked first.
  var markAll = root.querySelector("[data-mark-all-read]");
  markAll.hidden = false;
  markAll.addEventListener("click", function () {
    var wanted = currentFilters();
    delete wanted.unread;
    var params = new URLSearchParams(wanted).toString();
    var shownFilters = params ? "?" + params : "";
    request("GET", urls.unreadCount + shownFilters).then(function (body) {
      if (body.count > undoMax && !window.confirm(
          "Mark " + plural(body.count) + " read? More than " + undoMax.toLocaleString() +
          " cannot be undone.")) { return; }
      return request("POST", urls.readAll + shownFilters).then(function (body) {
        var marked = new Set(body.ids || []);
        shown.forEach(function (li, id) {
          if (body.ids === null || marked.has(id)) { markedRead(li); }
        });
        if (body.ids) { offerUndo(body.ids); } else { tooManyToUndo(body.marked); }
        refreshBadge();
      });
    }).catch(function (err) { say("Could not mark all read: " + err.message); });
  });

  undo.querySelector("[data-undo-button]").addEventListener("click", function () {
    if (!undoIds) { return; }
    request("POST", urls.unreadAmong, {ids: undoIds}).then(function () {
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

  // --- taking over the server's page -------------------------------------------------
  // Its items stay as they are (nothing is shown twice or redrawn); the next page is the
  // API's, from the server's cursor. A later page of the server's (its "Older" link
  // followed) starts over at the first, where live items belong.
  function takeOver() {
    list.querySelectorAll("li.item").forEach(function (li) {
      adopt(li);
      var id = Number(li.dataset.id);
      shown.set(id, li);
      if (live) { live.hold(id); }
    });
    markDays();
    var older = end.querySelector("[data-older]");
    next = older ? query(older.dataset.cursor) : null;
    applied = query();
    showEnd();
    maybeMore();
  }

  if (new URLSearchParams(window.location.search).has("cursor")) { reload(); } else { takeOver(); }
})();
