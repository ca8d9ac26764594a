// The wall board page: the server pushes the board over Server-Sent Events when it changes;
// nothing polls. The tiles arrive rendered (escaped) by hotline.reports.render.wallboard_html.
(function () {
  "use strict";
  var page = document.getElementById("wallboard-page");
  if (!page || !window.EventSource) { return; }
  var tiles = document.getElementById("wallboard-tiles");
  var state = document.getElementById("wallboard-state");
  window.hotlineWallboard = { pushes: 0, last: null };
  var source = new EventSource("/reports/wallboard/events");
  source.addEventListener("hello", function () {
    page.dataset.live = "yes";
    state.textContent = "实时";
  });
  source.addEventListener("wallboard", function (e) {
    var data = JSON.parse(e.data);
    tiles.innerHTML = data.html;
    window.hotlineWallboard.pushes += 1;
    window.hotlineWallboard.last = data.figures;
    page.dataset.pushes = String(window.hotlineWallboard.pushes);
  });
  source.onerror = function () {
    page.dataset.live = "no";
    state.textContent = "重新连接中…";
  };
}());
