// The approvals inbox. Plain browser JavaScript, no build step: everything it shows comes from
// the API with the operator's bearer token, and every value reaches the page as text
// (text nodes and textContent only), so nothing a run carries can become markup.
'use strict';

(() => {
  const TOKEN_KEY = 'gpuaas-runbooks.token';
  const query = new URLSearchParams(window.location.search);
  /** A running run whose current phase started longer ago than this is listed as stuck (?stuck_minutes=). */
  const STUCK_MINUTES = positiveNumber(query.get('stuck_minutes'), 10);
  /** How often the sections reload (?refresh= seconds). */
  const REFRESH_SECONDS = positiveNumber(query.get('refresh'), 15);
  const RECENT_LIMIT = 20;
  const CLOSED_STATUSES = ['completed', 'failed', 'canceled', 'terminated', 'timed_out'];
  /** Detail requests in flight at once: each one is a Temporal query. */
  const DETAIL_CONCURRENCY = 4;

  const byId = (id) => document.getElementById(id);

  let principal = null;
  let settings = null;
  let refreshTimer = null;
  let refreshing = false;
  let decisionsInFlight = 0;
  /** Closed runs do not change: their outcome is read once per run id. */
  const closedOutcomes = new Map();

  class Unauthenticated extends Error {}

  function positiveNumber(raw, fallback) {
    const n = Number(raw);
    return raw !== null && Number.isFinite(n) && n > 0 ? n : fallback;
  }

  // ------------------------------------------------------------------------------------------
  // The API

  async function api(method, path, body) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) throw new Unauthenticated('Sign in with your API token.');
    const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch (err) {
      // A header value the browser refuses (the pasted text is not a token) throws here, as does a network failure.
      if (err instanceof TypeError && /header/i.test(err.message))
        throw new Unauthenticated('That is not a bearer token (it holds characters HTTP headers do not allow).');
      throw new Error(`the API did not answer: ${err.message}`);
    }
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (res.status === 401) throw new Unauthenticated(`The API refused the token: ${errorText(json) || 'unauthenticated'}`);
    return { status: res.status, body: json };
  }

  function errorText(body) {
    const error = body && body.error;
    if (!error || typeof error !== 'object') return '';
    return [error.code, error.message].filter((s) => typeof s === 'string' && s).join(': ');
  }

  /** The body of a 200, or an Error naming the status and the API's message. */
  async function getJson(path) {
    const r = await api('GET', path);
    if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}${errorText(r.body) ? ` (${errorText(r.body)})` : ''}`);
    return r.body;
  }

  const runPath = (workflowId) => `/api/v1/runs/${encodeURIComponent(workflowId)}`;

  /** Each item's run detail, a few at a time; a failed one becomes { error }. */
  async function withDetails(rows) {
    const results = new Array(rows.length);
    let next = 0;
    const worker = async () => {
      while (next < rows.length) {
        const i = next++;
        try {
          results[i] = { row: rows[i], detail: await getJson(runPath(rows[i].workflow_id)) };
        } catch (err) {
          if (err instanceof Unauthenticated) throw err;
          results[i] = { row: rows[i], error: err.message };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DETAIL_CONCURRENCY, rows.length) }, worker));
    return results;
  }

  // ------------------------------------------------------------------------------------------
  // Rendering helpers: elements are built node by node and values are always text.

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function definitionList(rows) {
    return el(
      'dl',
      null,
      rows
        .filter(([, value]) => value !== undefined && value !== null && value !== '')
        .flatMap(([term, value]) => [el('dt', null, term), el('dd', null, value)]),
    );
  }

  function formatDuration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
    if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
    return `${sec}s`;
  }

  function formatTime(iso) {
    const t = Date.parse(iso);
    return Number.isFinite(t) ? new Date(t).toLocaleString() : String(iso);
  }

  /** A value that ticks: "12m 03s left", kept current by the clock below. */
  function countdown(deadlineIso) {
    const node = el('span', { class: 'countdown', dataset: { deadline: deadlineIso } });
    updateCountdown(node);
    return node;
  }

  function updateCountdown(node) {
    const deadline = Date.parse(node.dataset.deadline);
    if (!Number.isFinite(deadline)) {
      node.textContent = 'unknown';
      return;
    }
    const left = deadline - Date.now();
    node.textContent = left > 0 ? `${formatDuration(left)} left (until ${formatTime(node.dataset.deadline)})` : `timed out ${formatDuration(-left)} ago`;
    node.classList.toggle('urgent', left < 5 * 60_000);
  }

  function temporalLink(workflowId, runId) {
    if (!settings || !/^https?:\/\//i.test(settings.temporal_ui_url)) return null;
    let href = `${settings.temporal_ui_url}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
    if (runId) href += `/${encodeURIComponent(runId)}/history`;
    return el('a', { href, target: '_blank', rel: 'noopener noreferrer', class: 'temporal' }, 'Temporal UI');
  }

  /** Evidence as key/value rows; nested values as indented JSON. */
  function evidence(context) {
    if (!context || typeof context !== 'object' || Object.keys(context).length === 0) return el('p', { class: 'muted' }, 'no evidence attached');
    return el(
      'table',
      { class: 'evidence' },
      el(
        'tbody',
        null,
        Object.entries(context).map(([key, value]) =>
          el(
            'tr',
            null,
            el('th', { scope: 'row' }, key),
            el('td', null, value !== null && typeof value === 'object' ? el('pre', null, JSON.stringify(value, null, 2)) : String(value)),
          ),
        ),
      ),
    );
  }

  /** The plan hash, linked to GET /api/v1/plans/{hash}: the click fetches it with the token and shows it inline. */
  function planReference(hash) {
    const path = `/api/v1/plans/${encodeURIComponent(hash)}`;
    const shown = el('pre', { class: 'plan', hidden: true });
    const link = el(
      'a',
      {
        href: path,
        class: 'plan-link',
        onclick: async (event) => {
          event.preventDefault();
          if (!shown.hidden) {
            shown.hidden = true;
            return;
          }
          shown.textContent = 'loading…';
          shown.hidden = false;
          try {
            shown.textContent = JSON.stringify(await getJson(path), null, 2);
          } catch (err) {
            if (err instanceof Unauthenticated) return signOut(err.message);
            shown.textContent = err.message;
          }
        },
      },
      hash,
    );
    return el('span', null, link, shown);
  }

  /** Who is told if nobody decides in time, and when (or that they were). */
  function escalation(e) {
    if (!e || !e.group) return null;
    return e.notified_at ? `${e.group} notified at ${formatTime(e.notified_at)}` : `${e.group} at ${formatTime(e.escalate_at)} if nobody decides`;
  }

  const isApprover = () => Boolean(principal && principal.roles.some((r) => r === 'approver' || r === 'admin'));

  // ------------------------------------------------------------------------------------------
  // (1) Runs waiting on a human

  async function loadAwaiting() {
    const list = await getJson('/api/v1/runs?awaiting_approval=true&status=running');
    const runs = await withDetails(list.runs);
    // The listing is eventually consistent: a run it still shows may have been decided already.
    return runs.filter((r) => r.error || (r.detail.status && r.detail.status.pending_approval));
  }

  function renderAwaiting(runs) {
    const list = byId('awaiting-list');
    list.replaceChildren(
      ...(runs.length === 0 ? [el('p', { class: 'empty' }, 'Nothing is waiting on a human.')] : []),
      ...runs.map((r) => (r.error ? el('p', { class: 'error' }, `${r.row.workflow_id}: ${r.error}`) : approvalCard(r.row, r.detail))),
    );
  }

  function approvalCard(row, detail) {
    const status = detail.status;
    const pending = status.pending_approval;
    const target = status.target || {};
    const node = target.node_id || row.node_id;
    const host = target.host_name || row.host_name;
    const approvals = Array.isArray(pending.approvals) ? pending.approvals.filter((a) => a.decision === undefined || a.decision === 'approve') : null;
    const needed = typeof pending.min_approvals === 'number' ? pending.min_approvals : null;
    const forbidden = Array.isArray(pending.forbidden_approvers) ? pending.forbidden_approvers : [];
    const me = principal ? principal.name : '';
    const iAmForbidden = forbidden.includes(me);
    const iApproved = Boolean(approvals && approvals.some((a) => a.actor === me));

    const notices = [];
    if (iAmForbidden) {
      notices.push(
        status.requested_by === me
          ? 'You requested this run: you cannot approve it (two-person rule).'
          : 'You are listed as a forbidden approver of this run: you cannot approve it.',
      );
    }
    if (iApproved) notices.push('You already approved this request: it needs another approver.');
    if (!isApprover()) notices.push('Deciding needs the approver role.');

    const tally =
      approvals && needed !== null
        ? el('p', { class: 'tally' }, `${approvals.length} of ${needed} approvals`)
        : el('p', { class: 'tally muted' }, 'approvals so far: not reported by this API version (a single approval decides)');
    const approvalList =
      approvals && approvals.length > 0
        ? el(
            'ul',
            { class: 'approvals' },
            approvals.map((a) =>
              el('li', null, el('strong', null, a.actor), a.reason ? ` — ${a.reason}` : '', a.decided_at ? ` (${formatTime(a.decided_at)})` : ''),
            ),
          )
        : null;

    return el(
      'article',
      { class: 'card approval', dataset: { workflowId: row.workflow_id, approvalId: pending.id } },
      el(
        'header',
        null,
        el('h3', null, `${status.runbook || row.runbook || 'run'} · ${node || 'no node'}${host && host !== node ? ` (${host})` : ''}`),
        temporalLink(row.workflow_id, detail.run_id),
      ),
      el('p', { class: 'question' }, pending.question),
      definitionList([
        ['Workflow', row.workflow_id],
        ['Step', pending.kind ? `${pending.step} (${pending.kind})` : pending.step],
        ['Requested by', status.requested_by || 'unknown (started outside the API)'],
        ['Asked', pending.requested_at ? formatTime(pending.requested_at) : null],
        ['Time left', pending.timeout_at ? countdown(pending.timeout_at) : null],
        ['Disruption', pending.disruption || null],
        ['Escalation', escalation(pending.escalation)],
        ['Plan', pending.plan_hash ? planReference(pending.plan_hash) : null],
        ['Forbidden approvers', forbidden.length > 0 ? forbidden.join(', ') : null],
      ]),
      el('h4', null, 'Evidence'),
      evidence(pending.context),
      el('h4', null, 'Approvals'),
      tally,
      approvalList,
      notices.map((text) => el('p', { class: 'note' }, text)),
      decisionForm(row.workflow_id, pending, { canApprove: isApprover() && !iAmForbidden && !iApproved, canReject: isApprover() }),
    );
  }

  function decisionForm(workflowId, pending, { canApprove, canReject }) {
    const reasonId = `reason-${Math.random().toString(36).slice(2)}`;
    const result = el('p', { class: 'result', role: 'status' });
    const form = el(
      'form',
      { class: 'decide', autocomplete: 'off' },
      el('label', { for: reasonId }, 'Reason (recorded with your decision)'),
      el('textarea', { id: reasonId, name: 'reason', required: true, maxlength: 2000, rows: 2 }),
      el(
        'div',
        { class: 'buttons' },
        el('button', { type: 'submit', name: 'decision', value: 'approve', class: 'approve', disabled: !canApprove }, 'Approve'),
        el('button', { type: 'submit', name: 'decision', value: 'reject', class: 'reject', disabled: !canReject }, 'Reject'),
      ),
      result,
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const decision = event.submitter && event.submitter.value;
      if (decision !== 'approve' && decision !== 'reject') return;
      const reason = form.elements.reason.value.trim();
      if (!reason) {
        result.textContent = 'A reason is required.';
        result.className = 'result error';
        return;
      }
      // Send what was shown: the API refuses the decision if the request changed meanwhile.
      // An API without shown_hash (the older contract) also refuses approval_id, so both go together.
      const body = { decision, reason };
      if (pending.shown_hash) Object.assign(body, { approval_id: pending.id, shown_hash: pending.shown_hash });
      for (const b of form.querySelectorAll('button')) b.disabled = true;
      decisionsInFlight++;
      result.textContent = 'sending…';
      result.className = 'result';
      try {
        const answer = await api('POST', `${runPath(workflowId)}/approvals`, body);
        const ok = answer.status === 200 || answer.status === 202;
        const text = ok ? describeRecorded(answer, decision) : `${answer.status} ${errorText(answer.body) || 'the API refused the decision'}`;
        result.textContent = text;
        result.className = ok ? 'result ok' : 'result error';
        logDecision(workflowId, text, ok);
        if (ok) form.elements.reason.value = '';
        else {
          form.querySelector('button.approve').disabled = !canApprove;
          form.querySelector('button.reject').disabled = !canReject;
        }
      } catch (err) {
        if (err instanceof Unauthenticated) return signOut(err.message);
        result.textContent = err.message;
        result.className = 'result error';
      } finally {
        decisionsInFlight--;
      }
      // The run moves on (or waits for the next approver): show where it went.
      setTimeout(() => void refresh(), 1000);
    });
    return form;
  }

  /** "recorded: 1 of 2 approvals (alice)" from the API's answer; an older API answers 202 without a tally. */
  function describeRecorded(answer, decision) {
    const b = answer.body || {};
    if (answer.status === 202 || !Array.isArray(b.approvals)) return `sent: ${decision} (the API accepted it; this version does not report the tally)`;
    if (b.decision === 'reject' || b.state === 'rejected') return `recorded: rejected by ${b.actor}`;
    const approvers = b.approvals.filter((a) => a.decision === 'approve').map((a) => a.actor);
    const state = b.state === 'approved' ? 'approved: the run continues' : b.state === 'pending' ? 'waiting for another approver' : b.state;
    return `recorded: ${approvers.length} of ${b.min_approvals} approvals (${approvers.join(', ')})${state ? ` — ${state}` : ''}`;
  }

  function logDecision(workflowId, text, ok) {
    byId('decisions').prepend(
      el(
        'li',
        { class: ok ? 'ok' : 'error' },
        el('strong', null, workflowId),
        `: ${text}`,
        el('span', { class: 'muted' }, ` at ${new Date().toLocaleTimeString()}`),
      ),
    );
  }

  // ------------------------------------------------------------------------------------------
  // (2) Runs stuck in a phase, or blocked on a disruption budget

  /** When the run entered its current phase: the first step of that phase, else the end of the last step, else its start. */
  function phaseStartedAt(status, runStartedAt) {
    const steps = Array.isArray(status.steps) ? status.steps : [];
    const inPhase = steps.filter((s) => s.phase === status.phase).map((s) => Date.parse(s.started_at));
    if (inPhase.length > 0) return Math.min(...inPhase);
    const ends = steps.map((s) => Date.parse(s.ended_at || s.started_at)).filter(Number.isFinite);
    return ends.length > 0 ? Math.max(...ends) : Date.parse(runStartedAt);
  }

  async function loadStuck() {
    const list = await getJson('/api/v1/runs?status=running&limit=200');
    const runs = await withDetails(list.runs.filter((r) => !r.awaiting_approval));
    const now = Date.now();
    const stuck = [];
    for (const r of runs) {
      if (r.error) {
        stuck.push(r);
        continue;
      }
      const status = r.detail.status;
      if (!status || status.pending_approval) continue;
      const since = phaseStartedAt(status, r.detail.started_at);
      if (status.blocked_on || now - since >= STUCK_MINUTES * 60_000) stuck.push({ ...r, since });
    }
    return stuck;
  }

  /** A table of runs: a header row, then the given rows. */
  function runsTable(headers, rows) {
    return el(
      'table',
      { class: 'runs' },
      el(
        'thead',
        null,
        el(
          'tr',
          null,
          headers.map((h) => el('th', { scope: 'col' }, h)),
        ),
      ),
      el('tbody', null, rows),
    );
  }

  function renderStuck(runs) {
    byId('stuck-hint').textContent =
      `Running runs not waiting on a human whose current phase started over ${STUCK_MINUTES} minutes ago, or that wait for a disruption budget (change with ?stuck_minutes=).`;
    if (runs.length === 0) return byId('stuck-list').replaceChildren(el('p', { class: 'empty' }, 'No run is stuck.'));
    byId('stuck-list').replaceChildren(
      runsTable(
        ['Run', 'Node', 'Phase / step', 'In phase for', 'Why listed', ''],
        runs.map((r) => {
          if (r.error)
            return el(
              'tr',
              { dataset: { workflowId: r.row.workflow_id } },
              el('td', null, r.row.workflow_id),
              el('td', { colspan: 5, class: 'error' }, r.error),
            );
          const s = r.detail.status;
          const b = s.blocked_on;
          const why = b
            ? `blocked on budget ${b.scope}: cap ${b.cap}, held by ${(b.holders || []).join(', ') || 'nobody'}, ${b.waiting} waiting, since ${formatTime(b.since)}`
            : `no progress in phase ${s.phase} for over ${STUCK_MINUTES} minutes`;
          return el(
            'tr',
            { dataset: { workflowId: r.row.workflow_id } },
            el('td', null, el('div', null, s.runbook || r.row.runbook), el('div', { class: 'muted' }, r.row.workflow_id)),
            el('td', null, (s.target && s.target.node_id) || r.row.node_id || '—'),
            el('td', null, `${s.phase}${s.current_step ? ` / ${s.current_step}` : ''}`),
            el('td', null, formatDuration(Date.now() - r.since)),
            el('td', null, why),
            el('td', null, temporalLink(r.row.workflow_id, r.detail.run_id)),
          );
        }),
      ),
    );
  }

  // ------------------------------------------------------------------------------------------
  // (3) Recent outcomes

  async function loadRecent() {
    const lists = await Promise.all(CLOSED_STATUSES.map((s) => getJson(`/api/v1/runs?status=${s}&limit=${RECENT_LIMIT}`)));
    const closed = lists
      .flatMap((l) => l.runs)
      .sort((a, b) => Date.parse(b.closed_at) - Date.parse(a.closed_at))
      .slice(0, RECENT_LIMIT);
    // GET /runs/{id} describes the latest run of a workflow id: only that one's outcome can be read.
    const latest = new Map();
    for (const row of closed) if (!latest.has(row.workflow_id)) latest.set(row.workflow_id, row);
    const unknown = [...latest.values()].filter((row) => !closedOutcomes.has(row.run_id));
    for (const r of await withDetails(unknown)) {
      if (r.error) continue; // shown as unknown now, asked again on the next refresh
      if (r.detail.run_id === r.row.run_id) closedOutcomes.set(r.row.run_id, { outcome: r.detail.status && r.detail.status.outcome, status: r.detail.status });
    }
    return closed;
  }

  function renderRecent(closed) {
    if (closed.length === 0) return byId('recent-list').replaceChildren(el('p', { class: 'empty' }, 'No run has closed yet.'));
    byId('recent-list').replaceChildren(
      runsTable(
        ['Closed', 'Run', 'Node', 'Execution', 'Outcome', 'Requested by', ''],
        closed.map((row) => {
          const known = closedOutcomes.get(row.run_id);
          return el(
            'tr',
            { dataset: { workflowId: row.workflow_id, runId: row.run_id } },
            el('td', null, row.closed_at ? formatTime(row.closed_at) : '—'),
            el('td', null, el('div', null, row.runbook || '—'), el('div', { class: 'muted' }, row.workflow_id)),
            el('td', null, row.node_id || '—'),
            el('td', null, String(row.execution_status || '').toLowerCase()),
            el('td', { class: 'outcome' }, known ? known.outcome || '—' : 'unknown (a later run has this workflow id, or no answer yet)'),
            el('td', null, known && known.status ? known.status.requested_by || '—' : '—'),
            el('td', null, temporalLink(row.workflow_id, row.run_id)),
          );
        }),
      ),
    );
  }

  // ------------------------------------------------------------------------------------------
  // Signing in and out, refreshing

  function showLogin(message) {
    byId('inbox').hidden = true;
    byId('who').hidden = true;
    byId('login').hidden = false;
    const note = byId('login-message');
    note.textContent = message || '';
    note.hidden = !message;
    byId('token').focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    clearInterval(refreshTimer);
    refreshTimer = null;
    principal = null;
    for (const id of ['awaiting-list', 'stuck-list', 'recent-list', 'decisions']) byId(id).replaceChildren();
    closedOutcomes.clear();
    showLogin(message);
  }

  async function enter() {
    try {
      principal = await getJson('/api/v1/whoami');
      settings = await getJson('/api/v1/ui/settings').catch((err) => {
        if (err instanceof Unauthenticated) throw err;
        return null; // no links into Temporal, the rest still works
      });
    } catch (err) {
      if (err instanceof Unauthenticated) return signOut(err.message);
      return showLogin(`Could not sign in: ${err.message}`);
    }
    byId('login').hidden = true;
    byId('principal').textContent = principal.name;
    byId('roles').textContent = `(${principal.roles.join(', ')})`;
    byId('who').hidden = false;
    const roleNote = byId('role-note');
    roleNote.textContent = isApprover()
      ? ''
      : `You are ${principal.roles.join(', ')}: you can read the approvals here, but deciding one needs the approver role.`;
    roleNote.hidden = isApprover();
    byId('inbox').hidden = false;
    await refresh();
    refreshTimer = setInterval(() => void refresh(), REFRESH_SECONDS * 1000);
  }

  /** A reason being written or a decision being sent: replacing the cards now would lose it. */
  function awaitingBusy() {
    if (decisionsInFlight > 0) return true;
    return [...byId('awaiting-list').querySelectorAll('textarea')].some((t) => t.value.trim() !== '');
  }

  async function refresh() {
    if (refreshing || !principal) return;
    refreshing = true;
    try {
      const busy = awaitingBusy();
      byId('awaiting-paused').hidden = !busy;
      const [awaiting, stuck, recent] = await Promise.allSettled([busy ? Promise.resolve(null) : loadAwaiting(), loadStuck(), loadRecent()]);
      const refused = [awaiting, stuck, recent].find((r) => r.status === 'rejected' && r.reason instanceof Unauthenticated);
      if (refused) return signOut(refused.reason.message);
      if (!principal) return; // signed out while loading
      const problems = [];
      const show = (result, render, what) => {
        if (result.status === 'fulfilled') {
          if (result.value !== null) render(result.value);
        } else problems.push(`${what}: ${result.reason.message}`);
      };
      show(awaiting, renderAwaiting, 'waiting on a human');
      show(stuck, renderStuck, 'stuck runs');
      show(recent, renderRecent, 'recent outcomes');
      byId('problem').textContent = problems.join('; ');
      byId('problem').hidden = problems.length === 0;
      byId('status-line').textContent = `updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_SECONDS} s`;
    } finally {
      refreshing = false;
    }
  }

  function start() {
    byId('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = byId('token')
        .value.trim()
        .replace(/^Bearer\s+/i, '');
      byId('token').value = '';
      if (!token) return showLogin('Paste a token first.');
      sessionStorage.setItem(TOKEN_KEY, token);
      void enter();
    });
    byId('sign-out').addEventListener('click', () => signOut('Signed out.'));
    byId('refresh').addEventListener('click', () => void refresh());
    setInterval(() => document.querySelectorAll('.countdown').forEach(updateCountdown), 1000);
    if (sessionStorage.getItem(TOKEN_KEY)) void enter();
    else showLogin();
  }

  start();
})();
