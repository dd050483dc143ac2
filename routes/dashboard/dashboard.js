// @ts-check
// The dashboard's script (GET /dashboard.js). It learns the backends from /instance, then asks
// /checks for each card on its own, so a card shows its result as soon as its own check
// answers while a slow one still says "checking…". It only ever sets textContent, never HTML:
// a check message is text from a backend.

/** @typedef {'pass' | 'warn' | 'fail'} Status */
/** @typedef {{ time: string, status: Status, stage?: string, durationMs: number }} HistoryEntry */
/**
 * @typedef {{ status: Status, observedValue: number, output?: string, stage?: string, hint?: string,
 *   details?: Record<string, unknown>, history?: HistoryEntry[] }} CheckEntry
 */
/**
 * @typedef {{ id: string, availabilityZone: string | null, privateIp: string | null, version: string, ageMs: number,
 *   self?: boolean, backends: Record<string, { status: Status, stage: string, durationMs: number }> }} FleetInstance
 */
/**
 * @typedef {{ source: { stores: string[], at: string, problems: string[], note?: string }, intervalMs: number,
 *   verdict: { summary: string[] }, zones: Array<{ zone: string | null, instances: FleetInstance[] }> }} FleetView
 */
/** @typedef {{ name: string, title: string, kind: string, state: 'configured' | 'invalid' | 'not_configured' }} BackendInfo */
/**
 * @typedef {{ version: string, uptime: number, note?: string, configProblems: string[], backends: BackendInfo[],
 *   instance: Record<string, string> | null,
 *   network: { vpcId: string, subnetId: string, subnetCidr: string | null, securityGroupIds: string[], publicIp: string | null } | null,
 *   demo: { health: { failing: boolean, since: string }, cpu: { running: boolean, workers: number, secondsLeft: number } } | null }} InstanceInfo
 */

/**
 * @typedef {{ id: string, instruction: string, status: 'pass' | 'warn' | 'fail' | 'unknown', evidence: string,
 *   fix?: string, allow?: string }} AuditRow
 */
/** @typedef {{ status: string, time: string, durationMs: number, budgetMs: number, rows: AuditRow[] }} AuditReport */

const REFRESH_MS = 5000
// The server audits at most once a minute; asking more often would only get the same report.
const AUDIT_REFRESH_MS = 60_000
// The history table shows the newest few; the marks show all the server keeps.
const HISTORY_ROWS = 5

/** @type {Map<string, Status | 'checking' | 'none'>} */
const cardStatus = new Map()
let configBroken = false
/** @type {string | undefined} */
let lastInstance

/** @param {string} id */
function $ (id) {
  const node = document.getElementById(id)
  if (!node) throw new Error('the page has no #' + id)
  return node
}

/**
 * @param {Element} root
 * @param {string} selector
 */
function find (root, selector) {
  const node = root.querySelector(selector)
  if (!(node instanceof HTMLElement)) throw new Error('the page has no ' + selector)
  return node
}

/**
 * @param {Element} node
 * @param {unknown} value
 */
function text (node, value) { node.textContent = value == null ? '' : String(value) }

/**
 * @param {HTMLElement} node
 * @param {string} status
 */
function setStatus (node, status) { node.dataset.status = status }

/** @param {string | number | Date} time */
const clock = time => new Date(time).toLocaleTimeString()

/** @param {number} s */
function duration (s) {
  if (s < 60) return s + ' s'
  if (s < 3600) return Math.floor(s / 60) + ' min'
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min'
  return Math.floor(s / 86400) + ' d ' + Math.floor(s % 86400 / 3600) + ' h'
}

// The token rides in the fragment, which no browser sends to a server or writes to its log.
const token = new URLSearchParams(location.hash.slice(1)).get('token')
/** @type {Record<string, string>} */
const headers = token ? { accept: 'application/json', authorization: 'Bearer ' + token } : { accept: 'application/json' }

/** @param {string} path */
async function getJson (path) {
  const res = await fetch(path, { cache: 'no-store', headers })
  return res.json()
}

// What a card says: the message, and the hint. With an admin token set, the server tells
// anyone without it only pass or fail.
/**
 * @param {CheckEntry} check
 * @returns {[string, string]}
 */
