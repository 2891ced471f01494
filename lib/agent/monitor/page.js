// The topology page's script: reads the agent's Server-Sent Events (`events`) and updates the graph,
// the table and the panel in place. It only reads: nothing here can change the agent.
'use strict';
(function () {
  var HISTORY = 180;
  var history = {}; // id -> array of [in, out, fill?]
  var version = null;

  function fmtRate(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e4) return (n / 1e3).toFixed(0) + 'k';
    if (n >= 1e3) return (n / 1e3).toFixed(1) + 'k';
    return n >= 10 || n === 0 ? String(Math.round(n)) : n.toFixed(1);
  }
  function fmtDuration(ms) {
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + (d || h || m ? m + 'm ' : '') + (s % 60) + 's';
  }
  function fillClass(fill) { return fill >= 90 ? 'crit' : fill >= 75 ? 'warn' : ''; }
  function text(el, value) { if (el && el.textContent !== value) el.textContent = value; }
  function nodeOf(id) { return document.querySelector('.node[data-id="' + CSS.escape(id) + '"]'); }

  function remember(id, point) {
    var h = history[id] || (history[id] = []);
    h.push(point);
    if (h.length > HISTORY) h.shift();
  }

  function spark(node, points, channel) {
    var line = node.querySelector('.spark');
    if (!line || points.length < 2) return;
    var box = node.querySelector('.box');
    var w = Number(box.getAttribute('width')), top = 42, bottom = channel ? 52 : 62;
    // Channels show their fill (0–100 %), the others their out rate, scaled to its own maximum.
    var values = points.map(function (p) { return channel ? (p[2] || 0) : p[1]; });
    var max = channel ? 100 : Math.max.apply(null, values.concat([1]));
    var step = (w - 16) / (HISTORY - 1), x0 = w - 8 - (values.length - 1) * step;
    line.setAttribute('points', values.map(function (v, i) {
      return (x0 + i * step).toFixed(1) + ',' + (bottom - (v / max) * (bottom - top)).toFixed(1);
    }).join(' '));
  }

  function statLine(r) {
    if (r.type === 'CHANNEL') return (r.fill === undefined ? r.size + ' events' : r.fill.toFixed(0) + '% · ' + r.size + '/' + r.capacity) + ' · ' + fmtRate(r.inRate) + '→' + fmtRate(r.outRate) + '/s';
    var s = fmtRate(r.inRate) + ' in · ' + fmtRate(r.outRate) + ' out/s';
    if (r.errors > 0) s += ' · ' + r.errors + ' err';
    return s;
  }
  function describe(r) {
    var parts = [fmtRate(r.inRate) + ' events per second in', fmtRate(r.outRate) + ' out'];
    if (r.fill !== undefined) parts.unshift(r.fill.toFixed(0) + ' percent full, ' + r.size + ' of ' + r.capacity + ' events');
    if (r.errors > 0) parts.push(r.errors + ' errors');
    if (r.state !== 'ok') parts.push(r.state);
    return parts.join(', ');
  }

  function updateNode(r) {
    var node = nodeOf(r.id);
    if (!node) return;
    var channel = r.type === 'CHANNEL';
    text(node.querySelector('[data-stat]'), statLine(r));
    node.classList.toggle('failing', r.state === 'failing');
    node.classList.toggle('ended', r.state === 'ended');
    var base = node.querySelector('title').textContent;
    node.setAttribute('aria-label', base + ': ' + describe(r));
    if (channel && r.fill !== undefined) {
      var bar = node.querySelector('.bar'), bg = node.querySelector('.bar-bg');
      bar.setAttribute('width', (Number(bg.getAttribute('width')) * r.fill / 100).toFixed(1));
      bar.setAttribute('class', ('bar ' + fillClass(r.fill)).trim());
      node.setAttribute('data-fill', r.fill.toFixed(1));
    }
    spark(node, history[r.id] || [], channel);
  }

  function updateTable(rows) {
    var body = document.querySelector('#components tbody');
    rows.forEach(function (r) {
      var tr = body.querySelector('tr[data-id="' + CSS.escape(r.id) + '"]');
      if (!tr) {
        tr = document.createElement('tr');
        tr.setAttribute('data-id', r.id);
        for (var i = 0; i < 7; i++) tr.appendChild(document.createElement(i === 0 ? 'th' : 'td'));
        tr.firstChild.setAttribute('scope', 'row');
        tr.firstChild.textContent = r.id;
        body.appendChild(tr);
      }
      var c = tr.children;
      text(c[2], fmtRate(r.inRate));
      text(c[3], fmtRate(r.outRate));
      text(c[4], r.fill === undefined ? '' : r.fill.toFixed(0) + '%');
      text(c[5], String(r.errors));
      text(c[6], r.state);
      tr.className = [r.state === 'failing' ? 'failing' : '', r.fill === undefined ? '' : fillClass(r.fill)].join(' ').trim();
    });
  }

  function updatePanel(p) {
    text(document.getElementById('state'), p.state);
    if (p.info) text(document.getElementById('uptime'), fmtDuration(p.uptimeMs));
    var info = p.info;
    if (!info) return;
    text(document.getElementById('config'), info.configFiles.join(', '));
    var reload = info.lastReload;
    text(document.getElementById('reload'), reload ? new Date(reload.at).toLocaleTimeString() + (reload.ok ? ' — applied' : ' — refused: ' + reload.error) : 'none');
    var list = document.getElementById('warnings');
    var key = JSON.stringify(info.warnings);
    if (list.getAttribute('data-key') === key) return;
    list.setAttribute('data-key', key);
    list.textContent = '';
    if (info.warnings.length === 0) {
      var none = document.createElement('li');
      none.className = 'none';
      none.textContent = 'none';
      list.appendChild(none);
    }
    info.warnings.slice().reverse().forEach(function (w) {
      var li = document.createElement('li');
      li.className = w.level;
      li.textContent = new Date(w.at).toLocaleTimeString() + ' ' + w.message;
      list.appendChild(li);
    });
  }

  function onPayload(p) {
    // The topology changed shape (a reload): the server renders the new graph.
    if (version !== null && p.version !== version) { location.reload(); return; }
    version = p.version;
    p.rows.forEach(function (r) {
      remember(r.id, r.fill === undefined ? [r.inRate, r.outRate] : [r.inRate, r.outRate, r.fill]);
      updateNode(r);
    });
    updateTable(p.rows);
    updatePanel(p);
    document.body.setAttribute('data-updated', String(p.t));
  }

  var status = document.getElementById('connection');
  var source = new EventSource('events');
  source.addEventListener('history', function (e) {
    JSON.parse(e.data).forEach(function (point) {
      Object.keys(point.v).forEach(function (id) { remember(id, point.v[id]); });
    });
  });
  source.onmessage = function (e) { onPayload(JSON.parse(e.data)); };
  source.onopen = function () { status.textContent = 'live'; status.className = ''; };
  source.onerror = function () { status.textContent = 'connection lost — retrying'; status.className = 'lost'; };
})();
