// The dashboard served at GET /: one page with its style and script inline, so it is inside the
// executable and works without internet. The script only ever sets textContent, never HTML.
// Kept free of template literals and of "${" so that it can live in this TypeScript string.

const style = `
:root { --bg: #f4f6f9; --card: #fff; --text: #1f2328; --muted: #656d76; --line: #d8dee4;
  --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --none: #8c959f; --hint: #fff8c5 }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --card: #161b22; --text: #e6edf3; --muted: #8d96a0; --line: #30363d;
    --pass: #3fb950; --warn: #d29922; --fail: #f85149; --none: #6e7681; --hint: #2d2a16 }
}
* { box-sizing: border-box }
[hidden] { display: none !important }
body { max-width: 1100px; margin: 0 auto; padding: 0 20px; background: var(--bg); color: var(--text); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif }
body > * { margin: 0 0 14px }
.bar { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; padding-top: 22px }
h1 { font-size: 22px; margin: 0 }
h2 { font-size: 17px; margin: 0 }
.muted { color: var(--muted) }
.box { background: var(--card); border: 1px solid var(--line); border-left: 6px solid var(--status, var(--line)); border-radius: 10px; padding: 12px 16px }
.pill { padding: 2px 12px; border-radius: 999px; color: #fff; font-weight: 600; font-size: 13px; white-space: nowrap; text-transform: uppercase; letter-spacing: .04em; background: var(--none) }
[data-status=none] { --status: var(--none) } [data-status=pass] { --status: var(--pass) } [data-status=warn] { --status: var(--warn) } [data-status=fail] { --status: var(--fail) }
.pill[data-status], .history span { background: var(--status, var(--none)) }
#problems { border-color: var(--fail); color: var(--fail); white-space: pre-line }
dl { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 6px 16px; margin: 0 }
dt { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em }
dd { margin: 0; font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: nowrap }
#demo dd { white-space: normal }
.flash { animation: flash 1.5s }
@keyframes flash { from { background: var(--hint) } }
#cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(400px, 100%), 1fr)); gap: 14px }
.card { display: flex; flex-direction: column; gap: 6px }
.card > p { margin: 0; overflow-wrap: anywhere }
.card > p:empty { display: none }
.title { display: flex; align-items: baseline; gap: 8px }
.latency, .bar .pill { margin-left: auto }
.hint { padding: 8px 10px; border-radius: 6px; background: var(--hint) }
.details { font-size: 13px }
.history { display: flex; gap: 3px; margin-top: auto; padding-top: 6px }
.history span { width: 10px; height: 14px; border-radius: 2px }
footer { padding-bottom: 30px; font-size: 13px }
a { color: inherit }
`

