// The grid worker's page as an installable app: its shell (page, script, style, icons) is kept
// so the page opens without a network. Data calls (/api/) always go to the network; what the
// worker sends while offline waits in the page's own outbox (IndexedDB), not here.
'use strict';
const CACHE = 'grid-shell-v1';
const SHELL = ['/grid/', '/grid/static/grid.js', '/grid/static/grid.css',
  '/grid/static/icon-192.png', '/grid/manifest.webmanifest'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin ||
      !url.pathname.startsWith('/grid/')) {
    return;
  }
  // Network first, so a new version is picked up when online; the kept copy when not.
  event.respondWith(fetch(event.request).then((resp) => {
    if (resp.ok && !resp.redirected) {
      const copy = resp.clone();
      caches.open(CACHE).then((c) => c.put(event.request, copy));
    }
    return resp;
  }).catch(() => caches.match(event.request, { ignoreSearch: true })
    .then((hit) => hit || Response.error())));
});
