// The operator page: polls this gateway's /admin/api/state and draws it; the only action is
// removing a registration (POST with the X-Imsgw-Operator header, which a cross-site page cannot
// send). Every value from the API is shown with textContent, never as markup.
'use strict';

const POLL_MS = 2000;
const LIMIT = 100;

const el = (id) => document.getElementById(id);

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function age(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function fill(tbody, list, columns, what, extra) {
  const rows = list.items.map((item) => {
    const tr = document.createElement('tr');
    for (const c of columns) tr.append(cell(c(item)));
    if (extra) tr.append(extra(item));
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement('tr');
    const td = cell(`No ${what}.`, 'empty');
    td.colSpan = columns.length + (extra ? 1 : 0);
    tr.append(td);
    rows.push(tr);
  } else if (list.total > list.items.length) {
    const tr = document.createElement('tr');
    const td = cell(`Showing ${list.items.length} of ${list.total}.`, 'empty');
    td.colSpan = columns.length + (extra ? 1 : 0);
    tr.append(td);
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
}

let armed = null; // the flow whose Remove button waits for its confirmation click

/** A registration's flow: its id, and its worker in a combined view of several workers. */
const rowKey = (reg) => `${reg.worker ?? 0}/${reg.flow}`;

/** A connection id, with its worker in a combined view. */
const flowLabel = (x, id) => (x.worker === undefined ? String(id) : `${id} (worker ${x.worker})`);

function removeButton(reg) {
  const td = document.createElement('td');
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset.testid = 'remove';
  b.dataset.key = rowKey(reg);
  const confirming = armed === rowKey(reg);
  b.textContent = confirming ? 'Confirm removal' : 'Remove';
  b.className = confirming ? 'confirm' : '';
  b.setAttribute('aria-label', `${confirming ? 'Confirm removal of' : 'Remove'} the registration of ${reg.aor} on connection ${reg.flow}`);
  b.addEventListener('click', () => {
    if (armed !== rowKey(reg)) {
      armed = rowKey(reg);
      setTimeout(() => { if (armed === rowKey(reg)) { armed = null; refresh(); } }, 5000);
      refresh();
      return;
    }
    armed = null;
    remove(reg);
  });
  td.append(b);
  return td;
}

function say(text, error = false) {
  el('status').textContent = text;
  el('status').className = error ? 'error' : '';
}

async function remove(reg) {
  try {
    // in a combined view the worker that serves the page relays it to the one holding the flow
    const on = reg.worker === undefined ? '' : `?worker=${encodeURIComponent(reg.worker)}`;
    const r = await fetch(`/admin/api/flows/${encodeURIComponent(reg.flow)}/deregister${on}`, {
      method: 'POST', headers: { 'X-Imsgw-Operator': '1' }, credentials: 'same-origin',
    });
    const body = await r.json().catch(() => ({}));
    if (r.ok) say(`Registration of ${body.aor} removed: de-REGISTER sent, connection ${reg.flow} told.`);
    else say(`Not removed: ${body.error || `HTTP ${r.status}`}.`, true);
  } catch (e) {
    say(`Not removed: ${e.message}.`, true);
  }
  refresh();
}

/** Redraws, keeping the keyboard focus on the Remove button it was on (the rows are rebuilt on
 * every poll and on the first click of a removal). */
function draw(s) {
  const focusedKey = document.activeElement?.dataset?.key;
  drawAll(s);
  if (focusedKey) el('regs').querySelector(`button[data-key="${CSS.escape(focusedKey)}"]`)?.focus();
}

function drawAll(s) {
  let scope = 'One gateway process: everything it holds.';
  if (s.combined) {
    scope = `All ${s.workers} workers (this page is served by worker ${s.worker}).`;
    if (s.missing.length) scope += ` Worker ${s.missing.join(', ')} did not answer in time: its connections are not shown.`;
  } else if (s.workers > 1) {
    scope = `Worker ${s.worker} of ${s.workers}: this page shows this worker's connections only (docs/operator.md).`;
  }
  el('scope').textContent = scope;
  const counts = [['Connections', s.counts.flows], ['Registrations', s.counts.registrations],
    ['Calls', s.counts.dialogs], ['Transactions', s.counts.transactions],
    [`Media sessions (${s.media})`, s.counts.media_sessions], ['De-REGISTERs pending', s.counts.dereg_pending],
    ['Warnings and errors', s.counts.errors_total]];
  el('counts').replaceChildren(...counts.map(([k, v]) => {
    const d = document.createElement('div');
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = String(v);
    d.dataset.testid = `count-${k.split(' ')[0].toLowerCase()}`;
    d.append(dt, dd);
    return d;
  }));
  fill(el('regs'), s.registrations, [(r) => r.aor, (r) => r.instance || '—', (r) => age(Math.max(0, r.expires_in_s)),
    (r) => flowLabel(r, r.flow)], 'registrations', removeButton);
  fill(el('dialogs'), s.dialogs, [(d) => d.call, (d) => d.state, (d) => d.direction, (d) => d.local, (d) => d.remote,
    (d) => age(d.age_s), (d) => flowLabel(d, d.flow)], 'calls');
  fill(el('flows'), s.flows, [(f) => flowLabel(f, f.id), (f) => f.peer, (f) => age(f.age_s), (f) => (f.registered ? 'yes' : 'no'),
    (f) => String(f.transactions), (f) => `${f.queued_bytes} B`], 'connections');
  fill(el('sources'), s.sources, [(x) => (x.worker === undefined ? x.source : `${x.source} (worker ${x.worker})`),
    (x) => String(x.connections)], 'connections');
  el('errors').replaceChildren(...s.errors.map((e) => {
    const li = document.createElement('li');
    li.className = e.level;
    li.textContent = `${new Date(e.time * 1000).toISOString()} ${e.level}${e.worker === undefined ? '' : ` (worker ${e.worker})`}: ${e.text}`;
    return li;
  }));
  if (!s.errors.length) {
    const li = document.createElement('li');
    li.className = 'none';
    li.textContent = 'None since the start.';
    el('errors').append(li);
  }
}

let last = null;
async function refresh() {
  try {
    const r = await fetch(`/admin/api/state?limit=${LIMIT}`, { credentials: 'same-origin', cache: 'no-store' });
    if (r.status === 401) { say('Signed out: reload the page to sign in again.', true); return; }
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    last = await r.json();
    draw(last);
    document.body.dataset.updated = String(Date.now());
  } catch (e) {
    say(`Cannot reach the gateway: ${e.message}. Retrying.`, true);
  }
}

refresh();
setInterval(refresh, POLL_MS);