function explain (check) {
  if (check.status === 'pass') return ['OK', '']
  if (!check.stage) return [check.status.toUpperCase(), 'the details need the admin token: open this page as /#token=<[server] admin_token>']
  const message = check.status === 'fail' ? 'FAIL (' + check.stage + '): ' + check.output : check.output ?? ''
  return [message, check.hint ? 'hint: ' + check.hint : '']
}

// "deployedFiles" → "deployed files".
/** @param {string} key */
const words = key => key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase()

// A fact as one line: a list joined, a map of yes/no as ✓ and ✗ (the files S3 found), a
// map of values as key=value.
/**
 * @param {unknown} value
 * @returns {string}
 */
function describe (value) {
  if (Array.isArray(value)) return value.join(', ')
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).map(([key, item]) =>
      typeof item === 'boolean' ? (item ? '✓ ' : '✗ ') + key + (item ? '' : ' (missing)') : key + '=' + describe(item)).join('  ')
  }
  return typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value)
}

/**
 * @param {HTMLElement} card
 * @param {Record<string, unknown>} details
 */
function showDetails (card, details) {
  find(card, '.details').replaceChildren(...Object.entries(details)
    .filter(([key, value]) => value != null && key !== 'problems')
    .map(([key, value]) => {
      const row = document.createElement('div')
      const term = document.createElement('dt')
      const data = document.createElement('dd')
      text(term, words(key))
      text(data, describe(value))
      row.append(term, data)
      return row
    }))
}

// The server's history: every result as a coloured mark, the newest few as rows of time,
// status (and stage, for the admin) and duration.
/**
 * @param {HTMLElement} card
 * @param {HistoryEntry[]} history
 */
function showHistory (card, history) {
  text(find(card, '.history-title'), history.length === 0
    ? 'no results kept yet'
    : history.length === 1 ? 'the last result:' : 'last ' + history.length + ' results, oldest first; the newest ' + Math.min(HISTORY_ROWS, history.length) + ':')
  find(card, '.marks').replaceChildren(...history.map(entry => {
    const mark = document.createElement('span')
    setStatus(mark, entry.status)
    mark.title = clock(entry.time) + ' ' + entry.status + ' ' + entry.durationMs + ' ms'
    return mark
  }))
  find(card, 'tbody').replaceChildren(...history.slice(-HISTORY_ROWS).reverse().map(entry => {
    const row = document.createElement('tr')
    const cells = [clock(entry.time), entry.status + (entry.stage && entry.status !== 'pass' ? ' (' + entry.stage + ')' : ''), entry.durationMs + ' ms']
    row.append(...cells.map(value => {
      const cell = document.createElement('td')
      text(cell, value)
      return cell
    }))
    setStatus(/** @type {HTMLElement} */ (row.children[1]), entry.status)
    return row
  }))
}

/**
 * @param {BackendInfo} backend
 * @param {CheckEntry} check
 */
function showCheck ({ name }, check) {
  const card = $(name)
  setStatus(card, check.status)
  text(find(card, '.pill'), check.status)
  text(find(card, '.latency'), check.observedValue + ' ms')
  const [message, hint] = explain(check)
  text(find(card, '.message'), message)
  text(find(card, '.hint'), hint)
  showDetails(card, check.details ?? {})
  showHistory(card, check.history ?? [])
  cardStatus.set(name, check.status)
  showOverall()
}

// The worst status of the cards that answered; "checking…" until each has.
function showOverall () {
  const statuses = [...cardStatus.values()]
  const overall = $('overall')
  if (configBroken) {
    setStatus(overall, 'fail')
    text(overall, 'config invalid')
  } else if (statuses.includes('checking')) {
    setStatus(overall, 'checking')
    text(overall, 'checking…')
  } else if (!statuses.some(status => status !== 'none')) {
    setStatus(overall, 'none')
    text(overall, 'nothing configured')
  } else {
    const worst = statuses.includes('fail') ? 'fail' : statuses.includes('warn') ? 'warn' : 'pass'
    setStatus(overall, worst)
    text(overall, 'overall: ' + worst)
  }
  text($('updated'), 'last answer ' + clock(Date.now()))
}

