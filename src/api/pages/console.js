// The supervisor's console: queues, calls, monitoring sessions and agents, live, with the
// actions the API offers on them. Every action is one API request; a refusal (a problem
// details document) is shown at the top of the page as the API worded it.

import {
  api, ApiError, SignedOut, duration, el, debounce, patchRows, percent, serverNow, signInThen,
} from './common.js';
import { runLive } from './live.js';

const REFRESH_MS = 5000;
const STATS_PROBE_MS = 60000;
const PHONE_KEY = 'switchboard.console.phone';

/** The "Set state" menu's choice per agent, not yet applied. */
const chosen = new Map();

const state = {
  queues: [],
  agents: [],
  agentsAt: 0,
  calls: [],
  monitors: [],
  pauseReasons: [],
  stats: null,
  agentStats: null,
  statsMissingAt: null,
};

function show(text, kind) {
  const message = document.getElementById('message');
  message.textContent = text;
  message.dataset.kind = kind;
  message.hidden = !text;
}

/** Runs an action; shows what it did, or the API's problem. */
async function act(what, method, path, body) {
  try {
    await api(method, path, body);
    show(`${what}: done.`, 'ok');
  } catch (e) {
    if (e instanceof SignedOut) {
      return;
    }
    const title = e instanceof ApiError && e.problem.title ? `${e.problem.title}: ` : '';
    show(`${what} failed: ${title}${e.message}`, 'error');
  }
  refresh();
}

async function optional(path) {
  try {
    return await api('GET', path);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 403)) {
      return null;
    }
    throw e;
  }
}

async function refresh() {
  try {
    const [queues, agents, calls, monitors] = await Promise.all([
      api('GET', '/v1/queues'),
      api('GET', '/v1/agents'),
      api('GET', '/v1/calls?limit=1'),
      optional('/v1/monitors'),
    ]);
    state.queues = queues.queues;
    state.agents = agents.agents;
    state.agentsAt = serverNow();
    state.calls = calls.active;
    state.monitors = (monitors && (monitors.monitors || monitors.sessions)) || [];
    if (state.statsMissingAt === null || serverNow() - state.statsMissingAt > STATS_PROBE_MS) {
      state.stats = await optional('/v1/stats/queues');
      state.agentStats = state.stats ? await optional('/v1/stats/agents') : null;
      state.statsMissingAt = state.stats ? null : serverNow();
    }
  } catch (e) {
    if (!(e instanceof ApiError)) {
      return;
    }
    show(`Cannot read the controller: ${e.message}`, 'error');
  }
  render();
}

/** A modal form: `fields` are `{name, label, options?: [[value, text]], value?}`. */
function ask(title, fields) {
  const dialog = document.getElementById('dialog');
  document.getElementById('dialog-title').textContent = title;
  const inputs = fields.map((f) => {
    const input = f.options
      ? el('select', { name: f.name }, f.options.map(([value, text]) => el('option', { value }, text)))
      : el('input', { name: f.name, type: 'text', value: f.value || '', required: true });
    if (f.options && f.value) {
      input.value = f.value;
    }
    return el('label', {}, f.label, input);
  });
  document.getElementById('dialog-fields').replaceChildren(...inputs);
  return new Promise((resolve) => {
    const form = document.getElementById('dialog-form');
    const cancel = document.getElementById('dialog-cancel');
    const done = (value) => {
      form.onsubmit = null;
      cancel.onclick = null;
      dialog.close();
      resolve(value);
    };
    form.onsubmit = (event) => {
      event.preventDefault();
      const values = {};
      for (const f of fields) {
        values[f.name] = form.elements[f.name].value.trim();
      }
      done(values);
    };
    cancel.onclick = () => done(null);
    dialog.showModal();
  });
}

function queueOptions() {
  return state.queues.map((q) => [q.id, `${q.name} (${q.id})`]);
}

function phone() {
  return document.getElementById('phone').value.trim();
}

async function transfer(call) {
  const values = await ask(`Transfer ${call.caller_number} to a queue`, [
    { name: 'queue', label: 'Queue', options: queueOptions() },
  ]);
  if (values) {
    act('Transfer', 'POST', `/v1/calls/${call.id}/transfer`, { to: 'queue', queue: values.queue });
  }
}

