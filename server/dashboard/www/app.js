// emqxd's web dashboard: one page, a hash router, and everything it shows read from the
// node's /api/v5 (EMQX 5's shapes) with the bearer token of POST /api/v5/login.
//
// Rules this file keeps:
// - Text from the API reaches the DOM only as text (textContent, text nodes, attribute
//   values set one by one); there is no innerHTML anywhere.
// - Every error is shown: an API error body {"code", "message"} in the red banner, a 401
//   on the login page. Nothing is caught and dropped.
// - Nothing is fetched from anywhere but this origin; the charts are SVG drawn here.
'use strict';

(() => {
  const API = '/api/v5';
  const POLL_MS = 3000;     // the overview's sampling period
  const SAMPLES = 60;       // points kept per chart (3 minutes at POLL_MS)
  const PAGE_LIMIT = 20;    // rows per page of a listing
  const KEY = { token: 'emqxd.token', user: 'emqxd.username', version: 'emqxd.version', role: 'emqxd.role' };
  const SVG_NS = 'http://www.w3.org/2000/svg';

  // ------------------------------------------------------------------ DOM helpers

  // Appends children: strings and numbers as text, nodes as they are, arrays flattened,
  // null/undefined/false skipped.
  function append(el, ...children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(el, ...c);
      else if (c instanceof Node) el.appendChild(c);
      else el.appendChild(document.createTextNode(String(c)));
    }
    return el;
  }

  // Properties that are set as DOM properties rather than attributes.
  const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'type']);

  function setProps(el, props) {
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.setAttribute('class', v);
      else if (PROPS.has(k) && !(el instanceof SVGElement)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    return el;
  }

  function h(tag, props, ...children) {
    return append(setProps(document.createElement(tag), props), children);
  }

  function svg(tag, props, ...children) {
    return append(setProps(document.createElementNS(SVG_NS, tag), props), children);
  }

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ formatting

  function fmtTime(v) {
    if (v === null || v === undefined || v === '') return '';
    if (v === 'infinity') return 'never';
    // Numbers: epoch milliseconds (publish_at), or seconds when small.
    const d = typeof v === 'number' ? new Date(v < 1e11 ? v * 1000 : v) : new Date(v);
    return Number.isNaN(d.getTime()) ? String(v) : d.toLocaleString();
  }

  function fmtDuration(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return '';
    let s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400); s %= 86400;
    const hh = Math.floor(s / 3600); s %= 3600;
    const m = Math.floor(s / 60); s %= 60;
    if (d) return `${d}d ${hh}h ${m}m`;
    if (hh) return `${hh}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  function fmtBytes(n) {
    if (typeof n !== 'number' || !Number.isFinite(n)) return '';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  }

  function fmtNumber(n) {
    if (typeof n !== 'number') return n === undefined || n === null ? '' : String(n);
    if (Number.isInteger(n)) return n.toLocaleString('en-US');
    return n.toFixed(n < 10 ? 2 : 1);
  }

  function fmtValue(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  const PROTO = { 3: 'MQTT 3.1', 4: 'MQTT 3.1.1', 5: 'MQTT 5.0' };

  function pill(on, yes, no) {
    return h('span', { class: on ? 'pill pill-ok' : 'pill pill-off' }, on ? yes : no);
  }

  // An RFC 3339 time from a datetime-local input's value, or undefined when empty.
  function isoFromLocal(value) {
    if (!value) return undefined;
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) throw new Error(`not a date: ${value}`);
    return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  // A base64 payload as text when it is UTF-8, else as hex.
  function decodePayload(b64) {
    let bytes;
    try {
      bytes = Uint8Array.from(atob(b64 || ''), (c) => c.charCodeAt(0));
    } catch (e) {
      return { kind: 'raw', text: String(b64) };
    }
    try {
      return { kind: 'text', text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
    } catch (e) {
      return { kind: 'hex', text: Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ') };
    }
  }

  // ------------------------------------------------------------------ the API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  const session = {
    get token() { return sessionStorage.getItem(KEY.token); },
    get user() { return sessionStorage.getItem(KEY.user) || ''; },
    get version() { return sessionStorage.getItem(KEY.version) || ''; },
    get role() { return sessionStorage.getItem(KEY.role) || ''; },
    set(token, user, version, role) {
      sessionStorage.setItem(KEY.token, token);
      sessionStorage.setItem(KEY.user, user);
      sessionStorage.setItem(KEY.version, version || '');
      sessionStorage.setItem(KEY.role, role || '');
    },
    clear() {
      for (const k of Object.values(KEY)) sessionStorage.removeItem(k);
    },
  };

  // One request. Resolves to the parsed JSON (null for 204), or to the Response itself
  // with {raw: true}; rejects with an ApiError. A 401 on an authenticated call ends the
  // session and returns to the login page, with the server's message there.
  async function api(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json' };
    if (!opts.anonymous && session.token) headers.Authorization = `Bearer ${session.token}`;
    // credentials 'omit': the token is a header; no cookies, and a 401 that carries a
    // WWW-Authenticate: Basic challenge does not make the browser ask for a password.
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(API + path, init);
    } catch (e) {
      throw new ApiError(0, 'NETWORK_ERROR', `${method} ${API}${path}: ${e.message}`);
    }
    if (opts.raw && res.ok) return res;
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        if (res.ok) throw new ApiError(res.status, 'BAD_RESPONSE', `${method} ${path}: not JSON`);
      }
    }
    if (!res.ok) {
      const code = data && typeof data.code === 'string' ? data.code : `HTTP_${res.status}`;
      const message = data && typeof data.message === 'string'
        ? data.message : (text || res.statusText || 'request failed');
      const err = new ApiError(res.status, code, message);
      if (res.status === 401 && !opts.anonymous) {
        expire(err);
        err.handled = true;  // shown on the login page
      }
      throw err;
    }
    return res.status === 204 ? null : data;
  }

  const enc = encodeURIComponent;

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  // ------------------------------------------------------------------ banners, dialogs

  function errorText(e) {
    if (e instanceof ApiError) return `${e.code}: ${e.message}`;
    return e && e.message ? e.message : String(e);
  }

  function showError(e) {
    if (e && e.handled) return;
    $('error-text').textContent = errorText(e);
    $('error-banner').hidden = false;
    if (e && !(e instanceof ApiError)) console.error(e);  // a bug here: keep the stack too
  }

  function clearError() {
    $('error-banner').hidden = true;
    $('error-text').textContent = '';
  }

  let noticeTimer = null;
  let noticeAt = 0;
  function notify(text) {
    const n = $('notice');
    n.textContent = text;
    n.hidden = false;
    noticeAt = Date.now();
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { n.hidden = true; }, 6000);
  }

  // An in-page confirmation (no native dialog: it stays in the page, styled and testable).
  function confirmDialog(text, okText = 'OK') {
    const dlg = $('confirm-dialog');
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = okText;
    dlg.hidden = false;
    $('confirm-ok').focus();
    return new Promise((resolve) => {
      const done = (answer) => {
        dlg.hidden = true;
        $('confirm-ok').removeEventListener('click', ok);
        $('confirm-cancel').removeEventListener('click', cancel);
        document.removeEventListener('keydown', key);
        resolve(answer);
      };
      const ok = () => done(true);
      const cancel = () => done(false);
      const key = (ev) => { if (ev.key === 'Escape') done(false); };
      $('confirm-ok').addEventListener('click', ok);
      $('confirm-cancel').addEventListener('click', cancel);
      document.addEventListener('keydown', key);
    });
  }

  // A click handler that runs `fn`, disables `button` meanwhile and shows its error.
  function action(fn) {
    return async (ev) => {
      const button = ev && ev.currentTarget instanceof HTMLButtonElement ? ev.currentTarget : null;
      if (ev && ev.preventDefault) ev.preventDefault();
      if (button) button.disabled = true;
      try {
        await fn(ev);
      } catch (e) {
        showError(e);
      } finally {
        if (button) button.disabled = false;
      }
    };
  }

  function button(text, onClick, props = {}) {
    return h('button', { type: 'button', class: 'btn btn-small', ...props, onclick: action(onClick) }, text);
  }

  // ------------------------------------------------------------------ building blocks

  // A table; columns: [{title, render(row) -> node|string}]. Empty: one row saying so.
  function table(testid, columns, rows, opts = {}) {
    const body = h('tbody');
    if (!rows || rows.length === 0) {
      body.appendChild(h('tr', { class: 'empty-row' },
        h('td', { colspan: columns.length, class: 'empty', 'data-testid': 'empty' },
          opts.empty || 'No data')));
    } else {
      for (const row of rows) {
        body.appendChild(h('tr', opts.rowProps ? opts.rowProps(row) : null,
          columns.map((c) => h('td', { class: c.class }, c.render(row)))));
      }
    }
    return h('div', { class: 'table-wrap' },
      h('table', { class: 'table', 'data-testid': testid },
        h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.class }, c.title)))),
        body));
  }

  // A key/value list of an object's fields.
  function kvList(testid, obj) {
    return h('dl', { class: 'kv', 'data-testid': testid },
      Object.entries(obj).map(([k, v]) => [h('dt', null, k), h('dd', { 'data-key': k }, fmtValue(v))]));
  }

  // A listing of EMQX's {"data": [...], "meta": {"page", "limit", "count", "hasnext"}},
  // paged. load(page, limit) returns the answer; go(page) shows that page.
  function pagedTable(testid, columns, load, opts = {}) {
    const box = h('div', { class: 'paged' });
    let page = 1;
    async function go(p) {
      const res = await load(p, PAGE_LIMIT);
      const rows = Array.isArray(res && res.data) ? res.data : [];
      const meta = (res && res.meta) || {};
      if (rows.length === 0 && p > 1) return go(p - 1);  // the last row of a page went
      page = p;
      const count = typeof meta.count === 'number' ? meta.count : rows.length;
      const pages = Math.max(1, Math.ceil(count / PAGE_LIMIT));
      const more = meta.hasnext === true || p < pages;
      const pager = h('div', { class: 'pager', 'data-testid': `${testid}-pager` },
        h('span', { class: 'muted' }, `${count} in all, page ${p} of ${pages}`),
        h('button', { type: 'button', class: 'btn btn-small', disabled: p <= 1, onclick: action(() => go(p - 1)) }, 'Previous'),
        h('button', { type: 'button', class: 'btn btn-small', disabled: !more, onclick: action(() => go(p + 1)) }, 'Next'));
      box.replaceChildren(table(testid, columns, rows, opts), pager);
    }
    return { el: box, go, reload: () => go(page) };
  }

  // A form; fields: [{name, label, type ('text', 'password', 'select', 'checkbox',
  // 'datetime-local', 'number'), options: [[value, text]], value, placeholder, required}].
  // Inputs get the id `${id}-${name}`; onSubmit(values) runs as an action.
  function form(id, fields, submitText, onSubmit) {
    const inputs = {};
    const rows = fields.map((f) => {
      const fid = `${id}-${f.name}`;
      let input;
      // Defaults, not just values: a form's reset() after a submit returns to them.
      if (f.type === 'select') {
        input = h('select', { id: fid, name: f.name }, f.options.map(([v, t]) => {
          const o = h('option', { value: v }, t);
          o.defaultSelected = v === f.value;
          return o;
        }));
      } else if (f.type === 'checkbox') {
        input = h('input', { id: fid, name: f.name, type: 'checkbox' });
        input.defaultChecked = !!f.value;
      } else {
        input = h('input', {
          id: fid, name: f.name, type: f.type || 'text', placeholder: f.placeholder,
          required: f.required, autocomplete: f.type === 'password' ? 'new-password' : 'off', spellcheck: 'false',
        });
        input.defaultValue = f.value ?? '';
      }
      inputs[f.name] = input;
      return h('label', { class: f.type === 'checkbox' ? 'field field-check' : 'field', for: fid },
        h('span', null, f.label), input);
    });
    const submit = h('button', { id: `${id}-submit`, type: 'submit', class: 'btn btn-primary' }, submitText);
    const el = h('form', { id, class: 'form', novalidate: true, 'data-testid': id }, rows, submit);
    el.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const [k, input] of Object.entries(inputs)) {
        if (input.type === 'checkbox') values[k] = input.checked;
        else values[k] = input.type === 'password' ? input.value : input.value.trim();
      }
      for (const f of fields) {
        if (f.required && !values[f.name]) {
          showError(new Error(`${f.label} is required`));
          inputs[f.name].focus();
          return;
        }
      }
      submit.disabled = true;
      try {
        clearError();
        await onSubmit(values, el);
      } catch (e) {
        showError(e);
      } finally {
        submit.disabled = false;
      }
    });
    return el;
  }

  function card(title, ...children) {
    return h('section', { class: 'card' }, title ? h('h2', null, title) : null, children);
  }

  function tabs(id, items, current, onPick) {
    return h('div', { class: 'tabs', role: 'tablist' }, items.map(([key, text]) =>
      h('button', {
        type: 'button', id: `${id}-${key}`, role: 'tab', 'aria-selected': String(key === current),
        class: key === current ? 'tab tab-active' : 'tab', onclick: action(() => onPick(key)),
      }, text)));
  }

  // ------------------------------------------------------------------ pages

  // Each page is async (ctx, args): it fills ctx.root and returns when its first data is
  // shown. ctx.alive() is false once the user went elsewhere; ctx.onLeave(fn) registers
  // what to stop then (pollers).

  // -- overview: stats, message rates, drops --------------------------------------------

  // Kept across visits of the overview: [{t, connections, received, sent, dropped}].
  const samples = [];

  function rates(key) {
    const out = [];
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1];
      const b = samples[i];
      const dt = (b.t - a.t) / 1000;
      // A counter that went down (a node left the cluster): no rate for that step.
      out.push(dt > 0 && b[key] >= a[key] ? (b[key] - a[key]) / dt : 0);
    }
    return out;
  }

  // A line chart of `values` (at most SAMPLES) as an SVG polyline, scaled to its maximum.
  function chart(name, title, values, unit) {
    const W = 300;
    const H = 100;
    const max = Math.max(1, ...values);
    const step = W / (SAMPLES - 1);
    const x0 = W - step * (values.length - 1);
    const pts = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(H - (v / max) * (H - 8)).toFixed(1)}`);
    const last = values.length ? values[values.length - 1] : null;
    const grid = [0.25, 0.5, 0.75].map((f) =>
      svg('line', { x1: 0, x2: W, y1: H * f, y2: H * f, class: 'grid' }));
    const lines = pts.length
      ? [svg('polygon', { points: `${pts[0].split(',')[0]},${H} ${pts.join(' ')} ${pts[pts.length - 1].split(',')[0]},${H}`, class: 'area' }),
        svg('polyline', { points: pts.join(' '), class: 'line', 'data-testid': 'chart-line' })]
      : [];
    return h('section', { class: 'card chart-card', 'data-testid': `chart-${name}` },
      h('div', { class: 'chart-head' },
        h('h2', null, title),
        h('span', { class: 'chart-value', 'data-testid': `chart-${name}-value` },
          last === null ? '–' : `${fmtNumber(last)}${unit}`)),
      svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'chart', role: 'img', 'aria-label': title },
        grid, lines),
      h('div', { class: 'chart-foot muted' }, `max ${fmtNumber(max)}${unit}, last ${values.length} samples, every ${POLL_MS / 1000} s`));
  }

  const STAT_CARDS = [
    ['connections', 'Connections', 'connections.count'],
    ['live_connections', 'Live connections', 'live_connections.count'],
    ['sessions', 'Sessions', 'sessions.count'],
    ['subscriptions', 'Subscriptions', 'subscriptions.count'],
    ['topics', 'Topics', 'topics.count'],
    ['retained', 'Retained', 'retained.count'],
  ];

  const METRIC_ROWS = [
    ['messages.received', 'Messages received'], ['messages.sent', 'Messages sent'],
    ['messages.dropped', 'Messages dropped'], ['messages.dropped.no_subscribers', 'Dropped: no subscribers'],
    ['delivery.dropped', 'Deliveries dropped'], ['messages.retained', 'Messages retained'],
    ['client.connected', 'Client connects'], ['client.disconnected', 'Client disconnects'],
    ['authentication.failure', 'Authentication failures'], ['bytes.received', 'Bytes received'],
    ['bytes.sent', 'Bytes sent'],
  ];

  async function pageOverview(ctx) {
    const statsBox = h('div', { class: 'stats', 'data-testid': 'stats' });
    const chartsBox = h('div', { class: 'charts' });
    const metricsBox = h('div');
    append(ctx.root, statsBox, chartsBox, card('Message counters (since start, whole cluster)', metricsBox));

    const draw = (stats, metrics) => {
      statsBox.replaceChildren(...STAT_CARDS.map(([id, title, key]) =>
        h('div', { class: 'stat' },
          h('div', { class: 'stat-title' }, title),
          h('div', { class: 'stat-value', 'data-testid': `stat-${id}` }, fmtNumber(stats[key] ?? 0)))));
      chartsBox.replaceChildren(
        chart('connections', 'Connections', samples.map((s) => s.connections), ''),
        chart('received', 'Messages received', rates('received'), '/s'),
        chart('sent', 'Messages sent', rates('sent'), '/s'),
        chart('dropped', 'Messages dropped', rates('dropped'), '/s'));
      metricsBox.replaceChildren(table('metrics-table', [
        { title: 'Counter', render: (r) => r[1] },
        { title: 'Name', render: (r) => h('code', null, r[0]) },
        { title: 'Value', class: 'num', render: (r) => fmtNumber(metrics[r[0]] ?? 0) },
      ], METRIC_ROWS));
    };

    const sample = async () => {
      const [stats, metrics] = await Promise.all([
        api('GET', '/stats?aggregate=true'), api('GET', '/metrics?aggregate=true')]);
      const now = Date.now();
      const last = samples.length ? samples[samples.length - 1] : null;
      // A sample just after another (the page shown again at once) would make a rate of
      // noise: it replaces that one. After a long absence the series starts again rather
      // than draw one average across the gap.
      if (last && now - last.t < POLL_MS / 3) samples.pop();
      else if (last && now - last.t > 5 * POLL_MS) samples.length = 0;
      samples.push({
        t: now,
        connections: stats['connections.count'] ?? 0,
        received: metrics['messages.received'] ?? 0,
        sent: metrics['messages.sent'] ?? 0,
        dropped: metrics['messages.dropped'] ?? 0,
      });
      // One more than SAMPLES: the rates are differences of neighbours.
      while (samples.length > SAMPLES + 1) samples.shift();
      if (ctx.alive()) draw(stats, metrics);
    };
    await sample();
    ctx.poll(sample, POLL_MS);
  }

  // -- nodes and the cluster --------------------------------------------------------------

  async function pageNodes(ctx) {
    const nodesBox = h('div');
    const clusterBox = h('div');
    const clusterInfo = h('div');
    const joinForm = form('join-form', [
      { name: 'node', label: 'Node to join (its cluster)', placeholder: 'emqx@10.0.0.2', required: true },
    ], 'Join', async (v) => {
      const res = await api('POST', '/cluster/join', { node: v.node });
      notify((res && res.message) || `Joined the cluster of ${v.node}`);
      await load();
    });
    const leave = button('Leave the cluster', async () => {
      if (!await confirmDialog('This node leaves its cluster and runs alone. Go on?', 'Leave')) return;
      const res = await api('POST', '/cluster/leave');
      notify((res && res.message) || 'Left the cluster');
      await load();
    }, { id: 'leave-cluster', class: 'btn btn-small btn-danger' });
    append(ctx.root,
      card('Nodes', nodesBox),
      card('Cluster', clusterInfo, clusterBox, h('div', { class: 'toolbar' }, joinForm, leave)));

    async function load() {
      const [nodes, cluster] = await Promise.all([api('GET', '/nodes'), api('GET', '/cluster')]);
      nodesBox.replaceChildren(table('nodes-table', [
        { title: 'Node', render: (n) => h('strong', null, n.node) },
        { title: 'Status', render: (n) => pill(n.node_status === 'running', 'running', n.node_status || 'unknown') },
        { title: 'Version', render: (n) => n.version || '' },
        { title: 'Role', render: (n) => n.role || '' },
        { title: 'Uptime', render: (n) => fmtDuration(n.uptime) },
        { title: 'Connections', class: 'num', render: (n) => fmtNumber(n.connections) },
        { title: 'Load 1/5/15', render: (n) => (n.load1 === undefined ? '' : [n.load1, n.load5, n.load15].map((x) => fmtNumber(x)).join(' / ')) },
        { title: 'Memory', render: (n) => (n.memory_total ? `${fmtBytes(n.memory_used)} / ${fmtBytes(n.memory_total)}` : '') },
        { title: 'Max fds', class: 'num', render: (n) => fmtNumber(n.max_fds) },
      ], Array.isArray(nodes) ? nodes : [], { rowProps: (n) => ({ 'data-node': n.node }) }));
      clusterInfo.replaceChildren(h('p', { class: 'muted' },
        `Cluster "${cluster.name ?? ''}", this node: ${cluster.self ?? ''}`));
      clusterBox.replaceChildren(table('members-table', [
        { title: 'Member', render: (m) => [m.node, m.self ? h('span', { class: 'pill pill-info' }, 'this node') : null] },
        { title: 'Address', render: (m) => m.address },
        { title: 'State', render: (m) => pill(m.state === 'alive', m.state, m.state) },
        { title: 'Link', render: (m) => (m.self ? '' : pill(m.link === 'up', 'up', m.link)) },
        { title: 'Routes', class: 'num', render: (m) => fmtNumber(m.routes) },
        { title: 'Queued', class: 'num', render: (m) => fmtNumber(m.queued) },
        { title: '', render: (m) => (m.self ? '' : button('Remove', async () => {
          if (!await confirmDialog(`Remove ${m.node} from the cluster?`, 'Remove')) return;
          const res = await api('DELETE', `/cluster/${enc(m.node)}/force_leave`);
          notify((res && res.message) || `${m.node} removed`);
          await load();
        }, { class: 'btn btn-small btn-danger' })) },
      ], Array.isArray(cluster.members) ? cluster.members : []));
    }
    await load();
  }

  // -- clients -----------------------------------------------------------------------------

  // The search, kept while the user looks at a client and comes back.
  const clientSearch = { clientid: '', username: '' };

  async function kickClient(id) {
    if (!await confirmDialog(`Kick client "${id}" and end its session?`, 'Kick')) return false;
    await api('DELETE', `/clients/${enc(id)}`);
    notify(`Client ${id} kicked`);
    return true;
  }

  async function pageClients(ctx) {
    const list = pagedTable('clients-table', [
      { title: 'Client ID', render: (c) => h('a', { href: `#/clients/${enc(c.clientid)}`, 'data-testid': 'client-link' }, c.clientid) },
      { title: 'Username', render: (c) => c.username ?? '' },
      { title: 'Node', render: (c) => c.node },
      { title: 'Address', render: (c) => (c.ip_address ? `${c.ip_address}:${c.port}` : '') },
      { title: 'Protocol', render: (c) => PROTO[c.proto_ver] || `MQTT ${c.proto_ver}` },
      { title: 'Keepalive', class: 'num', render: (c) => fmtNumber(c.keepalive) },
      { title: 'Status', render: (c) => pill(c.connected, 'connected', 'disconnected') },
      { title: 'Connected at', render: (c) => fmtTime(c.connected_at) },
      { title: '', render: (c) => button('Kick', async () => {
        if (await kickClient(c.clientid)) await list.reload();
      }, { class: 'btn btn-small btn-danger', 'data-testid': 'kick' }) },
    ], (page, limit) => api('GET', `/clients${query({
      like_clientid: clientSearch.clientid, like_username: clientSearch.username, page, limit,
    })}`), {
      empty: 'No clients',
      rowProps: (c) => ({ 'data-clientid': c.clientid }),
    });
    const search = form('clients-search', [
      { name: 'clientid', label: 'Client ID contains', value: clientSearch.clientid },
      { name: 'username', label: 'Username contains', value: clientSearch.username },
    ], 'Search', async (v) => {
      clientSearch.clientid = v.clientid;
      clientSearch.username = v.username;
      await list.go(1);
    });
    append(ctx.root, card(null, h('div', { class: 'toolbar' }, search,
      button('Refresh', () => list.reload(), { id: 'clients-refresh' })), list.el));
    await list.go(1);
  }

  async function pageClient(ctx, id) {
    const [client, subs] = await Promise.all([
      api('GET', `/clients/${enc(id)}`), api('GET', `/clients/${enc(id)}/subscriptions`)]);
    ctx.title(`Client ${id}`);
    append(ctx.root,
      h('div', { class: 'toolbar' },
        h('a', { href: '#/clients', class: 'btn btn-small' }, '← Clients'),
        button('Kick', async () => {
          if (await kickClient(id)) location.hash = '#/clients';
        }, { id: 'kick-client', class: 'btn btn-small btn-danger', 'data-testid': 'kick-client' })),
      card('Connection', kvList('client-details', client)),
      card('Subscriptions', table('client-subscriptions', [
        { title: 'Topic', render: (s) => s.topic },
        { title: 'QoS', class: 'num', render: (s) => s.qos },
        { title: 'No local', render: (s) => s.nl },
        { title: 'Retain as published', render: (s) => s.rap },
        { title: 'Retain handling', render: (s) => s.rh },
        { title: '', render: (s) => button('Unsubscribe', async () => {
          await api('POST', `/clients/${enc(id)}/unsubscribe`, { topic: s.topic });
          notify(`Unsubscribed ${id} from ${s.topic}`);
          await ctx.reload();
        }) },
      ], Array.isArray(subs) ? subs : [], { empty: 'No subscriptions' })));
  }

  // -- subscriptions, topics ---------------------------------------------------------------

  const subSearch = { clientid: '', topic: '', match_topic: '' };

  async function pageSubscriptions(ctx) {
    const list = pagedTable('subscriptions-table', [
      { title: 'Client ID', render: (s) => h('a', { href: `#/clients/${enc(s.clientid)}` }, s.clientid) },
      { title: 'Topic filter', render: (s) => s.topic },
      { title: 'QoS', class: 'num', render: (s) => s.qos },
      { title: 'Node', render: (s) => s.node },
      { title: 'No local', render: (s) => s.nl },
      { title: 'Retain as published', render: (s) => s.rap },
      { title: 'Retain handling', render: (s) => s.rh },
      { title: 'Durable', render: (s) => (s.durable ? 'yes' : 'no') },
    ], (page, limit) => api('GET', `/subscriptions${query({ ...subSearch, page, limit })}`),
    { empty: 'No subscriptions' });
    const search = form('subscriptions-search', [
      { name: 'clientid', label: 'Client ID', value: subSearch.clientid },
      { name: 'topic', label: 'Topic filter', value: subSearch.topic },
      { name: 'match_topic', label: 'Matching topic', value: subSearch.match_topic },
    ], 'Search', async (v) => {
      Object.assign(subSearch, v);
      await list.go(1);
    });
    append(ctx.root, card(null, h('div', { class: 'toolbar' }, search), list.el));
    await list.go(1);
  }

  async function pageTopics(ctx) {
    let topic = '';
    const list = pagedTable('topics-table', [
      { title: 'Topic', render: (t) => t.topic },
      { title: 'Node', render: (t) => t.node },
    ], (page, limit) => api('GET', `/topics${query({ topic, page, limit })}`), { empty: 'No topics' });
    const search = form('topics-search', [{ name: 'topic', label: 'Topic' }], 'Search', async (v) => {
      topic = v.topic;
      await list.go(1);
    });
    append(ctx.root, card(null, h('div', { class: 'toolbar' }, search), list.el));
    await list.go(1);
  }

  // -- retained messages -----------------------------------------------------------------

  async function pageRetained(ctx) {
    const detail = h('div', { 'data-testid': 'retained-message' });
    const list = pagedTable('retained-table', [
      { title: 'Topic', render: (m) => m.topic },
      { title: 'QoS', class: 'num', render: (m) => m.qos },
      { title: 'From client', render: (m) => m.from_clientid ?? '' },
      { title: 'From user', render: (m) => m.from_username ?? '' },
      { title: 'Published at', render: (m) => fmtTime(m.publish_at) },
      { title: '', render: (m) => [
        button('Show', async () => {
          const full = await api('GET', `/mqtt/retainer/message/${enc(m.topic)}`);
          const p = decodePayload(full.payload);
          const { payload, ...rest } = full;
          detail.replaceChildren(card(`Retained message on ${m.topic}`, kvList('retained-fields', rest),
            h('h3', null, p.kind === 'text' ? 'Payload' : 'Payload (not UTF-8: hex)'),
            h('pre', { class: 'payload', 'data-testid': 'payload' }, p.text)));
        }),
        ' ',
        button('Delete', async () => {
          if (!await confirmDialog(`Delete the retained message on "${m.topic}"?`, 'Delete')) return;
          await api('DELETE', `/mqtt/retainer/message/${enc(m.topic)}`);
          notify(`Retained message on ${m.topic} deleted`);
          detail.replaceChildren();
          await list.reload();
        }, { class: 'btn btn-small btn-danger' }),
      ] },
    ], (page, limit) => api('GET', `/mqtt/retainer/messages${query({ page, limit })}`),
    { empty: 'No retained messages', rowProps: (m) => ({ 'data-topic': m.topic }) });
    append(ctx.root, card(null, list.el), detail);
    await list.go(1);
  }

  // -- alarms ---------------------------------------------------------------------------------

  async function pageAlarms(ctx) {
    let activated = 'true';
    const body = h('div');
    async function show(which) {
      activated = which;
      const list = pagedTable('alarms-table', [
        { title: 'Name', render: (a) => a.name },
        { title: 'Message', render: (a) => a.message },
        { title: 'Node', render: (a) => a.node },
        { title: 'Details', render: (a) => h('code', null, fmtValue(a.details)) },
        { title: 'Activated at', render: (a) => fmtTime(a.activate_at) },
        { title: 'Deactivated at', render: (a) => (a.activated ? '' : fmtTime(a.deactivate_at)) },
        { title: 'Duration', render: (a) => fmtDuration(a.duration) },
      ], (page, limit) => api('GET', `/alarms${query({ activated, page, limit })}`),
      { empty: activated === 'true' ? 'No active alarms' : 'No past alarms' });
      await list.go(1);
      body.replaceChildren(
        tabs('alarms', [['true', 'Active'], ['false', 'History']], activated, show),
        activated === 'false'
          ? h('div', { class: 'toolbar' }, button('Clear history', async () => {
            if (!await confirmDialog('Forget every deactivated alarm of the cluster?', 'Clear')) return;
            await api('DELETE', '/alarms');
            notify('Alarm history cleared');
            await show('false');
          }, { id: 'alarms-clear', class: 'btn btn-small btn-danger' }))
          : null,
        list.el);
    }
    append(ctx.root, card(null, body));
    await show(activated);
  }

  // -- traces ---------------------------------------------------------------------------------

  async function downloadTrace(name) {
    const res = await api('GET', `/trace/${enc(name)}/download`, undefined, { raw: true });
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: `${name}.zip`, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    notify(`Downloading ${name}.zip (${fmtBytes(blob.size)})`);
  }

  // A trace's files on every node, in bytes ({"log_size": {"node": bytes}}).
  const logSize = (t) => Object.values(t.log_size || {}).reduce((a, b) => a + (Number(b) || 0), 0);

  async function pageTraces(ctx) {
    const listBox = h('div');
    const create = form('trace-form', [
      { name: 'name', label: 'Name', placeholder: 'letters, digits, - and _', required: true },
      { name: 'type', label: 'Type', type: 'select', value: 'clientid',
        options: [['clientid', 'Client ID'], ['topic', 'Topic'], ['ip_address', 'IP address']] },
      { name: 'filter', label: 'Client ID, topic or address', required: true },
      { name: 'duration', label: 'Duration', type: 'select', value: '',
        options: [['', 'Server default'], ['600', '10 minutes'], ['1800', '30 minutes'], ['3600', '1 hour'], ['86400', '1 day']] },
    ], 'Start trace', async (v) => {
      const body = { name: v.name, type: v.type, [v.type]: v.filter };
      if (v.duration) {
        const now = Date.now();
        body.start_at = new Date(now).toISOString();
        body.end_at = new Date(now + Number(v.duration) * 1000).toISOString();
      }
      await api('POST', '/trace', body);
      notify(`Trace ${v.name} started`);
      await load();
    });
    append(ctx.root, card('New trace', create), card('Traces', listBox));

    async function load() {
      const traces = await api('GET', '/trace');
      listBox.replaceChildren(table('traces-table', [
        { title: 'Name', render: (t) => h('strong', null, t.name) },
        { title: 'Type', render: (t) => t.type },
        { title: 'Filter', render: (t) => t[t.type] ?? '' },
        { title: 'Status', render: (t) => pill(t.status === 'running', t.status, t.status) },
        { title: 'Start', render: (t) => fmtTime(t.start_at) },
        { title: 'End', render: (t) => fmtTime(t.end_at) },
        { title: 'Log size', class: 'num', render: (t) => fmtBytes(logSize(t)) },
        { title: '', render: (t) => [
          t.status === 'running' ? button('Stop', async () => {
            await api('PUT', `/trace/${enc(t.name)}/stop`);
            notify(`Trace ${t.name} stopped`);
            await load();
          }, { 'data-testid': 'trace-stop' }) : null,
          ' ',
          button('Download', () => downloadTrace(t.name), { 'data-testid': 'trace-download' }),
          ' ',
          button('Delete', async () => {
            if (!await confirmDialog(`Delete trace "${t.name}" and its files?`, 'Delete')) return;
            await api('DELETE', `/trace/${enc(t.name)}`);
            notify(`Trace ${t.name} deleted`);
            await load();
          }, { class: 'btn btn-small btn-danger' }),
        ] },
      ], Array.isArray(traces) ? traces : [], {
        empty: 'No traces', rowProps: (t) => ({ 'data-trace': t.name, 'data-log-size': logSize(t) }),
      }));
    }
    await load();
  }

  // -- authentication -------------------------------------------------------------------------

  // The built-in databases whose users the API manages (access_api.cpp).
  const BUILTIN_AUTHN = ['password_based:built_in_database', 'scram:built_in_database'];

  // The authenticators of the chain: EMQX's GET /authentication when the node has it;
  // else each built-in database is asked for one user, and a 404 says it is not in the
  // chain. Returns {chain: [{id, enable}] or null, builtin: [id], absent: message}.
  async function authenticators() {
    try {
      const list = await api('GET', '/authentication');
      if (Array.isArray(list)) {
        const chain = list.map((a) => ({ id: a.id || `${a.mechanism}:${a.backend}`, enable: a.enable !== false }));
        return { chain, builtin: chain.map((a) => a.id).filter((id) => BUILTIN_AUTHN.includes(id)), absent: '' };
      }
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
    }
    const builtin = [];
    let absent = '';
    for (const id of BUILTIN_AUTHN) {
      try {
        await api('GET', `/authentication/${enc(id)}/users?limit=1`);
        builtin.push(id);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 404) throw e;
        absent = absent || e.message;
      }
    }
    return { chain: null, builtin, absent };
  }

  const authnState = { id: null };

  async function pageAuthentication(ctx) {
    const { chain, builtin, absent } = await authenticators();
    if (chain) {
      ctx.root.appendChild(card('Authentication chain', table('authn-chain', [
        { title: 'Authenticator', render: (a) => a.id },
        { title: 'Enabled', render: (a) => pill(a.enable, 'yes', 'no') },
      ], chain, { empty: 'No authenticators: every client may connect' })));
    }
    if (!builtin.length) {
      ctx.root.appendChild(card('Users', h('p', { class: 'muted', 'data-testid': 'authn-none' },
        absent ? `${absent}.` : 'No built-in database in the authentication chain.')));
      return;
    }
    if (!builtin.includes(authnState.id)) authnState.id = builtin[0];
    const body = h('div');
    ctx.root.appendChild(card('Built-in database users', body));
    await showUsers(authnState.id);

    async function showUsers(id) {
      authnState.id = id;
      const base = `/authentication/${enc(id)}/users`;
      let like = '';
      const list = pagedTable('authn-users-table', [
        { title: 'User ID', render: (u) => u.user_id },
        { title: 'Superuser', render: (u) => pill(u.is_superuser, 'yes', 'no') },
        { title: '', render: (u) => [
          button(u.is_superuser ? 'Make ordinary' : 'Make superuser', async () => {
            await api('PUT', `${base}/${enc(u.user_id)}`, { is_superuser: !u.is_superuser });
            await list.reload();
          }),
          ' ',
          button('Delete', async () => {
            if (!await confirmDialog(`Delete user "${u.user_id}"?`, 'Delete')) return;
            await api('DELETE', `${base}/${enc(u.user_id)}`);
            notify(`User ${u.user_id} deleted`);
            await list.reload();
          }, { class: 'btn btn-small btn-danger' }),
        ] },
      ], (page, limit) => api('GET', `${base}${query({ like_user_id: like, page, limit })}`),
      { empty: 'No users', rowProps: (u) => ({ 'data-user': u.user_id }) });
      await list.go(1);
      body.replaceChildren(
        builtin.length > 1 ? tabs('authn', builtin.map((a) => [a, a]), id, showUsers) : h('p', { class: 'muted' }, id),
        h('div', { class: 'toolbar' },
          form('authn-search', [{ name: 'like', label: 'User ID contains' }], 'Search', async (v) => {
            like = v.like;
            await list.go(1);
          })),
        list.el,
        h('h3', null, 'Add a user'),
        form('authn-add', [
          { name: 'user_id', label: 'User ID', required: true },
          { name: 'password', label: 'Password', type: 'password', required: true },
          { name: 'is_superuser', label: 'Superuser', type: 'checkbox' },
        ], 'Add user', async (v, el) => {
          await api('POST', base, v);
          notify(`User ${v.user_id} added`);
          el.reset();
          await list.reload();
        }),
        h('h3', null, 'Change a password'),
        form('authn-password', [
          { name: 'user_id', label: 'User ID', required: true },
          { name: 'password', label: 'New password', type: 'password', required: true },
        ], 'Change', async (v, el) => {
          await api('PUT', `${base}/${enc(v.user_id)}`, { password: v.password });
          notify(`Password of ${v.user_id} changed`);
          el.reset();
        }));
    }
  }

  // -- authorization (built-in database rules) ------------------------------------------------

  const AUTHZ_BASE = '/authorization/sources/built_in_database/rules';
  const authzState = { kind: 'users' };

  function rulesText(rules) {
    if (!Array.isArray(rules)) return fmtValue(rules);
    return h('ul', { class: 'rules' }, rules.map((r) => h('li', null,
      h('span', { class: r.permission === 'allow' ? 'pill pill-ok' : 'pill pill-bad' }, r.permission),
      ` ${r.action} `, h('code', null, r.topic),
      r.qos !== undefined ? ` qos ${fmtValue(r.qos)}` : '', r.retain !== undefined ? ` retain ${fmtValue(r.retain)}` : '')));
  }

  async function pageAuthorization(ctx) {
    const body = h('div');
    append(ctx.root,
      h('p', { class: 'muted' }, 'Rules of the built-in database source. Other sources (file, HTTP, databases) are set in the configuration: see Config, authorization.'),
      card(null, body));
    await show(authzState.kind);

    async function show(kind) {
      authzState.kind = kind;
      const field = kind === 'users' ? 'username' : 'clientid';
      let list;
      let rulesForAll = null;
      if (kind === 'all') {
        try {
          rulesForAll = (await api('GET', `${AUTHZ_BASE}/all`)).rules;
        } catch (e) {
          if (notConfigured(e)) return;
          throw e;
        }
      } else {
        list = pagedTable('authz-rules-table', [
          { title: kind === 'users' ? 'Username' : 'Client ID', render: (r) => r[field] },
          { title: 'Rules', render: (r) => rulesText(r.rules) },
          { title: '', render: (r) => button('Delete', async () => {
            if (!await confirmDialog(`Delete the rules of "${r[field]}"?`, 'Delete')) return;
            await api('DELETE', `${AUTHZ_BASE}/${kind}/${enc(r[field])}`);
            notify(`Rules of ${r[field]} deleted`);
            await list.reload();
          }, { class: 'btn btn-small btn-danger' }) },
        ], (page, limit) => api('GET', `${AUTHZ_BASE}/${kind}${query({ page, limit })}`), { empty: 'No rules' });
        try {
          await list.go(1);
        } catch (e) {
          if (notConfigured(e)) return;
          throw e;
        }
      }
      const add = form('authz-add', [
        ...(kind === 'all' ? [] : [{ name: 'who', label: kind === 'users' ? 'Username' : 'Client ID', required: true }]),
        { name: 'permission', label: 'Permission', type: 'select', value: 'allow', options: [['allow', 'allow'], ['deny', 'deny']] },
        { name: 'action', label: 'Action', type: 'select', value: 'all', options: [['all', 'all'], ['publish', 'publish'], ['subscribe', 'subscribe']] },
        { name: 'topic', label: 'Topic filter', required: true },
      ], 'Add rule', async (v, el) => {
        const rule = { permission: v.permission, action: v.action, topic: v.topic };
        if (kind === 'all') {
          await api('POST', `${AUTHZ_BASE}/all`, { rules: [...(rulesForAll || []), rule] });
        } else {
          let existing = null;
          try {
            existing = await api('GET', `${AUTHZ_BASE}/${kind}/${enc(v.who)}`);
          } catch (e) {
            if (!(e instanceof ApiError) || e.status !== 404) throw e;
          }
          if (existing) {
            await api('PUT', `${AUTHZ_BASE}/${kind}/${enc(v.who)}`, { rules: [...existing.rules, rule] });
          } else {
            await api('POST', `${AUTHZ_BASE}/${kind}`, [{ [field]: v.who, rules: [rule] }]);
          }
        }
        notify('Rule added');
        el.reset();
        await show(kind);
      });
      body.replaceChildren(
        tabs('authz', [['users', 'By username'], ['clients', 'By client ID'], ['all', 'For all']], kind, show),
        kind === 'all'
          ? h('div', { 'data-testid': 'authz-all' }, rulesText(rulesForAll || []),
            (rulesForAll || []).length ? null : h('p', { class: 'empty', 'data-testid': 'empty' }, 'No rules'),
            (rulesForAll || []).length ? button('Delete all', async () => {
              if (!await confirmDialog('Delete the rules for all clients?', 'Delete')) return;
              await api('DELETE', `${AUTHZ_BASE}/all`);
              await show('all');
            }, { class: 'btn btn-small btn-danger' }) : null)
          : list.el,
        h('h3', null, 'Add a rule'), add);
    }

    // The node has no built-in database source: said as the page's content, not an error.
    function notConfigured(e) {
      if (!(e instanceof ApiError) || e.status !== 404) return false;
      body.replaceChildren(h('p', { class: 'muted', 'data-testid': 'authz-none' }, `${e.message}.`));
      return true;
    }
  }

  // -- banned -------------------------------------------------------------------------------------

  async function pageBanned(ctx) {
    const list = pagedTable('banned-table', [
      { title: 'As', render: (b) => b.as },
      { title: 'Who', render: (b) => b.who },
      { title: 'Reason', render: (b) => b.reason },
      { title: 'By', render: (b) => b.by },
      { title: 'Since', render: (b) => fmtTime(b.at) },
      { title: 'Until', render: (b) => fmtTime(b.until) },
      { title: '', render: (b) => button('Lift', async () => {
        await api('DELETE', `/banned/${enc(b.as)}/${enc(b.who)}`);
        notify(`Ban of ${b.as} ${b.who} lifted`);
        await list.reload();
      }, { class: 'btn btn-small btn-danger' }) },
    ], (page, limit) => api('GET', `/banned${query({ page, limit })}`), { empty: 'Nobody is banned' });
    const add = form('banned-add', [
      { name: 'as', label: 'As', type: 'select', value: 'clientid', options: [
        ['clientid', 'Client ID'], ['username', 'Username'], ['peerhost', 'IP address'],
        ['clientid_re', 'Client ID regex'], ['username_re', 'Username regex'], ['peerhost_net', 'Network (CIDR)']] },
      { name: 'who', label: 'Who', required: true },
      { name: 'reason', label: 'Reason' },
      { name: 'until', label: 'Until (empty: for ever)', type: 'datetime-local' },
    ], 'Ban', async (v, el) => {
      const body = { as: v.as, who: v.who, reason: v.reason, until: isoFromLocal(v.until) };
      await api('POST', '/banned', body);
      notify(`${v.as} ${v.who} banned`);
      el.reset();
      await list.reload();
    });
    append(ctx.root, card('Banned clients', list.el, h('div', { class: 'toolbar' },
      button('Lift every ban', async () => {
        if (!await confirmDialog('Lift every ban?', 'Lift all')) return;
        await api('DELETE', '/banned');
        await list.go(1);
      }, { class: 'btn btn-small btn-danger' }))), card('Ban', add));
    await list.go(1);
  }

  // -- dashboard users ----------------------------------------------------------------------------

  const ROLES = [['administrator', 'administrator'], ['viewer', 'viewer']];

  async function pageUsers(ctx) {
    const listBox = h('div');
    append(ctx.root,
      card('Dashboard users', listBox),
      card('Add a user', form('user-add', [
        { name: 'username', label: 'Username', required: true },
        { name: 'password', label: 'Password', type: 'password', required: true },
        { name: 'role', label: 'Role', type: 'select', value: 'administrator', options: ROLES },
        { name: 'description', label: 'Description' },
      ], 'Add user', async (v, el) => {
        await api('POST', '/users', v);
        notify(`User ${v.username} added`);
        el.reset();
        await load();
      })),
      card(`Change the password of ${session.user}`, form('user-password', [
        { name: 'old_pwd', label: 'Current password', type: 'password', required: true },
        { name: 'new_pwd', label: 'New password', type: 'password', required: true },
      ], 'Change password', async (v, el) => {
        await api('POST', `/users/${enc(session.user)}/change_pwd`, v);
        notify('Password changed');
        el.reset();
      })));

    async function load() {
      const users = await api('GET', '/users');
      listBox.replaceChildren(table('users-table', [
        { title: 'Username', render: (u) => [u.username, u.username === session.user ? h('span', { class: 'pill pill-info' }, 'you') : null] },
        { title: 'Role', render: (u) => u.role ?? '' },
        { title: 'Description', render: (u) => u.description ?? '' },
        { title: 'Backend', render: (u) => u.backend ?? '' },
        { title: '', render: (u) => (u.username === session.user ? '' : [
          button(u.role === 'viewer' ? 'Make administrator' : 'Make viewer', async () => {
            await api('PUT', `/users/${enc(u.username)}`, { role: u.role === 'viewer' ? 'administrator' : 'viewer' });
            await load();
          }),
          ' ',
          button('Delete', async () => {
            if (!await confirmDialog(`Delete dashboard user "${u.username}"?`, 'Delete')) return;
            await api('DELETE', `/users/${enc(u.username)}`);
            notify(`User ${u.username} deleted`);
            await load();
          }, { class: 'btn btn-small btn-danger' })]) },
      ], Array.isArray(users) ? users : [], { empty: 'No users', rowProps: (u) => ({ 'data-user': u.username }) }));
    }
    await load();
  }

  // -- API keys -----------------------------------------------------------------------------------

  async function pageApiKeys(ctx) {
    const listBox = h('div');
    const secretBox = h('div');
    append(ctx.root,
      secretBox,
      card('API keys', listBox),
      card('Create an API key', form('api-key-add', [
        { name: 'name', label: 'Name', required: true },
        { name: 'desc', label: 'Description' },
        { name: 'role', label: 'Role', type: 'select', value: 'administrator', options: ROLES },
        { name: 'expired_at', label: 'Expires (empty: never)', type: 'datetime-local' },
        { name: 'enable', label: 'Enabled', type: 'checkbox', value: true },
      ], 'Create', async (v, el) => {
        const body = { name: v.name, desc: v.desc, enable: v.enable, role: v.role };
        const expiry = isoFromLocal(v.expired_at);
        if (expiry) body.expired_at = expiry;
        const made = await api('POST', '/api_key', body);
        // The secret is shown here once; the node keeps only its hash.
        secretBox.replaceChildren(h('section', { class: 'card card-secret', 'data-testid': 'api-secret' },
          h('h2', null, `API key ${made.name} created`),
          h('p', null, 'Copy the secret now: it is not shown again.'),
          kvList('api-secret-fields', { api_key: made.api_key, api_secret: made.api_secret })));
        el.reset();
        await load();
      })));

    async function load() {
      const keys = await api('GET', '/api_key');
      listBox.replaceChildren(table('api-keys-table', [
        { title: 'Name', render: (k) => k.name },
        { title: 'API key', render: (k) => h('code', null, k.api_key ?? '') },
        { title: 'Role', render: (k) => k.role ?? '' },
        { title: 'Enabled', render: (k) => pill(k.enable, 'enabled', 'disabled') },
        { title: 'Expires', render: (k) => [fmtTime(k.expired_at), k.expired ? h('span', { class: 'pill pill-bad' }, 'expired') : null] },
        { title: 'Created', render: (k) => fmtTime(k.created_at) },
        { title: 'Description', render: (k) => k.desc ?? '' },
        { title: '', render: (k) => [
          button(k.enable ? 'Disable' : 'Enable', async () => {
            const body = { enable: !k.enable, desc: k.desc ?? '' };
            if (k.expired_at !== undefined && k.expired_at !== null) body.expired_at = k.expired_at;
            await api('PUT', `/api_key/${enc(k.name)}`, body);
            await load();
          }),
          ' ',
          button('Delete', async () => {
            if (!await confirmDialog(`Delete API key "${k.name}"?`, 'Delete')) return;
            await api('DELETE', `/api_key/${enc(k.name)}`);
            notify(`API key ${k.name} deleted`);
            await load();
          }, { class: 'btn btn-small btn-danger' }),
        ] },
      ], Array.isArray(keys) ? keys : [], { empty: 'No API keys', rowProps: (k) => ({ 'data-key': k.name }) }));
    }
    await load();
  }

  // -- the config in force ------------------------------------------------------------------------

  function configTree(key, value, depth) {
    if (value !== null && typeof value === 'object') {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
      const summary = h('summary', null, h('span', { class: 'cfg-key' }, key),
        h('span', { class: 'muted' }, Array.isArray(value) ? ` [${entries.length}]` : ` {${entries.length}}`));
      return h('details', { class: 'cfg', 'data-key': key }, summary,
        entries.length ? entries.map(([k, v]) => configTree(k, v, depth + 1)) : h('div', { class: 'cfg-leaf muted' }, 'empty'));
    }
    const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
    return h('div', { class: 'cfg-leaf', 'data-key': key },
      h('span', { class: 'cfg-key' }, key), ': ',
      h('span', { class: `cfg-${value === null ? 'null' : typeof value}` }, text));
  }

  async function pageConfig(ctx) {
    const cfg = await api('GET', '/configs');
    const tree = h('div', { class: 'cfg-tree', 'data-testid': 'config-tree' },
      Object.entries(cfg || {}).map(([k, v]) => configTree(k, v, 0)));
    const setAll = (open) => { for (const d of tree.querySelectorAll('details')) d.open = open; };
    append(ctx.root, card(null,
      h('div', { class: 'toolbar' },
        h('button', { type: 'button', class: 'btn btn-small', id: 'config-expand', onclick: () => setAll(true) }, 'Expand all'),
        h('button', { type: 'button', class: 'btn btn-small', id: 'config-collapse', onclick: () => setAll(false) }, 'Collapse all')),
      Object.keys(cfg || {}).length ? tree : h('p', { class: 'empty', 'data-testid': 'empty' }, 'No configuration')));
  }

  // ------------------------------------------------------------------ router

  const PAGES = {
    overview: ['Overview', pageOverview],
    nodes: ['Nodes', pageNodes],
    clients: ['Clients', pageClients],
    subscriptions: ['Subscriptions', pageSubscriptions],
    topics: ['Topics', pageTopics],
    retained: ['Retained messages', pageRetained],
    alarms: ['Alarms', pageAlarms],
    traces: ['Traces', pageTraces],
    authentication: ['Authentication', pageAuthentication],
    authorization: ['Authorization', pageAuthorization],
    banned: ['Banned', pageBanned],
    users: ['Users', pageUsers],
    api_keys: ['API keys', pageApiKeys],
    config: ['Config', pageConfig],
  };

  let leaving = [];  // what the current page stops when the user goes elsewhere
  let shown = 0;     // counts the pages shown: a page is alive while it is the last one

  function leave() {
    shown++;
    for (const fn of leaving) fn();
    leaving = [];
  }

  // "#/clients/a%2Fb" -> ["clients", "a/b"]; null when it does not decode.
  function parseHash() {
    const path = location.hash.replace(/^#\/?/, '').split('?')[0];
    try {
      return path.split('/').filter((s, i) => i === 0 || s !== '').map(decodeURIComponent);
    } catch (e) {
      return null;
    }
  }

  async function render() {
    leave();
    if (!session.token) {
      showLogin();
      return;
    }
    showApp();
    clearError();
    // A notice stays across the navigation its own action made (kick, then the list).
    if (Date.now() - noticeAt > 1000) $('notice').hidden = true;
    const parts = parseHash();
    if (!parts || parts[0] === '') {
      location.replace('#/overview');
      return;
    }
    const [name, ...args] = parts;
    const entry = name === 'clients' && args.length === 1 ? ['Client', pageClient] : PAGES[name];
    for (const a of document.querySelectorAll('#sidebar a')) {
      a.classList.toggle('active', a.dataset.page === name);
    }
    const page = $('page');
    const root = h('div', { class: 'page-body' });
    const heading = h('h1', { 'data-testid': 'page-title' });
    page.replaceChildren(heading, root);
    page.dataset.page = name;
    page.dataset.state = 'loading';
    const title = (t) => {
      heading.textContent = t;
      $('topbar-title').textContent = t;
      document.title = `${t} · emqxd`;
    };
    if (!entry) {
      title('Not found');
      root.appendChild(h('p', { class: 'empty' }, `No page "${name}".`));
      page.dataset.state = 'ready';
      return;
    }
    title(entry[0]);
    const mine = shown;
    const ctx = {
      root,
      title,
      alive: () => mine === shown && root.isConnected,
      onLeave: (fn) => leaving.push(fn),
      reload: () => render(),
      // Runs fn every `ms` after the previous run ended, while the page is shown; an error
      // goes to the banner, and the banner goes when a later run succeeds.
      poll(fn, ms) {
        let timer = null;
        let failed = false;
        const tick = async () => {
          try {
            await fn();
            if (failed && ctx.alive()) clearError();
            failed = false;
          } catch (e) {
            if (!ctx.alive()) return;
            failed = true;
            showError(e);
          }
          if (ctx.alive()) timer = setTimeout(tick, ms);
        };
        timer = setTimeout(tick, ms);
        leaving.push(() => clearTimeout(timer));
      },
    };
    try {
      await entry[1](ctx, ...args);
      if (ctx.alive()) page.dataset.state = 'ready';
    } catch (e) {
      if (!ctx.alive()) return;
      page.dataset.state = 'error';
      showError(e);
    }
  }

  // ------------------------------------------------------------------ login, logout

  function showLogin() {
    $('app-view').hidden = true;
    $('login-view').hidden = false;
    document.title = 'Log in · emqxd';
    $('login-username').focus();
  }

  function showApp() {
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    $('current-user').textContent = session.user;
    // A viewer may only read: the server answers 403 to the rest, shown in the banner.
    $('current-role').textContent = session.role === 'viewer' ? 'viewer: read only' : '';
    $('current-role').hidden = session.role !== 'viewer';
    $('version').textContent = session.version ? `emqxd ${session.version}` : '';
  }

  function loginError(text) {
    const el = $('login-error');
    el.textContent = text || '';
    el.hidden = !text;
  }

  // The token was refused (expired, or the user removed): back to the login page.
  function expire(err) {
    session.clear();
    leave();
    loginError(`Please log in again (${err.code}: ${err.message})`);
    showLogin();
  }

  async function login(ev) {
    ev.preventDefault();
    const username = $('login-username').value.trim();
    const password = $('login-password').value;
    if (!username || !password) {
      loginError('Enter a username and a password');
      return;
    }
    const submit = $('login-submit');
    submit.disabled = true;
    loginError('');
    try {
      const res = await api('POST', '/login', { username, password }, { anonymous: true });
      if (!res || typeof res.token !== 'string') throw new ApiError(200, 'BAD_RESPONSE', 'the login answer has no token');
      session.set(res.token, username, res.version, res.role);
      $('login-password').value = '';
      const parts = parseHash();
      if (!parts || parts[0] === '') location.hash = '#/overview';  // hashchange renders it
      else await render();
    } catch (e) {
      loginError(errorText(e));
    } finally {
      submit.disabled = false;
    }
  }

  async function logout() {
    const username = session.user;
    let failure = '';
    try {
      await api('POST', '/logout', { username });
    } catch (e) {
      // The session ends here all the same; say why the server did not take part.
      if (!e.handled) failure = `Logged out here, but the server answered ${errorText(e)}`;
    }
    session.clear();
    leave();
    loginError(failure);
    showLogin();
  }

  // ------------------------------------------------------------------ start

  function start() {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('error-close').addEventListener('click', clearError);
    window.addEventListener('hashchange', render);
    // A bug in this file shows in the banner as well as in the console.
    window.addEventListener('error', (ev) => showError(ev.error || new Error(ev.message)));
    window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));
    render();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
