/* The manager's status page: polls the REST API it is served beside once a
 * second (GET needs no token) and draws the pool, the forwarding mode, the
 * client map and the autoscaler; changes go through the same API with the
 * bearer token the operator typed, kept in this tab's sessionStorage only.
 * No framework, no build step: the manager embeds this file as it is. */
'use strict';

(function () {
  const POLL_MS = 1000;
  /* A manager without /v1/autoscale answers 404: asked again this rarely, so
   * the page notices a feature without filling the console with 404s. */
  const AUTOSCALE_RETRY_MS = 30000;
  const SPARK_POINTS = 60;
  const TOKEN_KEY = 'proxypool.token';

  const $ = (id) => document.getElementById(id);
  const history = new Map(); /* instance id -> latency samples (ms), oldest first */
  const lastRestarts = new Map();
  const flashUntil = new Map();
  let autoscaleNextTry = 0;
  let autoscaleAvailable = null;
  let busy = false;
  let pollTimer = null;
  let polling = false;
  let pollAgain = false;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  async function get(path) {
    const r = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } });
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = null;
    }
    return { status: r.status, body };
  }

  function errorText(res) {
    if (res.body && typeof res.body.error === 'string') return res.body.error;
    return 'HTTP ' + res.status;
  }

  /* ---- formatting ---- */

  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '—';
    if (ms < 10) return ms.toFixed(2) + ' ms';
    if (ms < 1000) return ms.toFixed(1) + ' ms';
    return (ms / 1000).toFixed(2) + ' s';
  }

  function fmtAge(iso) {
    if (!iso) return '—';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 120) return s + 's';
    if (s < 7200) return Math.round(s / 60) + 'm';
    if (s < 172800) return Math.round(s / 3600) + 'h';
    return Math.round(s / 86400) + 'd';
  }

  function fmtTarget(t) {
    if (!t) return '—';
    return t.metric + ' ' + t.value + (t.unit ? ' ' + t.unit : '');
  }

  function fmtMeasure(v, t) {
    if (v === null || v === undefined) return 'not measured yet';
    return String(Math.round(v * 1000) / 1000) + (t && t.unit ? ' ' + t.unit : '');
  }

  /* ---- the latency sparkline: an inline SVG, no images, no styles ---- */

  const SVG = 'http://www.w3.org/2000/svg';

  function sparkline(samples) {
    const w = 80, h = 18;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('width', w);
    svg.setAttribute('height', h);
    svg.setAttribute('class', 'spark');
    svg.setAttribute('aria-hidden', 'true');
    const pts = samples.filter((v) => v !== null);
    if (pts.length < 2) return svg;
    const max = Math.max(...pts) || 1;
    const step = w / (SPARK_POINTS - 1);
    const x0 = w - step * (samples.length - 1);
    let d = '';
    samples.forEach((v, i) => {
      if (v === null) return;
      const x = (x0 + i * step).toFixed(1);
      const y = (h - 1 - (v / max) * (h - 2)).toFixed(1);
      d += (d === '' ? 'M' : 'L') + x + ' ' + y + ' ';
    });
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d.trim());
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', 'currentColor');
    path.setAttribute('stroke-width', '1.5');
    svg.appendChild(path);
    return svg;
  }

  /* ---- the pool ---- */

  /* What the forwarding mode measured of one instance: the balancer's EWMA
   * of its time to first byte; undefined when the mode measures nothing. */
  function latencyOf(inst) {
    if (!('balancer' in inst)) return undefined;
    if (inst.balancer === null) return null;
    return typeof inst.balancer.ewma_ms === 'number' ? inst.balancer.ewma_ms : null;
  }

  function clientsText(inst) {
    const c = inst.clients;
    if (!c) return '—';
    if (!c.count) return 'none';
    return c.first + '–' + c.last + ' (' + c.count + ')';
  }

  function cell(row, label, content, cls) {
    const td = el('td', null, cls);
    td.dataset.label = label;
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = content;
    row.appendChild(td);
    return td;
  }

  function renderPool(pool) {
    const insts = pool.instances || [];
    const now = Date.now();
    const seen = new Set();
    let measured = false;
    const tbody = $('instances').tBodies[0];
    const rows = document.createDocumentFragment();
    for (const inst of insts) {
      seen.add(inst.id);
      const lat = latencyOf(inst);
      if (lat !== undefined) measured = true;
      const h = history.get(inst.id) || [];
      h.push(lat === undefined ? null : lat);
      while (h.length > SPARK_POINTS) h.shift();
      history.set(inst.id, h);
      const prev = lastRestarts.get(inst.id);
      if (prev !== undefined && inst.restarts > prev) flashUntil.set(inst.id, now + 5000);
      lastRestarts.set(inst.id, inst.restarts);

      const tr = el('tr');
      tr.dataset.id = inst.id;
      tr.dataset.state = inst.state;
      tr.className = 'state-' + inst.state + ((flashUntil.get(inst.id) || 0) > now ? ' restarted' : '');
      cell(tr, 'id', inst.id, 'num');
      cell(tr, 'name', inst.name);
      cell(tr, 'state', el('span', inst.state, 'badge ' + inst.state), 'state');
      cell(tr, 'address', inst.address || '—', 'addr');
      cell(tr, 'pid', inst.pid === null ? '—' : inst.pid, 'num pid');
      cell(tr, 'clients', clientsText(inst), 'addr');
      cell(tr, 'restarts', inst.restarts, 'num restarts');
      cell(tr, 'last exit', inst.last_exit ? inst.last_exit.how + ', ' + fmtAge(inst.last_exit.at) + ' ago' : '—',
        'exit');
      cell(tr, 'up', inst.state === 'ready' ? fmtAge(inst.started_at) : '—', 'num');
      const lc = el('span', null, 'latency');
      lc.appendChild(sparkline(h));
      lc.appendChild(el('span', lat === undefined ? '—' : fmtMs(lat), 'lat-value'));
      if (inst.balancer) {
        lc.title = 'balancer: EWMA ' + fmtMs(inst.balancer.ewma_ms) + ', p50 ' + fmtMs(inst.balancer.p50_ms) +
          ', p99 ' + fmtMs(inst.balancer.p99_ms) + ', ' + inst.balancer.active + ' open, ' +
          inst.balancer.total + ' total, ' + inst.balancer.state;
      }
      cell(tr, 'latency', lc, 'lat');
      const b = el('button', 'restart', 'restart');
      b.type = 'button';
      b.dataset.id = inst.id;
      b.setAttribute('aria-label', 'restart instance ' + inst.id);
      cell(tr, '', b, 'actions');
      rows.appendChild(tr);
    }
    for (const id of Array.from(history.keys())) {
      if (!seen.has(id)) {
        history.delete(id);
        lastRestarts.delete(id);
        flashUntil.delete(id);
      }
    }
    clear(tbody);
    tbody.appendChild(rows);

    const byState = {};
    for (const inst of insts) byState[inst.state] = (byState[inst.state] || 0) + 1;
    $('counts').textContent = '(' + insts.length + ')';
    const others = Object.keys(byState).filter((s) => s !== 'ready').map((s) => byState[s] + ' ' + s);
    $('summary').textContent = pool.ready + ' of ' + pool.replicas + ' ready' +
      (others.length ? ' (' + others.join(', ') + ')' : '') +
      ' · runtime ' + pool.runtime + ' · worker ' + pool.worker;
    $('summary').dataset.ready = pool.ready;
    $('summary').dataset.replicas = pool.replicas;
    $('latency-note').textContent = measured
      ? 'latency: the balancer\u2019s moving average (EWMA) of each instance\u2019s time to first byte, last ' +
        SPARK_POINTS + ' s'
      : 'latency: this forwarding mode measures none per instance (the balancer mode does)';
    const rep = $('replicas');
    if (document.activeElement !== rep && !rep.dataset.dirty) rep.value = pool.replicas;
  }

  /* ---- forwarding and client map ---- */

  function dl(node, pairs) {
    clear(node);
    for (const [k, v] of pairs) {
      node.appendChild(el('dt', k));
      node.appendChild(el('dd', v));
    }
  }

  function renderForwarding(res) {
    if (res.status !== 200) {
      dl($('fwd'), [['mode', 'unknown: ' + errorText(res)]]);
      return;
    }
    const f = res.body;
    const pairs = [['mode', f.mode], ['rules', f.rules]];
    if (typeof f.clients === 'number') pairs.push(['clients', f.clients]);
    pairs.push(['last swap', f.last_swap_at ? f.last_swap_at + ' (' + fmtMs(f.last_swap_ms) + ')' : 'none yet']);
    dl($('fwd'), pairs);
    $('fwd').dataset.mode = f.mode;
    const sel = $('mode');
    if (document.activeElement !== sel && !sel.dataset.dirty) sel.value = f.mode;
  }

  function renderPartition(res) {
    const tbody = $('blocks').tBodies[0];
    clear(tbody);
    if (res.status !== 200) {
      $('map-note').textContent = 'client map unknown: ' + errorText(res);
      $('blocks').hidden = true;
      return;
    }
    const p = res.body;
    const blocks = p.blocks || [];
    if (blocks.length === 0) {
      $('map-note').textContent = p.mode === 'balancer'
        ? 'balancer mode: clients are not partitioned; the balancer picks an instance for each connection'
        : p.mode === 'none'
          ? 'mode none: clients send to the instances\u2019 own addresses'
          : 'no client blocks';
      $('blocks').hidden = true;
      return;
    }
    $('map-note').textContent = p.clients + ' clients in ' + blocks.length + ' blocks; ' +
      p.moved_last_step + ' moved at the last scale step';
    $('blocks').hidden = false;
    for (const b of blocks) {
      const tr = el('tr');
      cell(tr, 'instance', b.instance, 'num');
      cell(tr, 'first', b.first || '—', 'addr');
      cell(tr, 'last', b.last || '—', 'addr');
      cell(tr, 'clients', b.count, 'num');
      cell(tr, 'prefixes', (b.prefixes || []).join(' '), 'addr');
      tbody.appendChild(tr);
    }
  }

  /* ---- the autoscaler ---- */

  function renderAutoscale(res) {
    const tbody = $('decisions').tBodies[0];
    if (res === null) return; /* not asked this time */
    clear(tbody);
    if (res.status !== 200 || !res.body || typeof res.body !== 'object') {
      autoscaleAvailable = false;
      $('as-state').textContent = res.status === 404 ? 'autoscaling: not available'
        : 'autoscaling: unknown (' + errorText(res) + ')';
      clear($('as-figures'));
      $('decisions').hidden = true;
      return;
    }
    autoscaleAvailable = true;
    const a = res.body;
    $('as-state').textContent = 'autoscaling: ' + (a.enabled ? 'on' : 'off');
    dl($('as-figures'), [
      ['range', a.min + '..' + a.max],
      ['target', fmtTarget(a.target)],
      ['measure', fmtMeasure(a.measure, a.target)],
      ['desired', a.desired === undefined ? '—' : a.desired],
    ]);
    const ds = Array.isArray(a.decisions) ? a.decisions.slice(-10).reverse() : [];
    $('decisions').hidden = ds.length === 0;
    for (const d of ds) {
      const tr = el('tr');
      cell(tr, 'at', d.at);
      cell(tr, 'from', d.from, 'num');
      cell(tr, 'to', d.to, 'num');
      cell(tr, 'measure', fmtMeasure(d.measure, a.target), 'num');
      cell(tr, 'reason', d.reason);
      tbody.appendChild(tr);
    }
  }

  /* ---- polling ---- */

  /* One poll at a time; a change that completes asks for one at once, so
   * its result shows without waiting for the next tick. */
  async function poll() {
    if (polling) {
      pollAgain = true;
      return;
    }
    clearTimeout(pollTimer);
    polling = true;
    const wantAutoscale = autoscaleAvailable !== false || Date.now() >= autoscaleNextTry;
    try {
      const [pool, fwd, part, as] = await Promise.all([
        get('/v1/pool'),
        get('/v1/forwarding'),
        get('/v1/partition'),
        wantAutoscale ? get('/v1/autoscale') : Promise.resolve(null),
      ]);
      if (pool.status !== 200) throw new Error('GET /v1/pool: ' + errorText(pool));
      renderPool(pool.body);
      renderForwarding(fwd);
      renderPartition(part);
      if (as !== null && as.status !== 200) autoscaleNextTry = Date.now() + AUTOSCALE_RETRY_MS;
      renderAutoscale(as);
      $('conn').textContent = 'updated ' + new Date().toLocaleTimeString();
      $('conn').className = 'conn ok';
      document.body.dataset.polled = String((Number(document.body.dataset.polled) || 0) + 1);
    } catch (e) {
      $('conn').textContent = 'manager unreachable: ' + e.message;
      $('conn').className = 'conn bad';
    }
    polling = false;
    pollTimer = setTimeout(poll, pollAgain ? 0 : POLL_MS);
    pollAgain = false;
  }

  /* ---- changes ---- */

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  }

  function showResult(text, ok) {
    const r = $('result');
    r.textContent = text;
    r.className = ok ? 'ok' : 'bad';
  }

  function showTokenState() {
    $('token-state').textContent = token() ? 'token kept for this tab' : 'no token: changes will be refused (401)';
  }

  async function change(method, path, body, what) {
    if (busy) {
      showResult('another change is running; wait for it', false);
      return;
    }
    busy = true;
    document.body.classList.add('busy');
    showResult(what + '…', true);
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (token()) headers.Authorization = 'Bearer ' + token();
    try {
      const r = await fetch(path, { method, headers, body: JSON.stringify(body), cache: 'no-store' });
      let j = null;
      try {
        j = await r.json();
      } catch (e) {
        j = null;
      }
      if (r.ok) {
        showResult(what + ': done', true);
      } else if (r.status === 401) {
        showResult('401 Unauthorized: ' + (j && j.error ? j.error : 'the token was refused') +
          '. Enter the token from the manager\u2019s api.token.', false);
      } else {
        showResult(r.status + ': ' + (j && j.error ? j.error : r.statusText), false);
      }
    } catch (e) {
      showResult(what + ' failed: ' + e.message, false);
    } finally {
      busy = false;
      document.body.classList.remove('busy');
      poll();
    }
  }

  function wire() {
    $('token').value = '';
    showTokenState();
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('token').value.trim();
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      $('token').value = '';
      showTokenState();
    });
    $('token-forget').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showTokenState();
    });
    $('replicas').addEventListener('input', () => { $('replicas').dataset.dirty = '1'; });
    $('scale-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const n = Number($('replicas').value);
      delete $('replicas').dataset.dirty;
      if (!Number.isInteger(n) || n < 1 || n > 32) {
        showResult('replicas must be a whole number from 1 to 32', false);
        return;
      }
      change('PUT', '/v1/pool', { replicas: n }, 'scale to ' + n);
    });
    $('mode').addEventListener('change', () => { $('mode').dataset.dirty = '1'; });
    $('mode-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const m = $('mode').value;
      delete $('mode').dataset.dirty;
      change('PUT', '/v1/forwarding', { mode: m }, 'switch forwarding to ' + m);
    });
    $('instances').addEventListener('click', (ev) => {
      const b = ev.target.closest('button.restart');
      if (!b) return;
      const id = Number(b.dataset.id);
      change('POST', '/v1/pool/instances/' + id + '/restart', {}, 'restart of instance ' + id);
    });
  }

  wire();
  poll();
})();
