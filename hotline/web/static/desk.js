// The agent desk: caller pop over Server-Sent Events, ticket form with draft autosave,
// directory search with the three-way bridge (三方通话) per entry and its live participants,
// queue seat and callbacks due. Text is always set with textContent:
// nothing a citizen or a department typed is ever parsed as HTML.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var desk = document.getElementById("desk");
  var seat = desk.dataset.seat || "";
  var form = document.getElementById("ticket-form");
  var $ = function (id) { return document.getElementById(id); };
  var KIND = { complaint: "投诉", help: "求助", consultation: "咨询", suggestion: "建议", praise: "表扬" };
  var STATUS = { received: "已受理", dispatched: "已派单", handling: "办理中", replied: "已回复",
                 followed_up: "已回访", closed: "已办结", reopened: "重办", merged: "已合并",
                 completed: "已接听", abandoned: "放弃", answered: "通话中", queued: "排队", failed: "失败" };
  var FIELD = { kind: "诉求类型", category: "分类", grid: "网格", address: "地址", description: "诉求内容",
                promised_reply_at: "承诺回复时间", phone: "来电号码", call_uniqueid: "通话", channel: "渠道" };
  var WHY = { "is required": "必填" };
  var STATE = { arriving: "呼入", waiting: "排队", ringing: "振铃中", talking: "通话中", ended: "已挂机",
                free: "空闲", paused: "小休", wrapup: "整理中", unavailable: "离线", logged_out: "未签入" };
  var draftKey = "new";
  var saveTimer = null;
  var editSeq = 0;  // edits made, so that a late reply to an older save claims nothing
  var currentCall = null;
  var bridgeOn = desk.dataset.bridge === "yes";
  var room = null;  // the three-way call at this seat, as GET /api/bridge and the stream give it
  window.hotlineDesk = { pops: [], rooms: [], transcripts: [] };

  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: {} };
    if (method !== "GET") { opts.headers["X-CSRF-Token"] = csrf; }
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = { message: t }; }
        if (!r.ok) { var err = new Error((data && data.message) || ("HTTP " + r.status)); err.data = data; err.status = r.status; throw err; }
        return data;
      });
    });
  }
  function li(text, cls) { var e = document.createElement("li"); e.textContent = text; if (cls) e.className = cls; return e; }
  function localTime(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return d.toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  }
  function fill(list, items, render, empty) {
    list.replaceChildren();
    if (!items.length) { list.appendChild(li(empty, "muted")); return; }
    items.forEach(function (x) { list.appendChild(render(x)); });
  }

  // -- drafts: every keystroke lands in localStorage at once and on the server shortly after --
  function formData() {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) { if (el.name) data[el.name] = el.value; });
    return data;
  }
  function setForm(data) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && data && Object.prototype.hasOwnProperty.call(data, el.name)) el.value = data[el.name];
    });
  }
  function storageKey() { return "hotline-draft:" + seat + ":" + draftKey; }
  function saveDraftSoon() {
    try { localStorage.setItem(storageKey(), JSON.stringify(formData())); } catch (e) { /* private mode */ }
    $("draft-state").textContent = "草稿保存中…";
    editSeq += 1;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(pushDraft, 400);
  }
  function pushDraft() {
    var seq = editSeq;
    api("PUT", "/api/drafts/" + encodeURIComponent(draftKey), { data: formData() }).then(function (d) {
      // An edit made while this save was on its way is not saved yet: its own save says so.
      if (seq !== editSeq) return;
      $("draft-state").textContent = "草稿已保存 " + localTime(d.updated_at);
      form.dataset.draftSaved = d.updated_at;
    }).catch(function () { $("draft-state").textContent = "草稿仅存本机（网络中断）"; });
  }
  function loadDraft(key) {
    draftKey = key;
    var local = null;
    try { local = JSON.parse(localStorage.getItem(storageKey()) || "null"); } catch (e) { local = null; }
    if (local) setForm(local);
    return api("GET", "/api/drafts/" + encodeURIComponent(key)).then(function (d) {
      if (!local) setForm(d.data);
      $("draft-state").textContent = "已恢复草稿";
    }).catch(function () { /* no draft yet */ });
  }
  function clearForm(key) {
    form.reset();
    $("f-call").value = "";
    draftKey = key || "new";
    $("draft-state").textContent = "";
  }
  form.addEventListener("input", saveDraftSoon);
  form.addEventListener("change", saveDraftSoon);

  // -- possible duplicates while the agent types; attaching the call to one of them ------------
  var dupTimer = null;
  var REASON = { same_grid: "同网格同分类", same_category: "同分类", own: "本人未办结" };
  function checkDuplicatesSoon() {
    clearTimeout(dupTimer);
    dupTimer = setTimeout(checkDuplicates, 350);
  }
  function checkDuplicates() {
    var data = formData();
    var query = { category: data.category, grid: data.grid, address: data.address,
                  description: data.description, phone: data.phone };
    if (!query.category && !query.phone) { $("duplicates").replaceChildren(); return; }
    $("duplicates-state").textContent = "查找中…";
    api("POST", "/api/tickets/duplicates", query).then(function (found) {
      $("duplicates-state").textContent = "";
      var items = found.candidates.concat(found.own_open_tickets);
      fill($("duplicates"), items, renderDuplicate, "未发现可能重复的工单");
    }).catch(function (e) { $("duplicates-state").textContent = "无法查重：" + e.message; });
  }
  function renderDuplicate(c) {
    var item = li("");
    item.dataset.number = c.number;
    var link = document.createElement("a");
    link.href = "/tickets/" + c.id; link.textContent = c.number; link.target = "_blank";
    item.appendChild(link);
    item.appendChild(document.createTextNode(" · " + (STATUS[c.status] || c.status) + " · " +
      (REASON[c.reason] || c.reason) + " · 相似度 " + Math.round(c.score * 100) + "% · " + c.description + " "));
    var attach = document.createElement("button");
    attach.type = "button"; attach.className = "attach-call"; attach.textContent = "并入此工单";
    attach.addEventListener("click", function () { attachTo(c); });
    item.appendChild(attach);
    return item;
  }
  function attachTo(c) {
    var data = formData();
    var msg = $("ticket-message");
    msg.className = ""; msg.textContent = "并入中…";
    api("POST", "/api/tickets/" + c.id + "/reporters", { phone: data.phone, citizen_name: data.citizen_name,
      call_uniqueid: data.call_uniqueid, text: data.description }).then(function (t) {
      try { localStorage.removeItem(storageKey()); } catch (e) { /* ignore */ }
      api("DELETE", "/api/drafts/" + encodeURIComponent(draftKey)).catch(function () { /* none */ });
      msg.className = "ok";
      msg.textContent = (t.added ? "已并入工单 " : "该来电人已在工单 ") + t.number + "（共同反映人 " + t.reporters.length + " 位）";
      msg.dataset.ticket = t.number;
      clearForm(data.call_uniqueid ? "saved-" + data.call_uniqueid : "new");
      if (currentCall) { $("f-phone").value = currentCall.caller || ""; }
      $("duplicates").replaceChildren();
    }).catch(function (e) {
      msg.className = "error";
      var fields = e.data && e.data.details && e.data.details.fields;
      msg.textContent = "未并入：" + (fields ? Object.keys(fields).map(function (k) {
        return (FIELD[k] || k) + " " + (WHY[fields[k]] || fields[k]);
      }).join("；") : e.message);
    });
  }
  form.addEventListener("input", checkDuplicatesSoon);
  form.addEventListener("change", checkDuplicatesSoon);
  window.addEventListener("online", pushDraft);

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    saveTicket();
  });
  function saveTicket() {
    var data = formData();
    var msg = $("ticket-message");
    msg.className = ""; msg.textContent = "保存中…";
    clearTimeout(saveTimer);
    api("POST", "/api/tickets?draft=" + encodeURIComponent(draftKey), data).then(function (t) {
      try { localStorage.removeItem(storageKey()); } catch (e) { /* ignore */ }
      msg.className = "ok";
      msg.textContent = "已保存工单 " + t.number;
      msg.dataset.ticket = t.number;
      var keep = data.call_uniqueid ? "saved-" + data.call_uniqueid : "new";
      clearForm(keep === "new" ? "new" : keep);
      if (currentCall) { $("f-phone").value = currentCall.caller || ""; }
      loadCallbacks();
    }).catch(function (e) {
      msg.className = "error";
      var fields = e.data && e.data.details && e.data.details.fields;
      msg.textContent = "未保存：" + (fields ? Object.keys(fields).map(function (k) {
        return (FIELD[k] || k) + " " + (WHY[fields[k]] || fields[k]);
      }).join("；") : e.message);
    });
  }

  // -- the caller pop ----------------------------------------------------------------------------
  function showCallState(call) {
    var badge = $("call-state");
    var left = room && room.agent_left && room.call_uniqueid === call.uniqueid && call.state === "talking";
    badge.textContent = left ? "已离开（三方继续）" : (STATE[call.state] || call.state);
    badge.className = "badge " + (left ? "left" : call.state);
    $("caller").classList.toggle("ringing", call.state === "ringing");
  }
  function pop(p) {
    var call = p.call, caller = p.caller || {};
    currentCall = call;
    window.hotlineDesk.pops.push({ uniqueid: call.uniqueid, state: call.state, at: Date.now(), sent_at: p.sent_at });
    $("caller-number").textContent = call.caller || "未知号码";
    $("repeat-flag").hidden = !caller.repeat_caller;
    $("caller-name").textContent = caller.citizen_name ? ("市民：" + caller.citizen_name) : (caller.known ? "" : "新来电号码");
    showCallState(call);
    fill($("open-tickets"), caller.open_tickets || [], function (t) {
      var e = document.createElement("li");
      var a = document.createElement("a"); a.href = "/tickets/" + t.id; a.target = "_blank"; a.textContent = t.number;
      e.appendChild(a);
      e.appendChild(document.createTextNode(" " + (KIND[t.kind] || t.kind) + (t.category ? " · " + t.category : "") + " · " + (STATUS[t.status] || t.status)));
      return e;
    }, "无");
    fill($("last-contacts"), caller.last_contacts || [], function (c) {
      return li(localTime(c.at) + " " + (STATUS[c.status] || c.status) + (c.agent ? " · 坐席 " + c.agent : "") + (c.ticket ? " · " + c.ticket : ""));
    }, "无");
    if (draftKey !== call.uniqueid) {
      clearForm(call.uniqueid);
      loadDraft(call.uniqueid).then(function () {
        if (!$("f-phone").value) $("f-phone").value = call.caller || "";
        $("f-call").value = call.uniqueid;
      });
      $("f-phone").value = call.caller || "";
      $("f-call").value = call.uniqueid;
    }
    if (room && room.ended && room.call_uniqueid !== call.uniqueid) { room = null; $("bridge-card").hidden = true; }
    updateBridgeButtons();
    $("f-description").focus();
  }
  function onCall(call) {
    if (currentCall && call.uniqueid === currentCall.uniqueid) { currentCall = call; showCallState(call); updateBridgeButtons(); }
  }
  function onAgent(agent) {
    var b = $("seat-state");
    b.textContent = STATE[agent.state] || agent.state;
    b.className = "badge " + agent.state;
    b.dataset.state = agent.state;
    var end = $("wrapup-end");
    if (end) end.hidden = agent.state !== "wrapup";
  }
  function connect() {
    var es = new EventSource("/api/events");
    es.addEventListener("pop", function (ev) { pop(JSON.parse(ev.data)); });
    es.addEventListener("call", function (ev) { onCall(JSON.parse(ev.data)); });
    es.addEventListener("agent", function (ev) { onAgent(JSON.parse(ev.data)); });
    es.addEventListener("bridge", function (ev) { showRoom(JSON.parse(ev.data)); });
    es.addEventListener("callback", function (ev) { onCallback(JSON.parse(ev.data)); });
    es.addEventListener("transcript", function (ev) { showTranscript(JSON.parse(ev.data)); });
    es.addEventListener("caption", function (ev) { showCaption(JSON.parse(ev.data)); });
    es.addEventListener("hello", function () { desk.dataset.live = "yes"; });
    es.onerror = function () { desk.dataset.live = "no"; };
  }

  // -- directory ---------------------------------------------------------------------------------
  var dirTimer = null, dirSeq = 0;
  function search() {
    var q = $("dir-q").value.trim(), seq = ++dirSeq;
    api("GET", "/api/directory?limit=30&q=" + encodeURIComponent(q)).then(function (r) {
      if (seq !== dirSeq) return;
      fill($("dir-results"), r.entries, function (e) {
        var item = document.createElement("li");
        item.dataset.id = e.id;
        if (!e.open_now) item.className = "closed";
        var text = document.createElement("span");
        text.textContent = e.name + " · " + e.number + (e.open_now ? "" : "（非服务时间）");
        text.title = e.department_name + " · " + e.service_hours + (e.notes ? " · " + e.notes : "");
        item.appendChild(text);
        if (bridgeOn) {
          var b = document.createElement("button");
          b.type = "button"; b.className = "bridge-btn"; b.textContent = "三方";
          b.dataset.entry = e.id; b.dataset.name = e.name;
          if (e.fallback_numbers && e.fallback_numbers.length) b.dataset.fallback = e.fallback_numbers.join(" ");
          item.appendChild(b);
        }
        return item;
      }, "无结果");
      $("dir-results").dataset.query = q;
      updateBridgeButtons();
    });
  }
  $("dir-q").addEventListener("input", function () { clearTimeout(dirTimer); dirTimer = setTimeout(search, 120); });

  // -- three-way bridge: one button per directory entry, the participants live --------------------
  var ROLE_ORDER = { citizen: 0, agent: 1, department: 2 };
  function inRoom() {
    return room && !room.ended && !room.agent_left && currentCall && room.call_uniqueid === currentCall.uniqueid;
  }
  function bridgeBlocked() {
    if (!currentCall || currentCall.state === "ended") return "当前没有通话，不能三方";
    if (currentCall.state !== "talking") return "来电接通后才能三方";
    if (inRoom()) return "已在三方通话中";
    if (room && room.agent_left && room.call_uniqueid === currentCall.uniqueid) return "您已离开此通话";
    return "";
  }
  function updateBridgeButtons() {
    if (!bridgeOn) return;
    var why = bridgeBlocked();
    Array.prototype.forEach.call(document.querySelectorAll("#dir-results .bridge-btn"), function (b) {
      b.disabled = !!why;
      b.title = why || ("把 " + b.dataset.name + " 接入当前通话（三方通话）");
    });
    var note = $("bridge-note");
    if (note && !note.classList.contains("error")) {
      note.textContent = why ? why + "。" : "点击「三方」把部门接入当前通话，您可随后离开。";
    }
  }
  function bridgeError(e, where) {
    var m = where || $("bridge-note");
    m.className = "error";
    m.textContent = "三方通话未成功：" + e.message;
    setTimeout(function () { m.className = "muted"; updateBridgeButtons(); }, 8000);
  }
  function partyText(p) {
    return p.label + (p.number ? " " + p.number : "") + "：" + p.state_text;
  }
  function showRoom(view) {
    if (!view || !view.room) return;
    // The action's reply and the event stream race: of two views of one room keep the newer.
    if (room && room.room === view.room && view.version < room.version) return;
    if (room && room.room !== view.room) {
      // Another room (one the agent left earlier) never displaces the current call's room.
      if (currentCall && room.call_uniqueid === currentCall.uniqueid && view.call_uniqueid !== currentCall.uniqueid) return;
      if (!room.ended && view.ended) return;  // an older room's end
    }
    room = view;
    window.hotlineDesk.rooms.push({ room: view.room, at: Date.now(), parts: view.participants.map(function (p) { return p.role + ":" + p.state; }) });
    var card = $("bridge-card");
    card.hidden = false;
    card.dataset.room = view.room;
    card.dataset.ended = view.ended ? "yes" : "no";
    $("bridge-entry").textContent = (view.entry && view.entry.name ? view.entry.name : "") ;
    var badge = $("bridge-state");
    badge.textContent = view.ended ? "已结束" : (view.agent_left ? "您已离开" : "进行中");
    badge.className = "badge " + (view.ended ? "ended" : (view.agent_left ? "left" : "talking"));
    var parts = view.participants.slice().sort(function (a, b) { return ROLE_ORDER[a.role] - ROLE_ORDER[b.role]; });
    fill($("bridge-parties"), parts, function (p) {
      var e = li(partyText(p), "party " + p.state);
      e.dataset.role = p.role; e.dataset.state = p.state;
      if (p.number) e.dataset.number = p.number;
      return e;
    }, "—");
    var fail = $("bridge-failure");
    if (view.failure && !view.ended) {
      fail.hidden = false;
      fail.textContent = view.failure.text + (view.failure.next ? "，正在改拨备用号码 " + view.failure.next + "…" :
        (view.can_fallback ? "，可改拨备用号码。" : (view.numbers_left.length ? "。" : "，没有其他号码可拨。")));
    } else { fail.hidden = true; fail.textContent = ""; }
    var fb = $("bridge-fallback");
    fb.hidden = !view.can_fallback;
    fb.textContent = view.can_fallback ? "改拨备用号码 " + view.numbers_left[0] : "改拨备用号码";
    $("bridge-leave").disabled = !view.can_leave;
    $("bridge-leave").title = view.can_leave ? "离开后市民与部门继续通话 (Alt+L)" : "部门接入后才能离开";
    $("bridge-drop").disabled = !view.can_drop;
    var msg = $("bridge-message");
    msg.className = "muted";
    msg.textContent = view.ended ? "三方通话已结束。" : (view.agent_left ? "您已离开，市民与部门继续通话。" : "");
    if (currentCall && currentCall.uniqueid === view.call_uniqueid) showCallState(currentCall);
    updateBridgeButtons();
  }
  function bridgeAction(action) {
    var m = $("bridge-message");
    m.className = "muted"; m.textContent = "…";
    return api("POST", "/api/bridge/" + action).then(showRoom).catch(function (e) {
      m.className = "error"; m.textContent = e.message;
    });
  }
  if (bridgeOn) {
    $("dir-results").addEventListener("click", function (ev) {
      var b = ev.target.closest ? ev.target.closest(".bridge-btn") : null;
      if (!b || b.disabled) return;
      b.disabled = true;
      var note = $("bridge-note");
      note.className = "muted"; note.textContent = "正在接入 " + b.dataset.name + "…";
      api("POST", "/api/bridge", { entry: Number(b.dataset.entry), call: currentCall ? currentCall.uniqueid : undefined })
        .then(function (view) { note.textContent = ""; showRoom(view); })
        .catch(function (e) { bridgeError(e); updateBridgeButtons(); });
    });
    $("bridge-leave").addEventListener("click", function () { bridgeAction("leave"); });
    $("bridge-drop").addEventListener("click", function () { bridgeAction("drop-department"); });
    $("bridge-fallback").addEventListener("click", function () { bridgeAction("fallback"); });
  }

  // -- queue seat ----------------------------------------------------------------------------------
  function seatAction(action, body) {
    var m = $("seat-message");
    m.textContent = "…";
    return api("POST", "/api/agents/me/" + action, body).then(function (s) {
      m.textContent = "";
      onAgent({ state: s.state === "available" ? "free" : (s.state === "offline" ? "logged_out" : s.state) });
    }).catch(function (e) { m.textContent = e.message; });
  }
  if (seat) {
    $("queue-login").addEventListener("click", function () { seatAction("login"); });
    $("queue-logout").addEventListener("click", function () { seatAction("logout"); });
    $("queue-pause").addEventListener("click", function () { seatAction("pause", { reason: $("pause-reason").value }); });
    $("queue-resume").addEventListener("click", function () { seatAction("resume"); });
    api("GET", "/api/agents").then(function (r) {
      r.agents.forEach(function (a) {
        if (a.code === seat) onAgent({ state: a.state === "available" ? "free" : (a.state === "offline" ? "logged_out" : a.state) });
      });
    }).catch(function () { /* shown on first change */ });
  }

  // -- my callbacks (我的回拨): the ticket, and a dial button that places that callback now ------
  var OUTCOME = { answered: "已接通市民", no_answer: "市民未接听", busy: "市民占线", failed: "市民号码呼叫失败",
                  citizen_hangup: "市民挂断", agent_no_answer: "您的话机未接", agent_busy: "您的话机忙",
                  agent_failed: "您的话机未能接通", agent_hangup: "您在接通市民前挂机" };
  var CB_STATUS = { pending: "待回拨", in_progress: "拨打中", done: "已回拨", failed: "未联系上" };
  var dialing = {};  // callback id -> what the stream said last, kept across list reloads
  function cbRow(id) { return document.querySelector('#callbacks li[data-id="' + id + '"]'); }
  function showDial(id, text, cls, busy) {
    var row = cbRow(id);
    if (!row) return;
    var st = row.querySelector(".cb-state");
    st.textContent = text; st.className = "cb-state" + (cls ? " " + cls : "");
    row.dataset.dial = cls || "";
    var b = row.querySelector(".dial-btn");
    if (b) { b.disabled = !!busy; }
  }
  function onCallback(ev) {
    dialing[ev.id] = ev;
    if (ev.state === "dialling") {
      showDial(ev.id, "正在回拨 " + ev.ticket + "：先响您的话机，接起后拨市民…", "", true);
    } else if (ev.state === "ended") {
      var ok = ev.outcome === "answered";
      showDial(ev.id, (OUTCOME[ev.outcome] || ev.outcome) + " · " + (CB_STATUS[ev.status] || ev.status) +
               (ev.status === "pending" ? "（将自动重拨）" : ""), ok ? "ok" : "error", ev.status !== "pending");
      var row = cbRow(ev.id);
      if (row) row.dataset.outcome = ev.outcome;
      setTimeout(loadCallbacks, ev.status === "pending" ? 1500 : 8000);
    } else {
      showDial(ev.id, ev.message || "回拨出错", "error", false);
    }
  }
  function dial(b) {
    var id = b.dataset.id;
    b.disabled = true;
    showDial(id, "正在发起回拨…", "", true);
    api("POST", "/api/callbacks/" + encodeURIComponent(id) + "/dial").then(function (r) {
      if (!dialing[id] || dialing[id].attempt !== r.attempt) onCallback({ id: id, attempt: r.attempt, ticket: r.ticket, state: "dialling" });
    }).catch(function (e) {
      showDial(id, "未回拨：" + e.message, "error", e.data && e.data.error_id === "being-placed");
    });
  }
  function loadCallbacks() {
    api("GET", "/api/callbacks").then(function (r) {
      fill($("callbacks"), r.callbacks, function (c) {
        var e = document.createElement("li");
        e.dataset.id = c.id;
        var text = document.createElement("span");
        text.className = "cb-text" + (c.overdue ? " error" : "");
        var a = document.createElement("a"); a.href = "/tickets/" + c.ticket_id; a.target = "_blank"; a.textContent = c.ticket;
        text.appendChild(document.createTextNode(localTime(c.due_at) + " "));
        text.appendChild(a);
        text.appendChild(document.createTextNode(" " + (c.phone || "") + " " + (c.category || "")));
        e.appendChild(text);
        var b = document.createElement("button");
        b.type = "button"; b.className = "dial-btn"; b.textContent = "回拨"; b.dataset.id = c.id;
        var why = !r.can_dial ? (seat ? "回拨调度未接入" : "此账号没有坐席号") : (c.status === "in_progress" ? "正在拨打中" : "");
        b.disabled = !!why;
        b.title = why || ("现在回拨 " + c.ticket + "：先响您的话机，再拨市民");
        e.appendChild(b);
        var st = document.createElement("span");
        st.className = "cb-state";
        st.textContent = (CB_STATUS[c.status] || c.status) + (c.attempts ? " · 已拨 " + c.attempts + " 次" : "");
        e.appendChild(st);
        return e;
      }, "暂无");
      Object.keys(dialing).forEach(function (id) {
        var ev = dialing[id];
        if (ev.state === "dialling" && cbRow(id)) onCallback(ev);
      });
    }).catch(function () { /* not fatal */ });
  }
  $("callbacks").addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest(".dial-btn") : null;
    if (b && !b.disabled) dial(b);
  });

  // -- the transcript of the seat's last call ----------------------------------------------------
  var JOB = { none: "未转写", queued: "排队中", running: "转写中", done: "已完成", failed: "转写失败" };
  var shownTranscript = null;
  function clock(s) {
    var m = Math.floor(s / 60), r = s - 60 * m;
    return (m < 10 ? "0" : "") + m + ":" + (r < 10 ? "0" : "") + r.toFixed(1);
  }
  function showTranscript(t) {
    if (!t || !t.call) return;
    if (shownTranscript && shownTranscript.ended_at && t.ended_at && t.ended_at < shownTranscript.ended_at) return;  // an older call's
    shownTranscript = t;
    var card = $("transcript-card");
    card.dataset.call = t.call; card.dataset.status = t.status;
    var badge = $("transcript-state");
    badge.textContent = JOB[t.status] || t.status;
    $("transcript-call").textContent = "通话 " + localTime(t.ended_at) + (t.ticket ? " · 工单 " + t.ticket : "") +
      (t.status === "failed" && t.error ? " · " + t.error : "") + (t.model ? " · 模型 " + t.model : "");
    fill($("transcript"), t.segments || [], function (g) {
      var e = document.createElement("li");
      e.className = g.speaker;
      e.dataset.speaker = g.speaker;
      var who = document.createElement("span"); who.className = "who"; who.textContent = g.label;
      var at = document.createElement("span"); at.className = "at"; at.textContent = clock(g.start_s);
      var said = document.createElement("span"); said.className = "said"; said.textContent = g.text;
      e.appendChild(who); e.appendChild(at); e.appendChild(said);
      return e;
    }, t.status === "done" ? "（没有听到说话）" : (JOB[t.status] || t.status) + "…");
    window.hotlineDesk.transcripts.push({ call: t.call, status: t.status, at: Date.now() });
  }
  // -- live captions: partial text replaces the speaker's open line, a final one closes it ------
  var captionCall = null, openLine = {};
  var WHO = { citizen: "市民", agent: "坐席" };
  function showCaption(c) {
    var card = $("captions-card"), list = $("captions");
    if (c.call !== captionCall) { captionCall = c.call; openLine = {}; list.textContent = ""; }
    card.hidden = false; card.dataset.call = c.call;
    if (c.kind === "shed") {  // the decoders fell behind: no more live words for this call
      var notice = document.createElement("li");
      notice.className = "shed"; notice.dataset.kind = "shed"; notice.textContent = c.note;
      list.appendChild(notice); openLine = {};
      return;
    }
    var line = openLine[c.speaker];
    if (!line) {
      line = document.createElement("li");
      line.className = c.speaker; line.dataset.speaker = c.speaker;
      var who = document.createElement("span"); who.className = "who"; who.textContent = WHO[c.speaker] || c.speaker;
      var said = document.createElement("span"); said.className = "said";
      line.appendChild(who); line.appendChild(said);
      list.appendChild(line);
      openLine[c.speaker] = line;
    }
    line.dataset.kind = c.kind;
    line.lastChild.textContent = c.text;
    if (c.kind === "final") {
      openLine[c.speaker] = null;
      var s = c.suggestion;
      if (s) $("captions-suggestion").textContent = "建议：" + (s.category ? s.category + " · " : "") + s.department_name + " · " + s.hotline_name + " " + s.hotline_number;
    }
    window.hotlineDesk.captions = (window.hotlineDesk.captions || 0) + 1;
  }
  function loadTranscript() {
    if (!seat) return;
    api("GET", "/api/transcripts/latest").then(showTranscript).catch(function () { /* no call yet */ });
  }

  // -- keyboard: the answer-side actions without the mouse --------------------------------------
  document.addEventListener("keydown", function (ev) {
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
    if (ev.ctrlKey && ev.key === "Enter") { ev.preventDefault(); saveTicket(); return; }
    if (ev.key === "Escape" && document.activeElement === $("dir-q")) { $("dir-q").value = ""; search(); return; }
    if (!typing && ev.key === "/") { ev.preventDefault(); $("dir-q").focus(); return; }
    if (!ev.altKey) return;
    var k = ev.key.toLowerCase();
    if (k === "f") { ev.preventDefault(); $("dir-q").focus(); }
    else if (k === "t") { ev.preventDefault(); $("f-description").focus(); }
    else if (k === "b" && bridgeOn) {
      ev.preventDefault();
      var first = document.querySelector("#dir-results .bridge-btn");
      if (first && !first.disabled) first.click();
    }
    else if (k === "l" && bridgeOn && room && !room.ended && room.can_leave) { ev.preventDefault(); bridgeAction("leave"); }
    else if (k === "n") { ev.preventDefault(); clearForm("new"); loadDraft("new"); $("f-description").focus(); }
    else if (k === "p" && seat) {
      ev.preventDefault();
      if ($("seat-state").dataset.state === "paused") seatAction("resume");
      else seatAction("pause", { reason: $("pause-reason").value });
    }
  });

  if ($("wrapup-end")) {
    $("wrapup-end").addEventListener("click", function () {
      api("POST", "/api/floor/wrapup/end").then(function () {
        $("seat-message").textContent = "整理结束，可以接听来电";
      }).catch(function (e) { $("seat-message").textContent = e.message; });
    });
  }

  loadDraft("new");
  loadCallbacks();
  loadTranscript();
  search();
  connect();
})();
