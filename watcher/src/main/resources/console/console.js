// zen-watcher console: the theme switch and the live check. No inline code (CSP).
(function () {
  'use strict';
  var root = document.documentElement;
  var stored = null;
  try { stored = localStorage.getItem('zw-theme'); } catch (e) { /* private mode */ }
  function prefersDark() {
    return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches;
  }
  function apply(theme) {
    root.setAttribute('data-theme', theme);
    var b = document.getElementById('theme-toggle');
    if (b) {
      b.setAttribute('aria-pressed', theme === 'dark' ? 'true' : 'false');
      b.textContent = theme === 'dark' ? 'Light theme' : 'Dark theme';
    }
  }
  apply(stored || (prefersDark() ? 'dark' : 'light'));
  document.addEventListener('click', function (ev) {
    var t = ev.target;
    if (t && t.id === 'theme-toggle') {
      var next = root.getAttribute('data-theme') === 'dark' ? 'light' : 'dark';
      try { localStorage.setItem('zw-theme', next); } catch (e) { /* private mode */ }
      apply(next);
    }
  });
  // htmx swaps the body on boosted navigation: the button is new, its label follows the theme.
  document.addEventListener('htmx:afterSettle', function () { apply(root.getAttribute('data-theme')); });

  // Live: poll the store's state tag (ETag, 304 when unchanged); when it moved, re-fetch this page
  // and swap its #live part in place. Paused while the tab is hidden.
  var POLL_MS = 3000;
  var busy = false;
  function check() {
    var live = document.getElementById('live');
    if (busy || !live || live.getAttribute('data-live') !== 'on' || document.hidden) { return; }
    busy = true;
    fetch('/console/stamp', { headers: { 'Accept': 'application/json' }, cache: 'no-cache', credentials: 'same-origin' })
      .then(function (r) {
        // READ_AUTH=token and the session ended (signed out elsewhere, expired): reload, which
        // leads to the sign-in page and back here.
        if (r.status === 401) { location.reload(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (s) {
        var now = document.getElementById('live');
        if (s && now && s.tag !== now.getAttribute('data-tag') && window.htmx) {
          return window.htmx.ajax('GET', location.pathname + location.search,
            { target: '#live', select: '#live', swap: 'outerHTML' });
        }
      })
      .catch(function () { /* try again at the next tick */ })
      .then(function () { busy = false; });
  }
  setInterval(check, POLL_MS);
})();
