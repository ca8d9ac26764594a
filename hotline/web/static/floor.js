// The supervisor's floor view: listen (监听), whisper (耳语) or barge (强插) on a live call from
// the supervisor's own phone, switch during the call, hang up. Every click is one JSON API
// call (/api/floor/spy); the server audits it. Text is set with textContent only.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var $ = function (id) { return document.getElementById(id); };
  var MODE = { listen: "监听", whisper: "耳语", barge: "强插" };
  var STATE = { ringing: "话机振铃中", up: "通话中", ended: "已结束" };
  var session = null;

  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { throw new Error((data && data.message) || ("HTTP " + r.status)); }
        return data;
      });
    });
  }
  function say(text) { $("spy-message").textContent = text; }
  function show(s) {
    session = s;
    var box = $("spy-session");
    box.hidden = !s || s.state === "ended";
    if (!s) return;
    box.dataset.session = s.id;
    box.dataset.mode = s.mode;
    box.dataset.state = s.state;
    $("spy-seat").textContent = s.seat;
    $("spy-mode").textContent = MODE[s.mode] || s.mode;
    $("spy-state").textContent = STATE[s.state] || s.state;
  }
  function refresh() {
    if (!session) return;
    api("GET", "/api/floor/spy").then(function (r) {
      var mine = r.sessions.filter(function (x) { return x.id === session.id; })[0];
      show(mine || null);
      if (mine) setTimeout(refresh, 1000);
    }).catch(function (e) { say(e.message); });
  }
  document.querySelectorAll("button.spy").forEach(function (b) {
    b.addEventListener("click", function () {
      api("POST", "/api/floor/spy", { call: b.dataset.call, mode: b.dataset.mode })
        .then(function (s) { show(s); say(MODE[s.mode] + "：正在呼叫您的话机"); refresh(); })
        .catch(function (e) { say(e.message); });
    });
  });
  document.querySelectorAll("button.spy-switch").forEach(function (b) {
    b.addEventListener("click", function () {
      if (!session) return;
      api("POST", "/api/floor/spy/" + encodeURIComponent(session.id), { mode: b.dataset.mode })
        .then(function (s) { show(s); say("已切换为" + MODE[s.mode]); })
        .catch(function (e) { say(e.message); });
    });
  });
  document.querySelectorAll("button.kept-cancel").forEach(function (b) {
    b.addEventListener("click", function () {
      api("DELETE", "/api/floor/kept/" + encodeURIComponent(b.dataset.key))
        .then(function () { say("已取消保留位置"); b.disabled = true; })
        .catch(function (e) { say(e.message); });
    });
  });
  $("spy-stop").addEventListener("click", function () {
    if (!session) return;
    api("DELETE", "/api/floor/spy/" + encodeURIComponent(session.id))
      .then(function () { say("已挂断"); show(null); })
      .catch(function (e) { say(e.message); });
  });
})();
