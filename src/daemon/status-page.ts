import { formatFindings } from './findings-text.js';
import { html, trusted, type Html } from './html.js';
import type { PushReport } from '../push/push-report.js';
import type { JobReport } from './pending-jobs.js';
import { sparkline } from './sparkline.js';
import { STATUS_PAGE_CSS, STATUS_PAGE_SCRIPT } from './status-page-assets.js';
import { durationText, relativeText } from './time-text.js';
import type { StreamReport } from './stream-status.js';

export interface StatusPageModel {
  readonly streams: readonly StreamReport[];
  readonly jobs: readonly JobReport[];
  /** Push targets, below the streams; none when absent. */
  readonly pushTargets?: readonly PushReport[];
  readonly now: Date;
  /** Changes applied per hour over the last 24 hours, oldest first, by stream id; absent where not kept. */
  readonly history?: ReadonlyMap<string, readonly number[]>;
  /** From the query string: rows of other jobs or states are hidden (`hidden`, so this works without script). */
  readonly filter: { readonly job?: string | undefined; readonly state?: string | undefined };
  /** Seconds between refreshes (by script, or by a meta refresh when script is off). */
  readonly refreshSeconds: number;
}

/**
 * How a stream looks at a glance: the colour of its state and the filter groups it is in.
 * `bad`: failing (a failed status, a run that failed and is backing off, or an alert); `warn`:
 * waiting because the remote asked; `busy`: running; `off`: gone or never run; `ok`: idle.
 */
export type Tone = 'ok' | 'busy' | 'warn' | 'bad' | 'off';

export function toneOf(report: StreamReport): Tone {
  if (report.alerting || report.status === 'failed' || report.consecutiveFailures > 0) return 'bad';
  switch (report.status) {
    case 'idle':
      return 'ok';
    case 'running':
      return 'busy';
    case 'backoff':
      return 'warn';
    case 'gone':
    case 'never-run':
      return 'off';
  }
}

/** A push target at a glance: failing (refused or past alertAfter), delivering, or in step. */
export function pushToneOf(target: PushReport): Tone {
  if (target.alerting || target.consecutiveFailures > 0) return 'bad';
  return target.outboxDepth > 0 ? 'busy' : 'ok';
}

/** The state filter's choices: `problems` (failing or waiting) and every status. */
export const STATE_FILTERS = ['problems', 'idle', 'running', 'backoff', 'failed', 'gone', 'never-run'] as const;

function statesOf(report: StreamReport): string[] {
  const tone = toneOf(report);
  return [report.status, ...(tone === 'bad' || tone === 'warn' ? ['problems'] : [])];
}

/**
 * The page at `/`: one row per stream, readable at a glance and on a phone, complete without
 * script. Sections are listed in `render`: ODS push targets (their outbox depth and lag) follow
 * the streams'.
 */
