// The grid worker's phone page (/grid/): report a problem with photos and the position, visits,
// verification tasks, the daily log. Everything the worker sends first goes into an outbox in
// IndexedDB with an idempotency key made here, then to the server; what could not be sent
// (no network, signed out, server down) stays there and is sent again when the network is
// back. The server files each key once, so a resend never makes a second ticket.
'use strict';
(function () {
  const body = document.body;
  const USER = body.dataset.user;
  const MY_GRID = body.dataset.grid;
  const MAX_PHOTOS = Number(body.dataset.maxPhotos) || 4;
  const $ = (sel, root) => (root || document).querySelector(sel);
  let csrf = $('meta[name="csrf-token"]').content;
  let position = null;
  let reportPhotos = [];

  // -- small helpers -------------------------------------------------------------------------
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }
  let toastTimer = null;
  function toast(text) {
    const t = $('#toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  }
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function localTime(iso) {
    const d = new Date(iso);
    return `${d.getMonth() + 1}-${d.getDate()} ${String(d.getHours()).padStart(2, '0')}:` +
      String(d.getMinutes()).padStart(2, '0');
  }
  function setNet(online) {
    const n = $('#net');
    n.textContent = online ? '在线' : '离线';
    n.classList.toggle('offline', !online);
  }

  // -- the outbox (IndexedDB) ------------------------------------------------------------------
  const dbReady = new Promise((resolve, reject) => {
    const open = indexedDB.open('grid-outbox', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('items', { keyPath: 'key' });
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  function done(request) {
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  async function items(mode) {
    return (await dbReady).transaction('items', mode).objectStore('items');
  }
  async function keep(item) { await done((await items('readwrite')).put(item)); }
  async function drop(key) { await done((await items('readwrite')).delete(key)); }
  async function mine() {
    const all = await done((await items('readonly')).getAll());
    return all.filter((i) => i.user === USER).sort((a, b) => a.made_at.localeCompare(b.made_at));
  }

  async function renderOutbox() {
    const all = await mine();
    const waiting = all.filter((i) => !i.error);
    $('#outbox').textContent = `待发送 ${waiting.length} 条`;
    body.dataset.outbox = String(waiting.length);
    const failed = $('#failed');
    failed.replaceChildren();
    for (const item of all.filter((i) => i.error)) {
      const li = el('li', `${localTime(item.made_at)} ${LABELS[item.kind]}未被接受：${item.error}`);
      const del = el('button', '删除', 'small');
      del.type = 'button';
      del.addEventListener('click', async () => { await drop(item.key); renderOutbox(); });
      li.append(' ', del);
      failed.append(li);
    }
    failed.hidden = !failed.children.length;
  }
  const LABELS = { report: '上报', visit: '走访记录', answer: '核实结果', log: '民情日志' };

  async function enqueue(item) {
    item.user = USER;
    item.made_at = item.made_at || new Date().toISOString();
    await keep(item);
    await renderOutbox();
    toast(navigator.onLine ? '已保存，正在发送…' : '已保存在手机上，联网后自动发送');
    flush();
  }

  function request(item) {
    const headers = { 'X-CSRF-Token': csrf };
    if (item.kind === 'report' || item.kind === 'answer') {
      const form = new FormData();
      form.append('key', item.key);
      if (item.kind === 'report') form.append('made_at', item.made_at);
      for (const [k, v] of Object.entries(item.fields)) {
        if (v !== null && v !== undefined && v !== '') form.append(k, String(v));
      }
      (item.photos || []).forEach((blob, i) => form.append('photo', blob, `photo-${i + 1}.jpg`));
      const url = item.kind === 'report' ? '/api/grid/reports'
        : `/api/grid/tasks/${item.task}/answer`;
      return fetch(url, { method: 'POST', body: form, headers, credentials: 'same-origin' });
    }
    headers['Content-Type'] = 'application/json';
    if (item.kind === 'visit') {
      return fetch('/api/grid/visits', { method: 'POST', headers, credentials: 'same-origin',
        body: JSON.stringify(Object.assign({ key: item.key, visited_at: item.made_at },
          item.fields)) });
    }
    return fetch('/api/grid/log', { method: 'PUT', headers, credentials: 'same-origin',
      body: JSON.stringify(item.fields) });
  }

  async function refreshToken() {
    try {
      const r = await fetch('/api/grid/me', { credentials: 'same-origin' });
      setNet(true);
      if (r.status === 401) { toast('登录已过期：请重新登录，未发送的内容会自动补发'); return false; }
      if (!r.ok) return false;
      const me = await r.json();
      csrf = me.csrf_token;
      const count = $('#task-count');
      count.textContent = me.open_tasks ? String(me.open_tasks) : '';
      return true;
    } catch (e) {
      setNet(false);
      return false;
    }
  }

  let flushing = false;
  let again = false;
  async function flush() {
    if (flushing) { again = true; return; }
    flushing = true;
    try {
      do {
        again = false;
        const waiting = (await mine()).filter((i) => !i.error);
        if (!waiting.length || !(await refreshToken())) break;
        for (const item of waiting) {
          let resp;
          try {
            resp = await request(item);
          } catch (e) {
            setNet(false);
            return;
          }
          if (resp.ok) {
            await drop(item.key);
            sent(item, await resp.json().catch(() => ({})));
            continue;
          }
          if ([401, 403, 408, 429].includes(resp.status) || resp.status >= 500) {
            return; // signed out, stale token, busy or down: try again later
          }
          const err = await resp.json().catch(() => ({ message: resp.statusText }));
          item.error = err.message || String(resp.status);
          await keep(item);
        }
      } while (again);
    } finally {
      flushing = false;
      renderOutbox();
    }
  }

  function sent(item, data) {
    if (item.kind === 'report') {
      toast(`已上报，工单号 ${data.number}`);
      loadReports();
    } else if (item.kind === 'answer') {
      toast('核实结果已送达');
      loadTasks();
    } else if (item.kind === 'visit') {
      toast('走访记录已保存');
      loadVisits();
    } else {
      $('#log-saved').textContent = `已保存 ${localTime(data.updated_at)}`;
    }
  }

  // -- photos: scaled down on the phone before they are kept or sent --------------------------
  async function shrink(file) {
    try {
      const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
      const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      if (bitmap.close) bitmap.close();
      return await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
    } catch (e) {
      return file; // the server checks it and says so if it is not a photo
    }
  }
  async function takePhotos(input, list, previews) {
    for (const file of Array.from(input.files || [])) {
      if (list.length >= MAX_PHOTOS) { toast(`最多 ${MAX_PHOTOS} 张照片`); break; }
      list.push(await shrink(file));
    }
    input.value = '';
    previews.replaceChildren();
    list.forEach((blob, i) => {
      const img = el('img');
      img.src = URL.createObjectURL(blob);
      img.alt = `照片 ${i + 1}`;
      img.addEventListener('load', () => URL.revokeObjectURL(img.src));
      previews.append(img);
    });
  }

  // -- position ------------------------------------------------------------------------------
  function locate() {
    const out = $('#position');
    if (!navigator.geolocation) { out.textContent = '此设备不能定位，请填写地址'; return; }
    out.textContent = '正在定位…';
    navigator.geolocation.getCurrentPosition((p) => {
      position = { latitude: p.coords.latitude, longitude: p.coords.longitude };
      describePosition();
    }, (err) => {
      position = null;
      out.textContent = `未能定位（${err.message || err.code}），请填写地址`;
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }
  async function describePosition() {
    const out = $('#position');
    out.textContent = `位置：${position.latitude.toFixed(5)}, ${position.longitude.toFixed(5)}`;
    try {
      const r = await fetch(`/api/grid/locate?latitude=${position.latitude}` +
                            `&longitude=${position.longitude}`, { credentials: 'same-origin' });
      if (!r.ok) return;
      const place = await r.json();
      if (place.found) {
        out.textContent = `位置：${place.code} ${place.name}` +
          (place.grid !== MY_GRID ? '（不在本网格）' : '');
        out.dataset.code = place.code;
      } else {
        out.textContent += '（不在地图范围内）';
      }
    } catch (e) { /* offline: the coordinates are enough */ }
  }

  // -- lists read from the server (kept for offline reading) ----------------------------------
  async function fetchList(url, cacheKey) {
    try {
      const r = await fetch(url, { credentials: 'same-origin' });
      if (!r.ok) throw new Error(String(r.status));
      const data = await r.json();
      localStorage.setItem(`${cacheKey}:${USER}`, JSON.stringify(data));
      return data;
    } catch (e) {
      return JSON.parse(localStorage.getItem(`${cacheKey}:${USER}`) || '[]');
    }
  }
  const STATUS = { received: '已受理', dispatched: '已派单', handling: '办理中', replied: '已回复',
    followed_up: '已回访', closed: '已办结', reopened: '重办', merged: '已合并' };
  async function loadReports() {
    const list = $('#report-list');
    const reports = await fetchList('/api/grid/reports', 'grid-reports');
    list.replaceChildren(...reports.map((r) => {
      const li = el('li');
      li.dataset.ticket = r.ticket;
      li.append(el('strong', r.ticket), ' ', el('span', r.grid || '', 'muted'), ' ',
                el('span', STATUS[r.status] || r.status), el('br'),
                el('span', `${r.category}：${r.description}`));
      return li;
    }));
  }
  async function loadVisits() {
    const list = $('#visit-list');
    const visits = await fetchList('/api/grid/visits', 'grid-visits');
    list.replaceChildren(...visits.map((v) => el('li',
      `${localTime(v.visited_at)} ${v.subject === 'household' ? '住户' : '重点人员'} ` +
      `${v.visitee}：${v.notes}`)));
  }
  async function loadLog() {
    try {
      const r = await fetch('/api/grid/log', { credentials: 'same-origin' });
      if (!r.ok) return;
      const log = await r.json();
      const area = $('#log-text');
      if (!area.value) area.value = log.text || '';
      $('#log-saved').textContent = log.updated_at ? `已保存 ${localTime(log.updated_at)}` : '';
    } catch (e) { /* offline: keep what is typed */ }
  }

  // -- verification tasks --------------------------------------------------------------------
  async function loadTasks() {
    const tasks = await fetchList('/api/grid/tasks?open=1', 'grid-tasks');
    const pending = new Set((await mine()).filter((i) => i.kind === 'answer')
      .map((i) => i.task));
    const open = tasks.filter((t) => !pending.has(t.id));
    $('#task-count').textContent = open.length ? String(open.length) : '';
    const list = $('#task-list');
    list.replaceChildren();
    if (!open.length) list.append(el('li', '暂无待核实任务', 'muted'));
    for (const task of open) list.append(taskItem(task));
  }
  function taskItem(task) {
    const li = $('#task-template').content.firstElementChild.cloneNode(true);
    li.dataset.task = String(task.id);
    $('.number', li).textContent = task.ticket.number;
    $('.category', li).textContent = task.ticket.category || '';
    $('.grid', li).textContent = task.ticket.grid || '';
    $('.description', li).textContent = task.ticket.description;
    $('.address', li).textContent = task.ticket.address || '';
    $('.note', li).textContent = task.note ? `调度员：${task.note}` : '';
    for (const p of task.photos) {
      const img = el('img');
      img.src = p.url;
      img.alt = '工单照片';
      img.loading = 'lazy';
      $('.photos', li).append(img);
    }
    const form = $('form', li);
    const photos = [];
    form.photos.addEventListener('change', () => takePhotos(form.photos, photos,
                                                             $('.previews', li)));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const answer = form.answer.value.trim();
      if (!answer) { toast('请写明现场情况'); return; }
      await enqueue({ key: uuid(), kind: 'answer', task: task.id, photos: photos.slice(),
        fields: { result: form.result.value, answer } });
      li.remove();
    });
    return li;
  }

  // -- forms ---------------------------------------------------------------------------------
  $('#r-photos').addEventListener('change', () => takePhotos($('#r-photos'), reportPhotos,
                                                             $('#r-previews')));
  $('#report-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target;
    const fields = { category: f.category.value, kind: f.kind.value,
      description: f.description.value.trim(), address: f.address.value.trim() };
    if (!fields.description) { toast('请填写问题描述'); return; }
    if (position) {
      fields.latitude = position.latitude;
      fields.longitude = position.longitude;
    } else if (!fields.address) {
      toast('没有定位，请填写地址');
      return;
    }
    const photos = reportPhotos;
    reportPhotos = [];
    f.description.value = '';
    f.address.value = '';
    $('#r-previews').replaceChildren();
    await enqueue({ key: uuid(), kind: 'report', fields, photos });
  });
  $('#visit-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target;
    const fields = { subject: f.subject.value, visitee: f.visitee.value.trim(),
      notes: f.notes.value.trim() };
    if (!fields.visitee || !fields.notes) { toast('请填写走访对象和情况'); return; }
    if (position) {
      fields.latitude = position.latitude;
      fields.longitude = position.longitude;
    }
    f.visitee.value = '';
    f.notes.value = '';
    await enqueue({ key: uuid(), kind: 'visit', fields });
  });
  $('#log-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = $('#log-text').value.trim();
    if (!text) { toast('日志不能为空'); return; }
    const day = body.dataset.today;
    // One outbox entry per day: saving again before it was sent replaces it.
    await enqueue({ key: `log-${USER}-${day}`, kind: 'log', fields: { day, text } });
  });
  $('#locate').addEventListener('click', locate);
  $('#send-now').addEventListener('click', flush);

  // -- tabs ----------------------------------------------------------------------------------
  const loaders = { report: loadReports, tasks: loadTasks, visit: loadVisits, log: loadLog };
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener('click', () => {
      for (const other of document.querySelectorAll('[role="tab"]')) {
        other.setAttribute('aria-selected', String(other === tab));
        $(`#panel-${other.dataset.tab}`).hidden = other !== tab;
      }
      loaders[tab.dataset.tab]();
    });
  }

  // -- start ---------------------------------------------------------------------------------
  window.addEventListener('online', () => { setNet(true); flush(); });
  window.addEventListener('offline', () => setNet(false));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') { flush(); loadTasks(); }
  });
  setInterval(flush, 15000);
  setInterval(() => { if (navigator.onLine) loadTasks(); }, 30000);
  setNet(navigator.onLine);
  if ('serviceWorker' in navigator) {
    // data-sw says the page is served by its worker: it will open without a network.
    const controlled = () => {
      if (navigator.serviceWorker.controller) body.dataset.sw = 'controlled';
    };
    navigator.serviceWorker.addEventListener('controllerchange', controlled);
    navigator.serviceWorker.register('/grid/sw.js', { scope: '/grid/' })
      .then(controlled).catch(() => {});
    controlled();
  }
  locate();
  loadReports();
  loadTasks();
  renderOutbox().then(flush);
  body.dataset.ready = '1';
}());
