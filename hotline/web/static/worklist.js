// The ticket pages' live part: /api/tickets/stream pushes ticket changes and department notices
// (reminders, 督办, reminder call outcomes); the page's list is fetched again and swapped in.
// Nothing polls. window.hotlineWork.events keeps what arrived (the tests read it).
(function () {
  "use strict";
  var body = document.getElementById("worklist-body");
  var ticket = document.getElementById("ticket");
  var state = window.hotlineWork = {events: [], refreshed: 0, live: false};
  var pending = null;

  function refresh() {
    if (!body) { return; }
    if (pending) { return; }
    pending = fetch(window.location.pathname + window.location.search,
                    {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        pending = null;
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("worklist-body");
        if (fresh) {
          body.replaceChildren.apply(body, Array.prototype.slice.call(fresh.childNodes)
            .map(function (n) { return document.importNode(n, true); }));
          state.refreshed += 1;
          body.dataset.refreshed = String(state.refreshed);
        }
      })
      .catch(function () { pending = null; });
  }

  function changed(kind, data) {
    state.events.push({kind: kind, data: data});
    if (ticket && kind === "ticket" && String(data.id) === ticket.dataset.id &&
        String(data.version) !== ticket.dataset.version) {
      var note = document.getElementById("ticket-stale");
      if (!note) {
        note = document.createElement("p");
        note.id = "ticket-stale";
        note.className = "error";
        note.setAttribute("role", "status");
        ticket.insertBefore(note, ticket.children[1] || null);
      }
      note.textContent = "该工单已被更新（" + (data.status || "") + "），请刷新页面查看最新状态。";
      return;
    }
    refresh();
  }

  var es = new EventSource("/api/tickets/stream");
  es.addEventListener("hello", function () {
    state.live = true;
    document.body.dataset.live = "yes";
  });
  es.addEventListener("ticket", function (e) { changed("ticket", JSON.parse(e.data)); });
  es.addEventListener("notice", function (e) { changed("notice", JSON.parse(e.data)); });
})();
