// The map page's import forms: send the chosen file as it is, show what was imported or every
// problem the server found (a refused file changes nothing).
'use strict';
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const out = document.getElementById('import-result');
  function show(lines, ok) {
    out.replaceChildren();
    out.className = ok ? 'ok' : 'error';
    const list = document.createElement('ul');
    for (const line of lines) {
      const li = document.createElement('li');
      li.textContent = line;
      list.append(li);
    }
    out.append(list);
  }
  function wire(button, input, type) {
    button.addEventListener('click', async () => {
      const file = input.files[0];
      if (!file) { show(['请先选择文件'], false); return; }
      const resp = await fetch(button.dataset.url, { method: 'POST', credentials: 'same-origin',
        headers: { 'X-CSRF-Token': csrf, 'Content-Type': type }, body: file });
      const data = await resp.json().catch(() => ({ message: resp.statusText }));
      if (resp.ok) {
        show([`已导入：${JSON.stringify(data.counts || data)}`], true);
        return;
      }
      const problems = (data.details && data.details.problems) || [];
      show([data.message, ...problems.map((p) => (typeof p === 'string' ? p
        : `${p.feature !== null ? `#${p.feature} ` : ''}${p.code || ''} ${p.message}`))], false);
    });
  }
  wire(document.getElementById('map-import'), document.getElementById('map-file'),
       'application/geo+json');
  wire(document.getElementById('address-import'), document.getElementById('address-file'),
       'text/csv; charset=utf-8');
}());