// The cards, [name, title, kind] per backend of the list, come first, as a constant.
const script = (cards: string) => `
'use strict'
const backends = ` + cards + `
const REFRESH_MS = 5000
const HISTORY = 20
const history = {}
let lastInstance
const $ = id => document.getElementById(id)
const text = (node, value) => { node.textContent = value == null ? '' : String(value) }
const clock = date => date.toLocaleTimeString()

function setStatus (node, status, label) {
  node.dataset.status = status
  if (label) text(node, label)
}

function duration (s) {
  if (s < 60) return s + ' s'
  if (s < 3600) return Math.floor(s / 60) + ' min'
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min'
  return Math.floor(s / 86400) + ' d ' + Math.floor(s % 86400 / 3600) + ' h'
}

// A few observed facts (server version, region, key schema); nested objects are left out.
function describe (details) {
  return Object.entries(details || {})
    .filter(([, value]) => value != null && (typeof value !== 'object' || Array.isArray(value)))
    .slice(0, 4).map(([key, value]) => key + ': ' + [].concat(value).join(', ')).join(' · ')
}

// What a card says: the message, and the hint. With an admin token set, the server tells
// anyone without it only pass or fail.
function explain (name, check) {
  if (!check) return ['no [' + name + '] section in config.toml', '']
  if (check.status === 'pass') return ['OK', '']
  if (!check.stage) return [check.status.toUpperCase(), 'the details need the admin token: open this page as /#token=<[server] admin_token>']
  return [check.status === 'fail' ? 'FAIL (' + check.stage + '): ' + check.output : check.output, check.hint ? 'hint: ' + check.hint : '']
}

function showCheck (name, check) {
  const card = $(name)
  const status = check ? check.status : 'none'
  const label = check ? status : 'not configured'
  setStatus(card, status)
  setStatus(card.querySelector('.pill'), status, label)
  text(card.querySelector('.latency'), check ? check.observedValue + ' ms' : '')
  const [message, hint] = explain(name, check)
  text(card.querySelector('.message'), message)
  text(card.querySelector('.hint'), hint)
  text(card.querySelector('.details'), check ? describe(check.details) : '')
  history[name].push({ status, title: clock(new Date()) + ' ' + label })
  if (history[name].length > HISTORY) history[name].shift()
  card.querySelector('.history').replaceChildren(...history[name].map(mark => {
    const span = document.createElement('span')
    setStatus(span, mark.status)
    span.title = mark.title
    return span
  }))
}

function showInstance (info) {
  text($('version'), 'v' + info.version)
  text($('uptime'), duration(info.uptime))
  $('problems').hidden = info.configProblems.length === 0
  text($('problems'), 'config.toml has problems; a backend section with problems is not checked until they are fixed (see /health):\\n' + info.configProblems.join('\\n'))
  const instance = info.instance
  $('identity').hidden = !instance
  text($('note'), instance ? '' : info.note)
  if (instance) {
    for (const key of ['instanceId', 'availabilityZone', 'instanceType', 'privateIp', 'amiId', 'region']) text($(key), instance[key] || '-')
    // Behind a load balancer another instance may answer each refresh: make that visible.
    if (lastInstance && lastInstance !== instance.instanceId) {
      $('instance').classList.remove('flash')
      void $('instance').offsetWidth
      $('instance').classList.add('flash')
    }
    lastInstance = instance.instanceId
  }
  const demo = info.demo
  $('demo').hidden = !demo
  if (demo) {
    setStatus($('demo'), demo.health.failing ? 'fail' : demo.cpu.running ? 'warn' : 'none')
    text($('demo-health'), demo.health.failing ? 'failing on purpose since ' + clock(new Date(demo.health.since)) + ' (POST /demo/health/recover)' : 'normal')
    text($('demo-cpu'), demo.cpu.running ? 'burning ' + demo.cpu.workers + ' cores, ' + demo.cpu.secondsLeft + ' s left (DELETE /demo/cpu)' : 'idle')
  }
}

// The token rides in the fragment, which no browser sends to a server or writes to its log.
const token = new URLSearchParams(location.hash.slice(1)).get('token')
const headers = Object.assign({ accept: 'application/json' }, token ? { authorization: 'Bearer ' + token } : {})
const getJson = path => fetch(path, { cache: 'no-store', headers }).then(res => res.json())

function refresh () {
  Promise.all([getJson('/checks'), getJson('/instance')]).then(([report, info]) => {
    const found = {}
    for (const [key, [check]] of Object.entries(report.checks || {})) found[key.split(':')[0]] = check
    const configBroken = info.configProblems.length > 0
    for (const [name] of backends) showCheck(name, found[name])
    if (configBroken) setStatus($('overall'), 'fail', 'config invalid')
    else if (Object.keys(found).length === 0) setStatus($('overall'), 'none', 'nothing configured')
    else setStatus($('overall'), report.status, 'overall: ' + report.status)
    showInstance(info)
    text($('updated'), 'updated ' + clock(new Date()))
  }).catch(err => {
    setStatus($('overall'), 'fail', 'no answer')
    text($('updated'), 'the server did not answer (' + err.message + '); retrying')
  }).finally(() => setTimeout(refresh, REFRESH_MS))
}

for (const [name, title, kind] of backends) {
  const card = $('card').content.firstElementChild.cloneNode(true)
  card.id = name
  text(card.querySelector('h2'), title)
  text(card.querySelector('.kind'), kind)
  history[name] = []
  $('cards').append(card)
}
refresh()
`

// The page for these cards, with its style and script for the Content-Security-Policy hashes.
export function dashboardPage (cards: Array<[name: string, title: string, kind: string]>) {
  const code = script(JSON.stringify(cards))
  return { style, script: code, html: html(code) }
}

const html = (script: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>suaicloudapp</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>
<body>
<header class="bar">
  <h1>suaicloudapp</h1>
  <span class="muted"><span id="version"></span> · up <span id="uptime">-</span></span>
  <span id="overall" class="pill">loading</span>
</header>
<div id="problems" class="box" hidden></div>
<div id="instance" class="box">
  <dl id="identity" hidden>
    <div><dt>Instance</dt><dd id="instanceId"></dd></div>
    <div><dt>Availability zone</dt><dd id="availabilityZone"></dd></div>
    <div><dt>Type</dt><dd id="instanceType"></dd></div>
    <div><dt>Private IP</dt><dd id="privateIp"></dd></div>
    <div><dt>AMI</dt><dd id="amiId"></dd></div>
    <div><dt>Region</dt><dd id="region"></dd></div>
  </dl>
  <span id="note" class="muted">looking up the instance…</span>
</div>
<div id="demo" class="box" hidden>
  <dl>
    <div><dt>Demo: health</dt><dd id="demo-health"></dd></div>
    <div><dt>Demo: CPU</dt><dd id="demo-cpu"></dd></div>
  </dl>
</div>
<main id="cards"></main>
<template id="card">
  <section class="card box">
    <div class="title"><h2></h2><span class="kind muted"></span><span class="latency muted"></span><span class="pill"></span></div>
    <p class="message"></p>
    <p class="hint"></p>
    <p class="details muted"></p>
    <div class="history" title="the last 20 results, oldest first"></div>
  </section>
</template>
<footer class="muted">
  <span id="updated"></span> · refreshes every 5 s ·
  JSON: <a href="/checks">/checks</a> · <a href="/instance">/instance</a> · <a href="/health">/health</a> · <a href="/logs">/logs</a>
</footer>
<script>${script}</script>
</body>
</html>
`