async function move(call) {
  const options = queueOptions().filter(([id]) => id !== call.queue);
  const values = await ask(`Move ${call.caller_number} to another queue`, [
    { name: 'queue', label: 'Queue', options },
  ]);
  if (values) {
    act('Move', 'POST', `/v1/calls/${call.id}/move`, { queue: values.queue });
  }
}

async function remove(call) {
  const values = await ask(`Take ${call.caller_number} out of the queue`, [
    {
      name: 'to',
      label: 'To (hangup, extension:<number>, voicemail:<box>@<domain>)',
      value: 'hangup',
    },
  ]);
  if (values) {
    act('Remove', 'POST', `/v1/calls/${call.id}/remove`, { to: values.to });
  }
}

async function monitor(call, mode) {
  let dial = phone();
  if (!dial) {
    const values = await ask('Your phone, to listen on', [
      { name: 'phone', label: 'Dial string (user/1900)', value: '' },
    ]);
    if (!values) {
      return;
    }
    dial = values.phone;
    document.getElementById('phone').value = dial;
    localStorage.setItem(PHONE_KEY, dial);
  }
  act(`Monitor (${mode})`, 'POST', `/v1/calls/${call.id}/monitor`, { mode, phone: dial });
}

function button(text, action, onClick) {
  const b = el('button', { type: 'button', 'data-action': action }, text);
  b.addEventListener('click', onClick);
  return b;
}

function callActions(call) {
  const actions = [];
  if (call.state === 'waiting') {
    actions.push(button('Move…', 'move', () => move(call)));
    actions.push(button('Remove…', 'remove', () => remove(call)));
  }
  if (call.state === 'bridged') {
    actions.push(button('Transfer…', 'transfer', () => transfer(call)));
    for (const mode of ['listen', 'whisper', 'barge']) {
      actions.push(button(mode, mode, () => monitor(call, mode)));
    }
  }
  actions.push(
    button('Hang up', 'hangup', () => act('Hang up', 'POST', `/v1/calls/${call.id}/hangup`, {})),
  );
  return actions;
}

/** The choices of the "Set state" menu: available, each pause reason, logged out. */
function stateOptions() {
  const options = [['available', 'Available']];
  if (state.pauseReasons.length === 0) {
    options.push(['paused:', 'Paused…']);
  }
  for (const r of state.pauseReasons) {
    options.push([`paused:${r.code}`, `Paused: ${r.name}`]);
  }
  options.push(['logged_out', 'Logged out']);
  return options;
}

async function setState(agent, choice) {
  let body = { state: choice };
  if (choice.startsWith('paused:')) {
    let reason = choice.slice('paused:'.length);
    if (!reason) {
      const values = await ask(`Pause ${agent.name}`, [{ name: 'reason', label: 'Reason code' }]);
      if (!values) {
        return;
      }
      reason = values.reason;
    }
    body = { state: 'paused', reason };
  }
  act(`${agent.name}: ${body.state}`, 'PUT', `/v1/agents/${encodeURIComponent(agent.id)}/state`, body);
}

/** The agent's numbers for today, when the controller has the live statistics. */
function agentToday(id) {
  const entry = state.agentStats && state.agentStats.agents.find((a) => a.agent === id);
  return entry ? entry.today : null;
}

function agentRow(agent, now) {
  const select = el(
    'select',
    { 'data-action': 'state', 'aria-label': `State for ${agent.name}` },
    stateOptions().map(([value, text]) => el('option', { value }, text)),
  );
  // The choice outlives the row, which is rebuilt every second.
  if (chosen.has(agent.id)) {
    select.value = chosen.get(agent.id);
  }
  select.addEventListener('change', () => chosen.set(agent.id, select.value));
  const set = button('Set', 'set-state', () => setState(agent, select.value));
  const inState = agent.time_in_state_ms + Math.max(0, now - state.agentsAt);
  const pending = agent.after_call
    ? `${agent.after_call.status}${agent.after_call.reason ? ` (${agent.after_call.reason})` : ''}`
    : '';
  const call = agent.call ? state.calls.find((c) => c.id === agent.call) : null;
  const today = agentToday(agent.id);
  return el(
    'tr',
    { 'data-agent': agent.id, 'data-key': agent.id },
    el('td', {}, `${agent.name} (${agent.id})`),
    el('td', { class: `status ${agent.status}`, 'data-field': 'status' }, agent.status.replace('_', ' ')),
    el('td', { 'data-field': 'time-in-state' }, duration(inState)),
    el('td', {}, agent.reason || ''),
    el('td', { 'data-field': 'pending' }, pending),
    el('td', {}, call ? `${call.caller_number} (${call.queue})` : agent.call || ''),
    el('td', { 'data-field': 'handled' }, today ? today.handled : agent.calls_answered),
    el('td', {}, percent(today ? today.occupancy_percent : null)),
    el('td', { 'data-sig': stateOptions().map(([value]) => value).join(',') }, select, set),
  );
}

