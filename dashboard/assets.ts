/**
 * The dashboard's one stylesheet and one script, served from /static (the CSP allows scripts and styles from our
 * own origin only, never inline). Kept as strings so the compiled package needs no asset copying.
 *
 * The script is progressive enhancement: every page works without it. It (1) follows a running job over
 * server-sent events and reloads the page when the job finishes, (2) shows only the fields of the chosen job kind
 * on the Submit page, and (3) updates the privacy-cost line as ε, δ, ρ or the secure sum change. It writes text only
 * (`textContent`), never markup.
 */

export const DASHBOARD_CSS = `
:root { --fg: #1b1b1b; --muted: #4a4a4a; --accent: #0b5cad; --bg: #ffffff; --line: #c8c8c8; --bad: #a4000f; --ok: #0a6b2e; --warn: #7a4b00; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus, textarea:focus, summary:focus { outline: 3px solid #f2a900; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 16px; padding: 8px 20px; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; font-size: 18px; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px; margin: 0; padding: 0; }
nav a { display: inline-block; padding: 6px 10px; text-decoration: none; border-radius: 4px; }
nav a[aria-current="page"] { background: var(--accent); color: #fff; }
header .who { margin-left: auto; color: var(--muted); }
header form.signout { margin: 0; }
main { padding: 16px 20px 40px; max-width: 1200px; }
h1 { font-size: 22px; margin: 8px 0 12px; } h2 { font-size: 18px; margin: 20px 0 8px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state-succeeded { color: var(--ok); font-weight: 600; } .state-failed { color: var(--bad); font-weight: 600; }
.state-running, .state-queued { color: var(--warn); font-weight: 600; }
.error { color: var(--bad); border: 1px solid var(--bad); padding: 8px; }
.note { color: var(--muted); }
.chart { margin: 12px 0 24px; overflow-x: auto; } .chart svg { max-width: 100%; height: auto; }
form .field { margin: 8px 0; } form label { display: block; font-weight: 600; }
form fieldset { border: 1px solid var(--line); margin: 12px 0; padding: 8px 12px; }
input, select, textarea, button { font: inherit; padding: 4px 6px; }
button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: 6px 14px; cursor: pointer; }
.cost { border-left: 4px solid var(--accent); padding: 6px 10px; background: #f3f7fc; }
.hidden { display: none; }
pre { background: #f5f5f5; padding: 8px; overflow-x: auto; }
ol.events { max-height: 260px; overflow-y: auto; }
`;

export const DASHBOARD_JS = `'use strict';
(function () {
  function follow(main) {
    var id = main.getAttribute('data-job-id');
    if (!id || main.getAttribute('data-job-state') === 'succeeded' || main.getAttribute('data-job-state') === 'failed') return;
    var list = document.getElementById('events');
    var state = document.getElementById('job-state');
    var es = new EventSource('/jobs/' + encodeURIComponent(id) + '/events');
    es.addEventListener('job', function (ev) {
      var e = JSON.parse(ev.data);
      if (list) {
        var li = document.createElement('li');
        li.textContent = new Date(e.atMs).toISOString() + '  ' + e.type + (e.agent ? ' (' + e.agent + ')' : '') + (e.message ? ': ' + e.message : '');
        list.appendChild(li);
      }
      if (state && e.type !== 'finished') { state.textContent = 'running'; state.className = 'state-running'; }
    });
    es.addEventListener('finished', function () { es.close(); window.location.reload(); });
    es.addEventListener('error', function () { if (es.readyState === 2 && state) state.textContent += ' (live updates stopped: reload the page)'; });
  }
  function kinds(form) {
    var radios = form.querySelectorAll('input[name="kind"]');
    function show() {
      var chosen = form.querySelector('input[name="kind"]:checked');
      var kind = chosen ? chosen.value : 'aggregate';
      form.querySelectorAll('fieldset[data-kind]').forEach(function (fs) {
        var on = fs.getAttribute('data-kind') === kind;
        fs.classList.toggle('hidden', !on);
        fs.disabled = !on;
      });
    }
    radios.forEach(function (r) { r.addEventListener('change', show); });
    show();
  }
  function cost(form) {
    var out = document.getElementById('cost-estimate');
    if (!out) return;
    function num(name) { var el = form.elements.namedItem(name); var v = el && el.value ? Number(el.value) : NaN; return v; }
    function update() {
      var mode = form.elements.namedItem('mode').value;
      var sec = form.elements.namedItem('secure') ? form.elements.namedItem('secure').value : '';
      var how = sec === 'secagg' ? ' Secure aggregation: the coordinator sees only the masked sum.' : '';
      if (sec === 'secagg' && mode !== 'none' && mode !== 'distributed-dp') { out.textContent = 'Secure aggregation works with mode none or distributed DP.'; return; }
      if (sec === '' && mode === 'distributed-dp') { out.textContent = 'Distributed DP needs secure aggregation (secagg).'; return; }
      if (mode === 'none') { out.textContent = 'Privacy cost: none (exact aggregates; small cells withheld at each agent).' + how; return; }
      var eps = num('epsilon'), delta = num('delta'), rho = num('rho');
      if (eps > 0) { out.textContent = 'Privacy cost: ε = ' + eps + (delta > 0 ? ', δ = ' + delta : '') + ' charged to the population of the product, before any agent computes.' + how; return; }
      if (rho > 0) {
        var d = delta > 0 ? delta : 1e-6;
        var e = rho + 2 * Math.sqrt(rho * Math.log(1 / d));
        out.textContent = 'Privacy cost: ρ = ' + rho + ' (zCDP), at most ε ≈ ' + e.toPrecision(3) + ' at δ = ' + d + '. Preview for the exact charge.' + how;
        return;
      }
      out.textContent = 'Privacy cost: enter ε (or ρ) for a DP mode.';
    }
    form.addEventListener('input', update);
    form.addEventListener('change', update);
    update();
  }
  document.addEventListener('DOMContentLoaded', function () {
    var main = document.querySelector('main[data-job-id]');
    if (main) follow(main);
    var form = document.getElementById('submit-form');
    if (form) { kinds(form); cost(form); }
  });
})();
`;