/** @param {BackendInfo} backend */
function addCard (backend) {
  const template = /** @type {HTMLTemplateElement} */ ($('card'))
  const card = /** @type {HTMLElement} */ (template.content.firstElementChild?.cloneNode(true))
  card.id = backend.name
  text(find(card, 'h2'), backend.title)
  text(find(card, '.kind'), backend.kind)
  $('cards').append(card)
  if (backend.state === 'not_configured') {
    setStatus(card, 'none')
    text(find(card, '.pill'), 'not configured')
    text(find(card, '.message'), 'no [' + backend.name + '] section in config.toml')
    text(find(card, '.hint'), 'add a [' + backend.name + '] section (or SUAI_' + backend.name.toUpperCase() + '_* variables) and restart to check it')
    find(card, '.history').hidden = true
    cardStatus.set(backend.name, 'none')
    return
  }
  cardStatus.set(backend.name, 'checking')
  text(find(card, '.message'), 'waiting for its check to answer…')
  refreshCard(backend)
}

// Each card on its own loop: a slow check delays only its card.
/** @param {BackendInfo} backend */
function refreshCard (backend) {
  getJson('/checks?history=1&backend=' + encodeURIComponent(backend.name)).then(report => {
    const [check] = report.checks?.[backend.name + ':responseTime'] ?? []
    if (check) showCheck(backend, check)
  }).catch(noAnswer).finally(() => setTimeout(refreshCard, REFRESH_MS, backend))
}

/** @param {Error} err */
function noAnswer (err) {
  setStatus($('overall'), 'fail')
  text($('overall'), 'no answer')
  text($('updated'), 'the server did not answer (' + err.message + '); retrying')
}

/** @param {InstanceInfo} info */
function showInstance (info) {
  text($('about'), 'v' + info.version + ' · up ' + duration(info.uptime))
  configBroken = info.configProblems.length > 0
  $('problems').hidden = !configBroken
  text($('problems'), 'config.toml has problems; a backend section with problems is not checked until they are fixed (see /health):\n' + info.configProblems.join('\n'))
  const instance = info.instance
  $('identity').hidden = !instance
  text($('note'), instance ? '' : info.note)
  if (instance) {
    for (const key of ['instanceId', 'availabilityZone', 'instanceType', 'privateIp', 'amiId', 'region']) text($(key), instance[key] || '-')
    // Behind a load balancer another instance may answer each refresh: make that visible.
    if (lastInstance && lastInstance !== instance.instanceId) {
      $('instance').classList.remove('flash')
      requestAnimationFrame(() => $('instance').classList.add('flash'))
    }
    lastInstance = instance.instanceId
  }
  // Where it sits in its VPC: what a failed check's pinpointing starts from (admin only).
  const network = info.network
  $('network').hidden = !network
  if (network) {
    text($('vpcId'), network.vpcId)
    text($('subnet'), network.subnetId + (network.subnetCidr ? ' (' + network.subnetCidr + ')' : ''))
    text($('securityGroups'), network.securityGroupIds.join(', '))
    text($('publicIp'), network.publicIp || 'none')
  }
  const demo = info.demo
  $('demo').hidden = !demo
  if (demo) {
    setStatus($('demo'), demo.health.failing ? 'fail' : demo.cpu.running ? 'warn' : 'none')
    text($('demo-health'), demo.health.failing ? 'failing on purpose since ' + clock(demo.health.since) + ' (POST /demo/health/recover)' : 'normal')
    text($('demo-cpu'), demo.cpu.running ? 'burning ' + demo.cpu.workers + ' cores, ' + demo.cpu.secondsLeft + ' s left (DELETE /demo/cpu)' : 'idle')
  }
  showOverall()
}

/**
 * @param {string} tag
 * @param {unknown} [value]
 */
function element (tag, value) {
  const node = document.createElement(tag)
  text(node, value)
  return node
}