function render() {
  const now = serverNow();
  const stats = state.stats;
  patchRows(
    document.querySelector('#queues tbody'),
    state.queues.map((q) => {
      const s = stats && stats.queues.find((x) => x.queue === q.id);
      const longest = q.oldest_wait_since ? now - q.oldest_wait_since : null;
      return el(
        'tr',
        { 'data-queue': q.id, 'data-key': q.id },
        el('td', {}, q.name),
        el('td', { 'data-field': 'waiting' }, s ? s.waiting : q.waiting),
        el('td', {}, duration(longest)),
        el('td', {}, percent(s && s.today ? s.today.service_level_percent : null)),
        el('td', {}, s ? s.agents.available : q.agents_available),
        el('td', {}, s ? s.agents.logged_in : q.agents_logged_in),
        el('td', { class: q.alarms.length ? 'alarm' : '' }, q.alarms.join(', ')),
      );
    }),
  );
  patchRows(
    document.querySelector('#calls tbody'),
    state.calls.map((c) =>
      el(
        'tr',
        { 'data-call': c.id, 'data-key': c.id },
        el('td', {}, `${c.caller_name} <${c.caller_number}>`),
        el('td', {}, c.queue),
        el('td', { 'data-field': 'state' }, c.state),
        el('td', {}, c.agent || ''),
        el('td', {}, duration(now - c.entered_at)),
        el('td', { class: 'actions', 'data-sig': `${c.state} ${c.queue}` }, callActions(c)),
      ),
    ),
  );
  patchRows(
    document.querySelector('#monitors tbody'),
    state.monitors.map((m) =>
      el(
        'tr',
        { 'data-monitor': m.id, 'data-key': m.id },
        el('td', {}, m.call),
        el('td', {}, m.agent),
        el('td', {}, m.mode),
        el('td', {}, m.phone),
        el(
          'td',
          { class: 'actions', 'data-sig': m.mode },
          ['listen', 'whisper', 'barge']
            .filter((mode) => mode !== m.mode)
            .map((mode) =>
              button(mode, mode, () => act(`Monitor: ${mode}`, 'PATCH', `/v1/monitors/${m.id}`, { mode })),
            ),
          button('End', 'end', () => act('End monitoring', 'DELETE', `/v1/monitors/${m.id}`)),
        ),
      ),
    ),
  );
  patchRows(
    document.querySelector('#agents tbody'),
    state.agents.map((a) => agentRow(a, now)),
  );
  document.getElementById('clock').textContent = new Date(now).toLocaleTimeString();
}

function start() {
  const saved = localStorage.getItem(PHONE_KEY);
  const input = document.getElementById('phone');
  if (saved) {
    input.value = saved;
  }
  input.addEventListener('change', () => localStorage.setItem(PHONE_KEY, input.value.trim()));
  optional('/v1/pause-reasons').then(
    (reasons) => {
      state.pauseReasons = (reasons && reasons.pause_reasons) || [];
      render();
    },
    () => {},
  );
  const later = debounce(refresh, 150);
  return runLive((event) => {
    if (event.event === 'snapshot') {
      const data = event.data.data;
      state.queues = data.queues;
      state.agents = data.agents;
      state.agentsAt = serverNow();
      state.calls = data.calls;
      render();
    } else if (event.event === 'queue.stats' || event.event === 'agent.stats') {
      // The periodic figures: replace the entry they are about (the entry itself, or wrapped
      // like the other events' bodies).
      const entry = event.data.today ? event.data : event.data.data;
      const list = event.event === 'queue.stats' ? state.stats && state.stats.queues
        : state.agentStats && state.agentStats.agents;
      const key = event.event === 'queue.stats' ? 'queue' : 'agent';
      const i = list && entry ? list.findIndex((x) => x[key] === entry[key]) : -1;
      if (i >= 0) {
        list[i] = entry;
      }
    } else {
      later();
    }
  }, refresh, render, REFRESH_MS);
}

signInThen('/v1/monitors', start);
