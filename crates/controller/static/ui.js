// Flotilla UI: live updates over Server-Sent Events. The pages work
// without this file; it only keeps an open page current.
(function () {
  'use strict';
  var marker = document.querySelector('[data-live]');
  if (!marker || !window.EventSource) { return; }
  var mode = marker.getAttribute('data-live');
  var only = marker.getAttribute('data-app') || '';
  var url = '/ui/events' + (only ? '?app=' + encodeURIComponent(only) : '');

  function setFields(root, d) {
    ['sync', 'health', 'revision', 'operation', 'lastSync', 'reconciledAt'].forEach(function (f) {
      if (d[f] === undefined) { return; }
      root.querySelectorAll('[data-field="' + f + '"]').forEach(function (el) {
        if (el.textContent === d[f]) { return; }
        el.textContent = d[f];
        if (el.classList.contains('badge')) { el.className = 'badge s-' + d[f]; }
        el.classList.add('changed');
      });
    });
  }

  var timers = {};
  function later(key, ms, fn) {
    if (timers[key]) { return; }
    timers[key] = setTimeout(function () { timers[key] = null; fn(); }, ms);
  }

  // Folded or unfolded blocks of the tree stay as the reader left them.
  function foldState(el) {
    var state = {};
    el.querySelectorAll('details[data-key]').forEach(function (d) { state[d.getAttribute('data-key')] = d.open; });
    return state;
  }
  function restoreFolds(el, state) {
    el.querySelectorAll('details[data-key]').forEach(function (d) {
      var k = d.getAttribute('data-key');
      if (Object.prototype.hasOwnProperty.call(state, k)) { d.open = state[k]; }
    });
  }

  function fetchInto(src, id) {
    return fetch(src, { credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) { return null; }
      return r.text();
    }).then(function (html) {
      var el = document.getElementById(id);
      if (html === null || !el) { return; }
      var state = foldState(el);
      el.innerHTML = html;
      restoreFolds(el, state);
    }).catch(function () {});
  }

  function reloadTree() {
    var tree = document.getElementById('tree');
    if (!tree) { return; }
    var src = tree.getAttribute('data-src');
    fetchInto(src, 'tree');
    // Owners change before what they own appears: look again shortly.
    later('tree2', 600, function () { fetchInto(src, 'tree'); });
  }

  function reloadSections() {
    fetch(location.href, { credentials: 'same-origin' }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html === null) { return; }
      var doc = new DOMParser().parseFromString(html, 'text/html');
      ['app-sections'].forEach(function (id) {
        var fresh = doc.getElementById(id);
        var old = document.getElementById(id);
        if (!fresh || !old) { return; }
        var state = foldState(old);
        old.innerHTML = fresh.innerHTML;
        restoreFolds(old, state);
      });
    }).catch(function () {});
  }

  var source = new EventSource(url, { withCredentials: true });
  source.addEventListener('app', function (e) {
    var d;
    try { d = JSON.parse(e.data); } catch (err) { return; }
    if (mode === 'app') {
      if (d.name !== only) { return; }
      setFields(document.querySelector('main'), d);
      later('sections', 150, reloadSections);
    } else {
      document.querySelectorAll('[data-app]').forEach(function (row) {
        if (row.getAttribute('data-app') === d.name && !row.hasAttribute('data-live')) { setFields(row, d); }
      });
    }
  });
  source.addEventListener('tree', function () { later('tree', 100, reloadTree); });
  source.addEventListener('gone', function (e) {
    if (mode === 'app' && e.data === only) { location.href = '/applications'; }
  });
  source.addEventListener('reload', function () { location.reload(); });
  window.addEventListener('beforeunload', function () { source.close(); });
  document.documentElement.setAttribute('data-live-connected', '1');
})();
