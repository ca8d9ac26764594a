// The leader's page, live: /api/warnings/stream pushes each early warning as it is raised;
// the page says so and fetches its warning table again. Nothing polls.
// window.hotlineLeader.events keeps what arrived (the tests read it).
(function () {
  "use strict";
  var state = window.hotlineLeader = {events: [], live: false};
  var live = document.getElementById("warning-live");
  var table = document.getElementById("warning-table");

  function refresh() {
    fetch(window.location.pathname + window.location.search,
          {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || !table) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("warning-table");
        if (fresh) { table.replaceWith(document.importNode(fresh, true)); }
        table = document.getElementById("warning-table");
      })
      .catch(function () {});
  }

  var source = new EventSource("/api/warnings/stream");
  source.addEventListener("hello", function () { state.live = true; });
  source.addEventListener("warning", function (e) {
    var w = JSON.parse(e.data);
    state.events.push(w);
    if (live) {
      live.textContent = "新预警：" + w.day + " " + w.grid + " " + w.grid_name + " “" +
        w.category + "” " + w.count + " 件（控制限 " + w.control_limit + "）";
    }
    refresh();
  });
}());