export function renderStatusPage(model: StatusPageModel): string {
  const failing =
    model.streams.filter((report) => toneOf(report) === 'bad').length + (model.pushTargets ?? []).filter((target) => pushToneOf(target) === 'bad').length;
  const title = failing > 0 ? `dataspace-sync · ${failing} failing` : 'dataspace-sync';
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
<noscript><meta http-equiv="refresh" content="${model.refreshSeconds}"></noscript>
<style>${trusted(STATUS_PAGE_CSS)}</style>
</head>
<body data-refresh="${model.refreshSeconds}">
<header>
<h1>dataspace-sync</h1>
${summary(model)}
</header>
${filterForm(model)}
${pendingJobs(model)}
${streamTable(model)}
${pushTable(model)}
<footer>Refreshes every ${model.refreshSeconds} s. <span id="refresh-note" role="status"></span>
The same facts as JSON: <a href="status">/status</a>; for Prometheus: <a href="metrics">/metrics</a>.</footer>
<script>${trusted(STATUS_PAGE_SCRIPT)}</script>
</body>
</html>
`;
  return page.text;
}

function summary(model: StatusPageModel): Html {
  const counts = new Map<Tone, number>();
  for (const report of model.streams) counts.set(toneOf(report), (counts.get(toneOf(report)) ?? 0) + 1);
  const words: [Tone, string][] = [
    ['bad', 'failing'],
    ['warn', 'waiting'],
    ['busy', 'running'],
    ['ok', 'idle'],
    ['off', 'gone or not run yet'],
  ];
  const parts = words.flatMap(([tone, word]) => (counts.has(tone) ? [html`<b>${counts.get(tone)}</b> ${word}`] : []));
  const total = model.streams.length;
  return html`<p class="summary" id="summary"><b>${total}</b> stream${total === 1 ? '' : 's'}${parts.length > 0 ? ': ' : ''}${join(parts, ' · ')}
${pushSummary(model.pushTargets ?? [])}· as of <time datetime="${model.now.toISOString()}">${model.now.toISOString().slice(11, 19)} UTC</time> <span id="shown"></span></p>`;
}

/** The push targets' share of the summary, when there are any: a refused target counts as failing. */
function pushSummary(targets: readonly PushReport[]): Html {
  if (targets.length === 0) return html``;
  const failing = targets.filter((target) => pushToneOf(target) === 'bad').length;
  return html`· <b>${targets.length}</b> push target${targets.length === 1 ? '' : 's'}${failing > 0 ? html`: <b>${failing}</b> failing` : html``} `;
}

function filterForm(model: StatusPageModel): Html {
  const jobIds = [...new Set([...model.jobs.map((job) => job.job), ...model.streams.map((report) => report.job)])].sort();
  const option = (value: string, label: string, selected: string | undefined) =>
    html`<option value="${value}"${value === (selected ?? '') ? trusted(' selected') : ''}>${label}</option>`;
  return html`<form id="filters" class="filters" method="get" action="">
<label>job <select name="job">${option('', 'all', model.filter.job)}${jobIds.map((id) => option(id, id, model.filter.job))}</select></label>
<label>state <select name="state">${option('', 'all', model.filter.state)}${STATE_FILTERS.map((state) => option(state, state, model.filter.state))}</select></label>
<button type="submit">filter</button>
</form>`;
}

/** Jobs that could not be turned into streams yet: their streams are unknown, so they get rows of their own. */
function pendingJobs(model: StatusPageModel): Html {
  const pending = model.jobs.filter((job) => !job.expanded);
  if (pending.length === 0) return html`<section id="jobs"></section>`;
  const rows = pending.map(
    (job) => html`<tr class="tone-bad"><td data-label="job" class="id">${breakable(job.job)}<span class="sub">${job.kind}</span></td>
<td data-label="failures" class="num">${job.failures}</td>
<td data-label="next attempt">${relative(job.nextAttemptAt, model.now)}</td>
<td data-label="last error" class="error">${errorCell(job.lastError)}</td></tr>`,
  );
  return html`<section id="jobs"><h2>Jobs not expanded into streams yet</h2>
<table><thead><tr><th>job</th><th>failures</th><th>next attempt</th><th>last error</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function streamTable(model: StatusPageModel): Html {
  const headers = ['stream', 'state', 'lag', 'last success', 'next run', 'failures', 'rows applied', 'changes, 24 h', 'conformance', 'last error'];
  const rows = model.streams.map((report) => streamRow(report, model));
  const body =
    rows.length > 0 ? rows : [html`<tr><td colspan="${headers.length}" class="empty">No streams yet: no job in the config, or none expanded.</td></tr>`];
  return html`<section><h2>Streams</h2>
<table id="streams"><thead><tr>${headers.map((header) => html`<th scope="col">${header}</th>`)}</tr></thead>
<tbody id="streams-body">${body}</tbody></table></section>`;
}

function streamRow(report: StreamReport, model: StatusPageModel): Html {
  const tone = toneOf(report);
  const { job, state } = model.filter;
  const hidden = (job !== undefined && job !== '' && report.job !== job) || (state !== undefined && state !== '' && !statesOf(report).includes(state));
  const history = model.history?.get(report.stream);
  const changes = history?.reduce((sum, count) => sum + count, 0);
  return html`<tr data-stream="${report.stream}" data-job="${report.job}" data-states="${statesOf(report).join(' ')}" class="tone-${tone}"${hidden ? trusted(' hidden') : ''}>
<td data-label="stream"><span class="id">${breakable(report.stream)}</span><span class="sub">${report.job} · ${report.kind}</span></td>
<td data-label="state"><span class="state">${report.status}</span>${report.alerting ? html`<span class="sub error">alert: past its threshold</span>` : ''}</td>
<td data-label="lag" title="time since the mirror last caught up with the source (its last successful sync)">${
    report.lagSeconds === null ? html`<span class="empty">never synced</span>` : durationText(report.lagSeconds)
  }</td>
<td data-label="last success">${relative(report.lastSuccessAt, model.now)}</td>
<td data-label="next run">${nextRun(report.nextRun, model.now)}</td>
<td data-label="failures" class="num">${report.consecutiveFailures}</td>
<td data-label="rows applied" class="num">${report.rowsUpserted.toLocaleString('en')} upserted<span class="sub">${report.rowsDeleted.toLocaleString('en')} deleted</span></td>
<td data-label="changes, 24 h">${
    history ? sparkline(history, `${changes ?? 0} changes in the last 24 hours`) : html`<span class="empty">not kept</span>`
  }<span class="sub">last change ${relative(report.lastChangeAt, model.now)}</span></td>
<td data-label="conformance">${formatFindings(report.details)}</td>
<td data-label="last error" class="error">${errorCell(report.lastError)}</td>
</tr>`;
}

/** Push targets: how much is waiting (outbox depth), for how long (push lag), and why, when delivery fails. */
function pushTable(model: StatusPageModel): Html {
  const targets = model.pushTargets ?? [];
  if (targets.length === 0) return html`<section id="push"></section>`;
  const rows = targets.map((target) => {
    const tone = pushToneOf(target);
    return html`<tr data-target="${target.target}" class="tone-${tone}"><td data-label="push target" class="id">${breakable(target.target)}</td>
<td data-label="outbox" class="num">${target.outboxDepth}</td>
<td data-label="push lag">${target.outboxDepth > 0 ? durationText(target.lagSeconds) : html`<span class="empty">none</span>`}</td>
<td data-label="last success">${relative(target.lastSuccessAt, model.now)}</td>
<td data-label="failures" class="num">${target.consecutiveFailures}</td>
<td data-label="records delivered" class="num">${target.delivered}</td>
<td data-label="last error" class="error">${errorCell(target.consecutiveFailures > 0 ? target.lastError : (target.setAside[0] ?? null))}</td></tr>`;
  });
  return html`<section id="push"><h2>Push targets</h2>
<table id="push-targets"><thead><tr><th scope="col">push target</th><th scope="col">outbox</th><th scope="col">push lag</th><th scope="col">last success</th><th scope="col">failures</th><th scope="col">records delivered</th><th scope="col">last error</th></tr></thead>
<tbody>${rows}</tbody></table></section>`;
}

/** An error in full, folded behind its first line when long: errors name URLs and can run to paragraphs. */
function errorCell(error: string | null): Html {
  if (error === null || error === '') return html``;
  const firstLine = error.split('\n')[0] ?? '';
  if (firstLine.length <= 80 && firstLine === error) return html`${error}`;
  return html`<details><summary>${firstLine.length > 80 ? `${firstLine.slice(0, 79)}…` : firstLine}</summary><pre>${error}</pre></details>`;
}

function nextRun(next: string | null, now: Date): Html {
  if (next === 'running' || next === 'queued') return html`${next}`;
  if (next === null) return html`<span class="empty">none planned</span>`;
  return relative(next, now);
}

/** "3 min ago" or "in 4 min", with the exact time as the element's datetime and title. */
function relative(iso: string | null, now: Date): Html {
  const text = relativeText(iso, now);
  if (iso === null || text === null) return html`<span class="empty">never</span>`;
  return html`<time datetime="${iso}" title="${iso}">${text}</time>`;
}

/** An id that may wrap after its separators (`sdmx:job:AGENCY:ID(1.0):data`) rather than anywhere or nowhere. */
function breakable(id: string): Html {
  const parts = id.split(/(?<=[:/])/);
  return html`${parts.map((part, index) => (index === 0 ? html`${part}` : html`<wbr>${part}`))}`;
}

function join(parts: readonly Html[], separator: string): Html[] {
  return parts.flatMap((part, index) => (index === 0 ? [part] : [html`${separator}`, part]));
}