// The fleet as GET /fleet sees it: the verdict first, then every instance by availability
// zone with each backend's status, and where the view came from.
/** @param {FleetView} fleet */
function showFleet (fleet) {
  const { source } = fleet
  text($('fleet-source'), source.stores.length > 0
    ? 'from the heartbeats in ' + source.stores.join(' and ') + ', read at ' + clock(source.at) + (source.problems.length > 0 ? ' (' + source.problems.join('; ') + ')' : '')
    : source.note)
  $('fleet-verdict').replaceChildren(...fleet.verdict.summary.map(line => element('li', line)))
  const backends = [...new Set(fleet.zones.flatMap(zone => zone.instances.flatMap(instance => Object.keys(instance.backends))))]
  $('fleet-zones').replaceChildren(...fleet.zones.map(({ zone, instances }) => {
    const box = document.createElement('div')
    box.className = 'zone'
    box.dataset.zone = zone ?? ''
    const head = document.createElement('tr')
    head.append(...['instance', ...backends].map(name => element('th', name)))
    const rows = instances.map(instance => {
      const row = document.createElement('tr')
      const late = instance.ageMs > 2 * fleet.intervalMs
      row.append(element('td', instance.id + (instance.self ? ' (this one)' : '') + (late ? ' (silent ' + Math.round(instance.ageMs / 1000) + ' s)' : '')))
      for (const name of backends) {
        const result = instance.backends[name]
        const cell = element('td', result ? result.status + (result.status === 'fail' ? ' (' + result.stage + ')' : '') : '-')
        if (result) setStatus(cell, result.status)
        row.append(cell)
      }
      return row
    })
    const table = document.createElement('table')
    table.append(head, ...rows)
    box.append(element('h3', (zone ?? 'outside EC2') + ': ' + instances.length + (instances.length === 1 ? ' instance' : ' instances')), table)
    return box
  }))
  $('fleet').hidden = false
}

// Behind the admin token when one is set: without it the section says how to see it.
function refreshFleet () {
  fetch('/fleet', { cache: 'no-store', headers }).then(async res => {
    if (res.status === 401) {
      text($('fleet-source'), 'the fleet needs the admin token: open this page as /#token=<[server] admin_token>')
      $('fleet-verdict').replaceChildren()
      $('fleet-zones').replaceChildren()
      $('fleet').hidden = false
      return
    }
    showFleet(await res.json())
  }).catch(noAnswer)
}

// The audit: one row per instruction of the course, with what AWS said and the change to make.
/** @param {AuditReport} report */
function showAudit (report) {
  text($('audit-source'), 'read at ' + clock(report.time) + ' in ' + report.durationMs + ' ms (budget ' + report.budgetMs / 1000 + ' s); refreshed every minute')
  $('audit-rows').replaceChildren(...report.rows.map(row => {
    const box = document.createElement('div')
    box.className = 'audit-row'
    box.dataset.id = row.id
    setStatus(box, row.status)
    const verdict = element('p')
    verdict.className = 'verdict'
    verdict.append(element('span', row.status), row.instruction)
    const evidence = element('p', row.evidence)
    evidence.className = 'evidence'
    box.append(verdict, evidence)
    if (row.fix) {
      const fix = element('p', 'fix: ' + row.fix)
      fix.className = 'fix'
      box.append(fix)
    }
    return box
  }))
  $('audit').hidden = false
}

// Behind the admin token when one is set, as the fleet.
function refreshAudit () {
  fetch('/audit', { cache: 'no-store', headers }).then(async res => {
    if (res.status === 401) {
      text($('audit-source'), 'the audit needs the admin token: open this page as /#token=<[server] admin_token>')
      $('audit-rows').replaceChildren()
      $('audit').hidden = false
      return
    }
    showAudit(await res.json())
  }).catch(noAnswer).finally(() => setTimeout(refreshAudit, AUDIT_REFRESH_MS))
}

function refreshInstance () {
  getJson('/instance').then(showInstance).catch(noAnswer).finally(() => setTimeout(refreshInstance, REFRESH_MS))
  refreshFleet()
}

// The cards come from the server's list of backends; until it answers the page has none.
function start () {
  getJson('/instance').then(/** @param {InstanceInfo} info */ info => {
    for (const backend of info.backends) addCard(backend)
    showInstance(info)
    refreshFleet()
    refreshAudit()
    setTimeout(refreshInstance, REFRESH_MS)
  }).catch(err => {
    noAnswer(err)
    setTimeout(start, REFRESH_MS)
  })
}

start()
