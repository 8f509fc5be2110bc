import { createHash } from 'node:crypto';

/**
 * The status page's style and script, inline so that the page is one response with nothing to
 * build or fetch. Both are constants: the Content-Security-Policy allows exactly these texts (by
 * their hashes) and nothing else, so even an escaping mistake could not run a remote's markup.
 */

export const STATUS_PAGE_CSS = `
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --bg: #fff; --line: #d1d9e0; --card: #f6f8fa;
  --ok: #1a7f37; --busy: #0969da; --warn: #9a6700; --bad: #cf222e; --off: #6e7781; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --line: #3d444d; --card: #151b23;
  --ok: #3fb950; --busy: #4493f8; --warn: #d29922; --bad: #f85149; --off: #9198a1; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
h2 { font-size: 1rem; margin: 1.25rem 0 .5rem; }
.summary { margin: 0 0 .75rem; color: var(--muted); }
.summary b { color: var(--fg); }
.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: 0 0 .75rem; }
.filters label { display: flex; gap: .35rem; align-items: center; }
.filters select, .filters button { font: inherit; padding: .2rem .4rem; }
.js .filters button { display: none; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem; border-bottom: 1px solid var(--line); }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr[hidden] { display: none; }
.id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.sub { display: block; color: var(--muted); font-size: .8rem; }
.state { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-weight: 600; color: #fff; white-space: nowrap; }
tr.tone-ok .state { background: var(--ok); }
tr.tone-busy .state { background: var(--busy); }
tr.tone-warn .state { background: var(--warn); }
tr.tone-bad .state { background: var(--bad); }
tr.tone-off .state { background: var(--off); }
tr.tone-bad td:first-child { box-shadow: inset 3px 0 0 var(--bad); }
tr.tone-warn td:first-child { box-shadow: inset 3px 0 0 var(--warn); }
.error { color: var(--bad); overflow-wrap: anywhere; }
.error summary { cursor: pointer; }
.error pre { white-space: pre-wrap; word-break: break-word; margin: .35rem 0 0; font-size: .8rem; }
.spark { display: block; }
.spark rect { fill: var(--busy); }
.spark line { stroke: var(--line); }
.empty { color: var(--muted); }
footer { margin-top: 1rem; color: var(--muted); font-size: .8rem; }
footer a { color: inherit; }
#refresh-note:not(:empty) { color: var(--warn); }
@media (max-width: 760px) {
  body { padding: .5rem; }
  table, thead, tbody, tr, td { display: block; width: 100%; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  tr { border: 1px solid var(--line); border-radius: .5rem; margin: 0 0 .6rem; padding: .3rem .5rem; background: var(--card); }
  tr.tone-bad { border-color: var(--bad); }
  td { position: relative; border: 0; padding: .2rem 0 .2rem 8rem; min-height: 1.6rem; overflow-wrap: anywhere; }
  td.num { text-align: left; }
  td::before { content: attr(data-label); position: absolute; left: 0; top: .3rem; width: 7.5rem; color: var(--muted); font-size: .8rem; }
  tr.tone-bad td:first-child, tr.tone-warn td:first-child { box-shadow: none; }
}
`;

/**
 * Progressive enhancement only: without it the page filters through its form (a GET) and
 * reloads itself (a meta refresh inside noscript). With it, filters apply as they change, and
 * the page refreshes in place: the unfiltered page is fetched, its parts (streams and push
 * targets) swapped in, the open error details kept open and the filters applied again.
 */
export const STATUS_PAGE_SCRIPT = `
(() => {
  const root = document.documentElement;
  root.classList.add('js');
  const form = document.getElementById('filters');
  const note = document.getElementById('refresh-note');
  const every = Number(document.body.dataset.refresh) * 1000;
  const apply = () => {
    const job = form.elements.job.value;
    const state = form.elements.state.value;
    let shown = 0;
    const rows = document.querySelectorAll('#streams-body tr[data-stream]');
    for (const row of rows) {
      const visible = (!job || row.dataset.job === job) && (!state || row.dataset.states.split(' ').includes(state));
      row.hidden = !visible;
      if (visible) shown += 1;
    }
    const count = document.getElementById('shown');
    if (count) count.textContent = shown === rows.length ? '' : 'showing ' + shown + ' of ' + rows.length;
    const url = new URL(location.href);
    for (const [key, value] of [['job', job], ['state', state]]) {
      if (value) url.searchParams.set(key, value); else url.searchParams.delete(key);
    }
    history.replaceState(null, '', url);
  };
  form.addEventListener('change', apply);
  form.addEventListener('submit', (event) => { event.preventDefault(); apply(); });
  const refresh = async () => {
    try {
      const url = new URL(location.href);
      url.search = '';
      const response = await fetch(url, { headers: { accept: 'text/html' }, cache: 'no-store' });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
      const rowOf = (details) => { const row = details.closest('tr'); return row.dataset.stream || row.dataset.target; };
      const open = new Set([...document.querySelectorAll('#streams-body details[open], #push details[open]')].map(rowOf));
      for (const id of ['summary', 'jobs', 'streams-body', 'push']) {
        const next = fresh.getElementById(id);
        const current = document.getElementById(id);
        if (next && current) current.replaceWith(next);
      }
      for (const details of document.querySelectorAll('#streams-body details, #push details')) {
        if (open.has(rowOf(details))) details.open = true;
      }
      document.title = fresh.title;
      note.textContent = '';
      apply();
    } catch (error) {
      note.textContent = 'refresh failed (' + error.message + '); showing the last answer';
    }
  };
  apply();
  setInterval(refresh, every);
})();
`;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** Only this page's own style and script run; data may be fetched from the daemon itself. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STATUS_PAGE_CSS)}`,
  `script-src ${sha256(STATUS_PAGE_SCRIPT)}`,
  "connect-src 'self'",
  'img-src data:',
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');
