// The wallboard: one tile per queue, sized so a dozen fit a 1920x1080 screen without
// scrolling, coloured by the queue's thresholds. Numbers come from `GET /v1/stats/queues`
// (waiting, longest wait, service level, agents, staffing) and, on a controller without it,
// from `GET /v1/queues` (no service level: shown as "—"). They are fetched again on every
// event of the live stream and every few seconds; the longest wait ticks in between.

import { api, ApiError, duration, el, debounce, percent, serverNow, signInThen } from './common.js';
import { runLive } from './live.js';

const REFRESH_MS = 5000;
/** How often a controller without the live statistics is asked again. */
const STATS_PROBE_MS = 60000;
/** Amber from this share of a waiting or longest-wait threshold (see docs/supervisors.md). */
const NEAR_SHARE = 0.8;
/** Amber while the service level is this many points or fewer above its threshold. */
const NEAR_POINTS = 5;

const state = {
  queues: [],
  queuesAt: 0,
  stats: null,
  statsMissingAt: null,
};

/** `green`, `amber` or `red` for a count or wait that must stay at or under `limit`. */
export function levelAtMost(value, limit, alarm) {
  if (alarm || (limit !== null && limit !== undefined && value > limit)) {
    return 'red';
  }
  if (limit !== null && limit !== undefined && value > 0 && value >= limit * NEAR_SHARE) {
    return 'amber';
  }
  return 'green';
}

/** `green`, `amber` or `red` for a service level that must stay at or over `limit`. */
export function levelAtLeast(value, limit, alarm) {
  if (alarm) {
    return 'red';
  }
  if (value === null || value === undefined) {
    return 'none';
  }
  if (limit === null || limit === undefined) {
    return 'green';
  }
  if (value < limit) {
    return 'red';
  }
  return value <= limit + NEAR_POINTS ? 'amber' : 'green';
}

async function refresh() {
  try {
    const queues = await api('GET', '/v1/queues');
    state.queues = queues.queues;
    state.queuesAt = serverNow();
    await refreshStats();
  } catch (e) {
    if (!(e instanceof ApiError)) {
      return;
    }
  }
  render();
}

async function refreshStats() {
  if (state.statsMissingAt !== null && serverNow() - state.statsMissingAt < STATS_PROBE_MS) {
    return;
  }
  try {
    state.stats = await api('GET', '/v1/stats/queues');
    state.statsMissingAt = null;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 403)) {
      state.stats = null;
      state.statsMissingAt = serverNow();
    } else {
      throw e;
    }
  }
}

/** One queue's figures, from the statistics when there are any, else from the queue view. */
export function figures(queue, stats, now) {
  const s = stats && stats.queues.find((q) => q.queue === queue.id);
  const waiting = s ? s.waiting : queue.waiting;
  let longest = null;
  if (waiting > 0) {
    if (queue.oldest_wait_since) {
      longest = now - queue.oldest_wait_since;
    } else if (s && s.longest_wait_ms !== null) {
      longest = s.longest_wait_ms + Math.max(0, now - stats.at);
    }
  }
  const thresholds = (s && s.thresholds) || {};
  const alarms = (s && s.alarms) || queue.alarms || [];
  return {
    id: queue.id,
    name: queue.name,
    waiting,
    longest,
    serviceLevel: s && s.today ? s.today.service_level_percent : null,
    windowServiceLevel: s && s.window ? s.window.service_level_percent : null,
    available: s ? s.agents.available : queue.agents_available,
    loggedIn: s ? s.agents.logged_in : queue.agents_logged_in,
    staffing: s ? s.staffing : null,
    levels: {
      waiting: levelAtMost(waiting, thresholds.waiting, alarms.includes('waiting')),
      longest: levelAtMost(longest || 0, thresholds.longest_wait_ms, alarms.includes('longest_wait')),
      serviceLevel: levelAtLeast(
        s && s.today ? s.today.service_level_percent : null,
        thresholds.service_level_percent,
        alarms.includes('service_level'),
      ),
    },
  };
}

function metric(name, value, label, level) {
  return el(
    'div',
    { class: `metric ${name}`, 'data-metric': name, 'data-level': level },
    el('span', { class: 'value' }, value),
    el('span', { class: 'label' }, label),
  );
}

function tile(f) {
  const staffing = f.staffing
    ? el(
        'p',
        {
          class: 'staffing',
          'data-metric': 'staffing',
          'data-level': f.staffing.needed_now > f.staffing.logged_in ? 'red' : 'green',
        },
        `needed now: ${f.staffing.needed_now}, logged in: ${f.staffing.logged_in}`,
      )
    : el('p', { class: 'staffing muted' }, `logged in: ${f.loggedIn}`);
  const window = f.windowServiceLevel === null || f.windowServiceLevel === undefined
    ? ''
    : ` (last window ${percent(f.windowServiceLevel)})`;
  return el(
    'article',
    { class: 'tile', 'data-queue': f.id },
    el('h2', {}, f.name),
    el(
      'div',
      { class: 'metrics' },
      metric('waiting', f.waiting, 'waiting', f.levels.waiting),
      metric('longest', duration(f.longest === null ? 0 : f.longest), 'longest wait', f.levels.longest),
      metric('service-level', percent(f.serviceLevel), `service level today${window}`, f.levels.serviceLevel),
      metric('available', f.available, 'agents available', f.available > 0 ? 'green' : 'none'),
    ),
    staffing,
  );
}

/** The tiles' shape, width over height, that their four figures read best in. */
const TILE_ASPECT = 1.5;

/**
 * The number of columns that gives `count` tiles in a `width` x `height` board the largest
 * tile of the shape `TILE_ASPECT` (so the figures are as large as they can be).
 */
export function bestColumns(count, width, height) {
  let best = 1;
  let bestSize = -1;
  for (let columns = 1; columns <= count; columns += 1) {
    const rows = Math.ceil(count / columns);
    const size = Math.min(width / columns / TILE_ASPECT, height / rows);
    if (size > bestSize) {
      best = columns;
      bestSize = size;
    }
  }
  return best;
}

function render() {
  const now = serverNow();
  const board = document.getElementById('board');
  const tiles = state.queues.map((q) => tile(figures(q, state.stats, now)));
  const columns = bestColumns(Math.max(tiles.length, 1), board.clientWidth, board.clientHeight);
  board.style.setProperty('--columns', String(columns));
  board.style.setProperty('--rows', String(Math.ceil(Math.max(tiles.length, 1) / columns)));
  if (tiles.length === 0) {
    tiles.push(el('p', { class: 'empty' }, 'No queues.'));
  }
  board.replaceChildren(...tiles);
  document.getElementById('clock').textContent = new Date(now).toLocaleTimeString();
}

function start() {
  const later = debounce(refresh, 150);
  return runLive((event) => {
    if (event.event === 'snapshot') {
      state.queues = event.data.data.queues;
      state.queuesAt = serverNow();
      render();
      refreshStats().then(render, () => {});
    } else if (event.event === 'queue.stats' && state.stats) {
      // The entry itself, or wrapped like the other events' bodies.
      const entry = event.data.queue ? event.data : event.data.data;
      const i = state.stats.queues.findIndex((q) => entry && q.queue === entry.queue);
      if (i >= 0) {
        state.stats.queues[i] = entry;
        render();
      }
    } else {
      later();
    }
  }, refresh, render, REFRESH_MS);
}

signInThen('/v1/queues', start);
