// The admin page served at GET /ui: one self-contained HTML document with its
// script, no build step and no external assets. It asks for the admin token
// (kept in sessionStorage, so it is gone when the tab closes) and polls
// /v1/cluster, /v1/stats and /v1/broadcasts every 2 s, and each other
// member's counters through /v1/stats?node=<id>; rates are deltas of the
// /v1/stats counters between two polls. Text from the API is only ever set
// through textContent. (The script avoids backticks: this file holds it in a
// template literal.)
export const ADMIN_PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>longwire admin</title>
<style>
  :root { color-scheme: light; --fg: #1d2330; --muted: #6b7385; --line: #e3e6ec; --accent: #2b6cb0; --ok: #2f855a; --bad: #c53030; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f6f7f9; }
  header { display: flex; align-items: center; gap: 16px; padding: 12px 20px; background: #1d2330; color: #fff; }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  header .status { margin-left: auto; font-size: 12px; color: #c9cfdb; }
  header input { width: 260px; padding: 4px 8px; border-radius: 4px; border: 1px solid #4a5468; background: #2a3242; color: #fff; }
  header button { padding: 4px 10px; border-radius: 4px; border: 0; background: var(--accent); color: #fff; cursor: pointer; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 20px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; overflow-x: auto; }
  section.wide { grid-column: 1 / -1; }
  section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; white-space: nowrap; }
  th { font-weight: 600; color: var(--muted); font-size: 12px; }
  td.num, th.num { text-align: right; }
  .kpis { display: flex; gap: 24px; flex-wrap: wrap; }
  .kpi .v { font-size: 22px; font-weight: 600; }
  .kpi .l { font-size: 12px; color: var(--muted); }
  .bar { position: relative; height: 14px; background: #edf0f5; border-radius: 7px; overflow: hidden; min-width: 120px; }
  .bar > div { position: absolute; inset: 0 auto 0 0; background: var(--accent); }
  .bar.done > div { background: var(--ok); }
  .bar.failed > div { background: var(--bad); }
  .tag { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; background: #edf0f5; }
  .tag.leader { background: #fefcbf; }
  .ok { color: var(--ok); } .bad { color: var(--bad); }
  .empty { color: var(--muted); font-style: italic; }
  .error { color: var(--bad); }
</style>
</head>
<body>
<header>
  <h1>longwire</h1>
  <span id="node-name"></span>
  <form id="token-form">
    <input id="token" type="password" placeholder="admin token" autocomplete="off">
    <button type="submit">Use token</button>
  </form>
  <span class="status" id="status">paste the admin token to start</span>
</header>
<main>
  <section class="wide">
    <h2>Cluster</h2>
    <div class="kpis">
      <div class="kpi"><div class="v" id="leader">–</div><div class="l">leader</div></div>
      <div class="kpi"><div class="v" id="term">–</div><div class="l">term</div></div>
      <div class="kpi"><div class="v" id="member-count">–</div><div class="l">members</div></div>
    </div>
    <table id="members">
      <thead><tr><th>member</th><th>role</th><th>zone</th><th>api</th><th>gateway</th><th>health</th><th class="num">connections</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Traffic (per second, this node)</h2>
    <div class="kpis">
      <div class="kpi"><div class="v" id="total-connections">–</div><div class="l">connections</div></div>
      <div class="kpi"><div class="v" id="rate-push">–</div><div class="l">push messages/s</div></div>
      <div class="kpi"><div class="v" id="rate-deliver">–</div><div class="l">qos 1 deliveries/s</div></div>
      <div class="kpi"><div class="v" id="rate-frames-out">–</div><div class="l">frames out/s</div></div>
      <div class="kpi"><div class="v" id="rate-frames-in">–</div><div class="l">frames in/s</div></div>
    </div>
    <table id="apps">
      <thead><tr><th>app</th><th class="num">connections</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Broadcast jobs</h2>
    <table id="broadcasts">
      <thead><tr><th>app</th><th>job</th><th>state</th><th>progress</th><th class="num">delivered</th><th>started</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Leader changes (seen by this page)</h2>
    <table id="leader-changes">
      <thead><tr><th>seen at</th><th>leader</th><th class="num">term</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script>
(function () {
  'use strict';
  var REFRESH_MS = 2000;
  var TOKEN_KEY = 'longwire.adminToken';
  var CHANGES_KEY = 'longwire.leaderChanges';
  var CHANGES_MAX = 50;
  var previous = null;
  var timer = null;

  function $(id) { return document.getElementById(id); }
  function text(id, v) { $(id).textContent = String(v); }
  function cell(tr, v, cls) {
    var td = document.createElement('td');
    td.textContent = v === undefined || v === null ? '' : String(v);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function fill(tableId, rows, columns, emptyText) {
    var tbody = $(tableId).querySelector('tbody');
    tbody.textContent = '';
    if (rows.length === 0) {
      var tr = document.createElement('tr');
      var td = cell(tr, emptyText, 'empty');
      td.colSpan = columns;
      tbody.appendChild(tr);
      return [];
    }
    return rows.map(function (r) {
      var tr = document.createElement('tr');
      tbody.appendChild(tr);
      return tr;
    });
  }
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
  function getJson(path) {
    return fetch(path, { headers: { authorization: 'Bearer ' + token() }, cache: 'no-store' }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) {
          var msg = body && body.error ? body.error.code + ': ' + body.error.message : 'HTTP ' + r.status;
          throw new Error(path + ' ' + msg);
        }
        return body;
      });
    });
  }
  function sum(o) {
    var n = 0;
    for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) n += Number(o[k]) || 0;
    return n;
  }
  function rate(now, before, seconds) {
    if (before === null || seconds <= 0) return '–';
    var r = (now - before) / seconds;
    return r >= 100 ? Math.round(r).toString() : (Math.round(r * 10) / 10).toString();
  }
  function counters(s) {
    return {
      at: Date.parse(s.at),
      push: sum(s.pushes.messages),
      deliver: sum(s.deliveries.qos1),
      framesOut: s.framesOut,
      framesIn: s.framesIn,
    };
  }

  function leaderChanges() {
    try { return JSON.parse(sessionStorage.getItem(CHANGES_KEY) || '[]'); } catch (e) { return []; }
  }
  function noteLeader(c) {
    var list = leaderChanges();
    var last = list[0];
    if (!last || last.leader !== c.leader || last.term !== c.term) {
      list.unshift({ at: new Date().toISOString(), leader: c.leader, term: c.term });
      sessionStorage.setItem(CHANGES_KEY, JSON.stringify(list.slice(0, CHANGES_MAX)));
    }
    var rows = leaderChanges();
    fill('leader-changes', rows, 3, 'none seen yet').forEach(function (tr, i) {
      var r = rows[i];
      cell(tr, new Date(r.at).toLocaleTimeString());
      cell(tr, r.leader === null || r.leader === undefined ? '(none)' : r.leader);
      cell(tr, r.term, 'num');
    });
  }

  function render(cluster, stats, broadcasts, others) {
    text('node-name', 'node ' + stats.node);
    text('leader', cluster.leader === null || cluster.leader === undefined ? 'none' : cluster.leader);
    text('term', cluster.term);
    text('member-count', cluster.members.length);
    fill('members', cluster.members, 7, 'no members').forEach(function (tr, i) {
      var m = cluster.members[i];
      tr.setAttribute('data-member', m.id);
      var id = cell(tr, m.id + ' ');
      if (m.id === cluster.leader) {
        var t = document.createElement('span');
        t.className = 'tag leader';
        t.textContent = 'leader';
        id.appendChild(t);
      }
      cell(tr, m.role);
      cell(tr, m.zone);
      cell(tr, m.api);
      cell(tr, m.gateway);
      cell(tr, m.healthy ? 'healthy' : 'unhealthy', m.healthy ? 'ok' : 'bad');
      // Other members' counts come through this node; '?' when a member did not answer.
      var st = m.id === stats.node ? stats : others[m.id];
      cell(tr, st ? st.connections : '?', 'num connections');
    });

    text('total-connections', stats.connections);
    var now = counters(stats);
    var secs = previous === null ? 0 : (now.at - previous.at) / 1000;
    text('rate-push', rate(now.push, previous && previous.push, secs));
    text('rate-deliver', rate(now.deliver, previous && previous.deliver, secs));
    text('rate-frames-out', rate(now.framesOut, previous && previous.framesOut, secs));
    text('rate-frames-in', rate(now.framesIn, previous && previous.framesIn, secs));
    previous = now;

    var apps = Object.keys(stats.byApp).sort();
    fill('apps', apps, 2, 'no app has connections on this node').forEach(function (tr, i) {
      var a = apps[i];
      tr.setAttribute('data-app', a);
      cell(tr, a);
      cell(tr, stats.byApp[a], 'num');
    });

    var jobs = broadcasts.jobs;
    fill('broadcasts', jobs, 6, 'no broadcast jobs').forEach(function (tr, i) {
      var j = jobs[i];
      tr.setAttribute('data-job', j.job);
      cell(tr, j.app);
      cell(tr, j.job.slice(0, 8));
      cell(tr, j.state);
      var td = cell(tr, '');
      var bar = document.createElement('div');
      bar.className = 'bar ' + j.state;
      var fillDiv = document.createElement('div');
      var pct = j.targets > 0 ? Math.min(100, (100 * j.delivered) / j.targets) : (j.state === 'done' ? 100 : 0);
      fillDiv.style.width = pct.toFixed(1) + '%';
      bar.appendChild(fillDiv);
      bar.title = Math.round(pct) + '%';
      td.appendChild(bar);
      cell(tr, j.delivered + ' / ' + j.targets, 'num');
      cell(tr, new Date(j.startedAt).toLocaleTimeString());
    });

    noteLeader(cluster);
  }

  function refresh() {
    clearTimeout(timer);
    if (token() === '') return;
    Promise.all([getJson('/v1/cluster'), getJson('/v1/stats'), getJson('/v1/broadcasts')]).then(
      function (r) {
        var others = r[0].members.filter(function (m) { return m.id !== r[1].node; });
        return Promise.all(others.map(function (m) {
          return getJson('/v1/stats?node=' + encodeURIComponent(m.id)).catch(function () { return null; });
        })).then(function (answers) {
          var byId = {};
          others.forEach(function (m, i) { byId[m.id] = answers[i]; });
          return [r[0], r[1], r[2], byId];
        });
      }
    ).then(
      function (r) {
        render(r[0], r[1], r[2], r[3]);
        $('status').className = 'status';
        text('status', 'updated ' + new Date().toLocaleTimeString());
      },
      function (err) {
        $('status').className = 'status error';
        text('status', err.message);
      }
    ).then(function () { timer = setTimeout(refresh, REFRESH_MS); });
  }

  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var v = $('token').value.trim();
    if (v === '') return;
    sessionStorage.setItem(TOKEN_KEY, v);
    $('token').value = '';
    previous = null;
    refresh();
  });
  refresh();
})();
</script>
</body>
</html>
`;
